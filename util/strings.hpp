#pragma once
// Small string helpers, each written once (docs/development.md "Declared once").
#include <string>
#include <string_view>
#include <vector>

namespace kakuren::util {

/// s without the leading and trailing characters of chars (default: space, tab, CR).
std::string trim(std::string_view s, std::string_view chars = " \t\r");

/// parts with separator between each two: join({"a", "", "b"}, ",") = "a,,b".
std::string join(const std::vector<std::string>& parts, std::string_view separator);

/// text cut at every sep, empty parts kept: split("a,,b", ',') = {"a", "", "b"},
/// split("", ',') = {""}.
std::vector<std::string> split(std::string_view text, char sep);

/// split() without the empty parts: split_nonempty(",a,,b,", ',') = {"a", "b"}.
std::vector<std::string> split_nonempty(std::string_view text, char sep);

/// s with ASCII letters in lower case (other bytes as they are).
std::string lower(std::string s);

} // namespace kakuren::util

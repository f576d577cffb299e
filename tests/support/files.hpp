#pragma once
// Whole files in and out, for tests.
#include <filesystem>
#include <string>

namespace kakuren::testing {

/// The bytes of a file; "" when it does not exist or cannot be read.
std::string slurp(const std::filesystem::path& file);

/// Replaces the file with text (creating its folder); throws std::runtime_error when it cannot.
void write_file(const std::filesystem::path& file, const std::string& text);

} // namespace kakuren::testing

#pragma once
// A small JSON value for writing records and --format json output (no parsing).
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace kakuren::util {

class Json;
/// Ordered object: keys keep insertion order.
using JsonObject = std::vector<std::pair<std::string, Json>>;
using JsonArray = std::vector<Json>;

class Json {
  public:
    Json() = default; // null
    static Json null() { return Json(); }
    Json(std::nullptr_t) {}
    Json(bool b) : m_v(b) {}
    Json(int i) : m_v(static_cast<std::int64_t>(i)) {}
    Json(long i) : m_v(static_cast<std::int64_t>(i)) {}
    Json(long long i) : m_v(static_cast<std::int64_t>(i)) {}
    Json(unsigned i) : m_v(static_cast<std::int64_t>(i)) {}
    Json(unsigned long i) : m_v(static_cast<std::int64_t>(i)) {}
    Json(double d) : m_v(d) {}
    Json(const char* s) : m_v(std::string(s)) {}
    Json(std::string s) : m_v(std::move(s)) {}
    Json(std::string_view s) : m_v(std::string(s)) {}
    Json(JsonArray a) : m_v(std::move(a)) {}
    Json(JsonObject o) : m_v(std::move(o)) {}
    /// A measured value for --format json output (losses, metrics): the number, or the string
    /// "nan", "inf" or "-inf" when it is not finite, so that a diverged run never reads as a
    /// number (nor as null, which means "not measured").
    static Json measured(double d);

    /// Compact JSON text. Non-finite doubles are written as null (JSON has no NaN/Inf).
    std::string dump() const;
    /// Indented JSON text (2 spaces).
    std::string dump_pretty() const;
    /// One line with Python's default separators ", " and ": " (the `:::MLLOG` style).
    std::string dump_spaced() const;

  private:
    /// indent < 0: compact; 0: one line, spaced separators; > 0: that many spaces per level.
    void write(std::string& out, int indent, int depth) const;
    std::variant<std::monostate, bool, std::int64_t, double, std::string, JsonArray, JsonObject>
        m_v;
};

/// JSON string literal with escapes, including the quotes.
std::string json_quote(std::string_view s);

} // namespace kakuren::util

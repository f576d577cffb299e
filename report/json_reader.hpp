#pragma once
// A small JSON reader: enough to read `:::MLLOG` records and kakuren's own --format json output
// back (util/json.hpp only writes). Values keep object key order.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "util/error.hpp"

namespace kakuren::report {

/// Malformed JSON text; what() names the byte offset and what was expected.
class JsonParseError : public Error {
  public:
    using Error::Error;
};

class JsonValue {
  public:
    using Array = std::vector<JsonValue>;
    using Object = std::vector<std::pair<std::string, JsonValue>>;
    enum class Type { null, boolean, number, string, array, object };

    JsonValue() = default;
    explicit JsonValue(bool b) : m_v(b) {}
    /// A number; integral is true when the text had no fraction or exponent.
    JsonValue(double d, bool integral, std::int64_t i) : m_v(Number{d, integral, i}) {}
    explicit JsonValue(std::string s) : m_v(std::move(s)) {}
    explicit JsonValue(Array a) : m_v(std::move(a)) {}
    explicit JsonValue(Object o) : m_v(std::move(o)) {}

    Type type() const { return static_cast<Type>(m_v.index()); }
    bool is_null() const { return type() == Type::null; }
    bool is_bool() const { return type() == Type::boolean; }
    bool is_number() const { return type() == Type::number; }
    /// A number written without fraction or exponent (e.g. 42, not 42.0).
    bool is_integer() const { return is_number() && std::get<Number>(m_v).integral; }
    bool is_string() const { return type() == Type::string; }
    bool is_array() const { return type() == Type::array; }
    bool is_object() const { return type() == Type::object; }

    // Accessors: return the fallback when the value has another type.
    bool as_bool(bool fallback = false) const;
    double as_double(double fallback = 0.0) const;
    std::int64_t as_int(std::int64_t fallback = 0) const;
    const std::string& as_string() const; ///< empty string unless a string
    const Array& as_array() const;        ///< empty unless an array
    const Object& as_object() const;      ///< empty unless an object

    /// Member of an object; nullptr if absent or not an object.
    const JsonValue* find(std::string_view key) const;
    /// Member of an object; a null value if absent.
    const JsonValue& operator[](std::string_view key) const;
    /// Element of an array; a null value if out of range.
    const JsonValue& operator[](std::size_t index) const;
    std::size_t size() const; ///< elements of an array or members of an object, else 0

  private:
    struct Number {
        double d = 0;
        bool integral = false;
        std::int64_t i = 0;
    };
    std::variant<std::monostate, bool, Number, std::string, Array, Object> m_v;
};

/// Parses one JSON text (surrounding whitespace allowed). Throws JsonParseError.
JsonValue parse_json(std::string_view text);

} // namespace kakuren::report

#pragma once
// Private to recipes/: the one table of recipe fields. Parsing, type and range checks, unknown-key
// suggestions, show(), to_toml(), known_keys() and reference_markdown() all derive from it.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "recipes/recipe.hpp"

namespace kakuren::recipes::detail {

using IntList = std::vector<std::int64_t>;
using FloatList = std::vector<double>;
using StringList = std::vector<std::string>;

/// A field's value on its way between TOML and the structs; monostate = an unset optional.
using Value = std::variant<std::monostate, std::int64_t, double, bool, std::string, IntList,
                           FloatList, StringList>;

enum class Kind {
    integer,
    floating,
    boolean,
    string,
    enumeration,
    int_list,
    float_list,
    string_list,
    optional_float,
    key_or_index ///< a string or an integer >= 0 (model.output: a dict key or a tuple index)
};

/// A numeric interval; an absent bound is unbounded on that side.
struct Range {
    std::optional<double> lo, hi;
    bool lo_inclusive = true, hi_inclusive = true;

    bool contains(double x) const;
    /// "0 <= fraction < 1", "epochs >= 1"; name is the field name (or "each element").
    std::string text(std::string_view name) const;
};

Range at_least(double lo);
Range above(double lo);
Range interval(double lo, bool lo_inclusive, double hi, bool hi_inclusive);

struct Field {
    std::string section;
    std::string name;
    Kind kind = Kind::string;
    std::string description;
    std::vector<std::string> allowed;       ///< enumeration: the allowed strings
    std::vector<std::int64_t> allowed_ints; ///< integer: the allowed values (empty = any in range)
    std::optional<Range> range;             ///< numbers: the value; lists: each element
    std::size_t min_size = 0;               ///< lists: elements; strings: characters
    std::optional<std::size_t> max_size;    ///< strings: characters (bytes)
    std::optional<std::size_t> exact_size;  ///< lists
    std::string cross_note;                 ///< a rule involving other fields, for the docs
    std::int64_t int_min = 0, int_max = 0;  ///< what the member's integer type holds
    std::function<Value(const Recipe&)> get;
    std::function<void(Recipe&, const Value&)> set;

    std::string key() const { return section + "." + name; }

    Field& in(Range r) {
        range = r;
        return *this;
    }
    Field& one_of(std::vector<std::string> values) {
        kind = Kind::enumeration;
        allowed = std::move(values);
        return *this;
    }
    Field& one_of_ints(std::vector<std::int64_t> values) {
        allowed_ints = std::move(values);
        return *this;
    }
    Field& non_empty() {
        min_size = 1;
        return *this;
    }
    Field& at_most_chars(std::size_t n) {
        max_size = n;
        return *this;
    }
    Field& size(std::size_t n) {
        exact_size = n;
        return *this;
    }
    Field& note(std::string text) {
        cross_note = std::move(text);
        return *this;
    }
};

/// Every field, in schema order (sections in the order of Recipe, keys in struct order).
const std::vector<Field>& schema();
/// model.output (recipes/model_output.cpp): a key_or_index field.
Field model_output_field();
/// The field for a dotted key, or nullptr.
const Field* find_field(std::string_view key);
/// Section names in schema order.
const std::vector<std::string>& section_names();

/// "integer", "float", "boolean", "string", "list of integers", ...
std::string type_name(const Field& field);
/// What the field accepts beyond its type, as in "expected ...": "0 <= fraction < 1",
/// "one of mlp, cnn, resnet18", "2 elements, each element >= 1"; empty when anything goes.
std::string constraint_text(const Field& field);

/// TOML syntax for a value ("unset" for an unset optional).
std::string render(const Value& value);
/// Shortest text that reads back as the same double and as a TOML float ("2.0", "5e-4").
std::string render_float(double x);
/// A TOML basic string, quoted and escaped.
std::string quote(std::string_view text);

/// Optimal-string-alignment edit distance (a transposition costs 1).
std::size_t edit_distance(std::string_view a, std::string_view b);
/// The candidate closest to name, if it is close enough to be a likely typo.
std::optional<std::string> nearest(std::string_view name,
                                   const std::vector<std::string>& candidates);

} // namespace kakuren::recipes::detail

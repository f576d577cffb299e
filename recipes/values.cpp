#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "recipes/loader.hpp"
#include "recipes/schema.hpp"

namespace kakuren::recipes::loading {

std::optional<Value> Loader::convert(const Field& f, const toml::node& node, const Location& where,
                                     bool in_file) {
    const std::string key = f.key();
    auto type_error = [&](const Location& at_node, const std::string& subject,
                          const std::string& expected, const toml::node& got) {
        error(at_node, subject + " must be " + expected + ", got " + describe(got));
    };
    switch (f.kind) {
    case Kind::integer:
        if (const auto* i = node.as_integer()) {
            return Value{i->get()};
        }
        type_error(where, key, "an integer", node);
        return std::nullopt;
    case Kind::floating:
    case Kind::optional_float:
        if (const auto* i = node.as_integer()) {
            return Value{static_cast<double>(i->get())};
        }
        if (const auto* d = node.as_floating_point()) {
            if (!std::isfinite(d->get())) {
                error(where, key + " = " + detail::render_float(d->get()) +
                                 " is out of range; expected a finite number");
                return std::nullopt;
            }
            return Value{d->get()};
        }
        type_error(where, key, "a number", node);
        return std::nullopt;
    case Kind::boolean:
        if (const auto* b = node.as_boolean()) {
            return Value{b->get()};
        }
        type_error(where, key, "true or false", node);
        return std::nullopt;
    case Kind::string:
    case Kind::enumeration:
        if (const auto* s = node.as_string()) {
            return Value{s->get()};
        }
        type_error(where, key, "a string", node);
        return std::nullopt;
    case Kind::string_list:
        return string_list(f, node, where, in_file);
    case Kind::key_or_index:
        if (const auto* s = node.as_string()) {
            return Value{s->get()};
        }
        if (const auto* i = node.as_integer()) {
            return Value{i->get()};
        }
        type_error(where, key, "a string (a dict key) or an integer (a tuple index)", node);
        return std::nullopt;
    case Kind::int_list:
    case Kind::float_list:
        break;
    }
    return convert_list(f, node, where, in_file);
}

std::optional<Value> Loader::convert_list(const Field& f, const toml::node& node,
                                          const Location& where, bool in_file) {
    const std::string key = f.key();
    auto type_error = [&](const Location& at_node, const std::string& subject,
                          const std::string& expected, const toml::node& got) {
        error(at_node, subject + " must be " + expected + ", got " + describe(got));
    };
    const bool ints = f.kind == Kind::int_list;
    const auto* array = node.as_array();
    if (array == nullptr) {
        type_error(where, key, ints ? "a list of integers" : "a list of numbers", node);
        return std::nullopt;
    }
    detail::IntList int_values;
    detail::FloatList float_values;
    bool good = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        const Location element_where = in_file ? at(element.source()) : where;
        const std::string subject = key + "[" + std::to_string(i) + "]";
        if (const auto* n = element.as_integer()) {
            int_values.push_back(n->get());
            float_values.push_back(static_cast<double>(n->get()));
        } else if (const auto* d = element.as_floating_point(); d != nullptr && !ints) {
            if (!std::isfinite(d->get())) {
                error(element_where, subject + " = " + detail::render_float(d->get()) +
                                         " is out of range; expected a finite number");
                good = false;
            }
            float_values.push_back(d->get());
        } else {
            type_error(element_where, subject, ints ? "an integer" : "a number", element);
            good = false;
        }
    }
    if (!good) {
        return std::nullopt;
    }
    return ints ? Value{int_values} : Value{float_values};
}

/// A list of strings (slurm.setup), each element a string.
std::optional<Value> Loader::string_list(const Field& f, const toml::node& node,
                                         const Location& where, bool in_file) {
    const auto* array = node.as_array();
    if (array == nullptr) {
        error(where, f.key() + " must be a list of strings, got " + describe(node));
        return std::nullopt;
    }
    detail::StringList values;
    bool good = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        if (const auto* s = element.as_string()) {
            values.push_back(s->get());
        } else {
            error(in_file ? at(element.source()) : where, f.key() + "[" + std::to_string(i) +
                                                              "] must be a string, got " +
                                                              describe(element));
            good = false;
        }
    }
    return good ? std::optional<Value>(Value{values}) : std::nullopt;
}

bool Loader::report_out_of_range(const Location& where, const std::string& head,
                                 const std::string& expected) {
    error(where, head + " is out of range; expected " + expected);
    return false;
}

bool Loader::check_int_fits(const Field& f, std::int64_t x, std::string_view name,
                            const Location& where, const std::string& head) {
    if (x > f.int_max) {
        return report_out_of_range(where, head,
                                   std::string(name) + " <= " + std::to_string(f.int_max));
    }
    if (x < f.int_min) {
        return report_out_of_range(where, head,
                                   std::string(name) + " >= " + std::to_string(f.int_min));
    }
    return true;
}

bool Loader::validate_int(const Field& f, std::int64_t x, const Location& where,
                          const std::string& head) {
    if (!f.allowed_ints.empty() &&
        std::find(f.allowed_ints.begin(), f.allowed_ints.end(), x) == f.allowed_ints.end()) {
        error(where, head + " is not allowed; expected " + detail::constraint_text(f));
        return false;
    }
    if (f.range && !f.range->contains(static_cast<double>(x))) {
        return report_out_of_range(where, head, f.range->text(f.name));
    }
    return check_int_fits(f, x, f.name, where, head);
}

bool Loader::validate_string(const Field& f, const std::string& s, const Location& where,
                             const std::string& head) {
    if (f.min_size > 0 && s.empty()) {
        error(where, head + " is empty; expected a non-empty string");
        return false;
    }
    if (f.max_size && s.size() > *f.max_size) {
        error(where, f.key() + " has " + std::to_string(s.size()) +
                         " characters; expected at most " + std::to_string(*f.max_size));
        return false;
    }
    return true;
}

bool Loader::validate(const Field& f, const Value& value, const Location& where) {
    const std::string head = f.key() + " = " + detail::render(value);
    switch (f.kind) {
    case Kind::integer:
        return validate_int(f, std::get<std::int64_t>(value), where, head);
    case Kind::floating:
    case Kind::optional_float:
        if (f.range && !f.range->contains(std::get<double>(value))) {
            return report_out_of_range(where, head, f.range->text(f.name));
        }
        return true;
    case Kind::boolean:
        return true;
    case Kind::enumeration: {
        const auto& s = std::get<std::string>(value);
        if (std::find(f.allowed.begin(), f.allowed.end(), s) == f.allowed.end()) {
            error(where, head + " is not allowed; expected " + detail::constraint_text(f));
            return false;
        }
        return true;
    }
    case Kind::string:
        return validate_string(f, std::get<std::string>(value), where, head);
    case Kind::string_list:
        return true; // what each element may hold is the field's own rule (check_slurm)
    case Kind::key_or_index:
        if (const auto* i = std::get_if<std::int64_t>(&value); i != nullptr && *i < 0) {
            return report_out_of_range(where, head, f.range->text(f.name));
        }
        if (const auto* s = std::get_if<std::string>(&value); s != nullptr && s->empty()) {
            error(where, head + " is empty; expected a dict key or an index >= 0");
            return false;
        }
        return true;
    case Kind::int_list:
    case Kind::float_list:
        break;
    }
    return validate_list(f, value, where);
}

bool Loader::validate_list(const Field& f, const Value& value, const Location& where) {
    const std::string head = f.key() + " = " + detail::render(value);
    auto out_of_range = [&](const std::string& expected) {
        return report_out_of_range(where, head, expected);
    };
    auto int_fits = [&](std::int64_t x, std::string_view name) {
        return check_int_fits(f, x, name, where, head);
    };
    std::vector<double> elements;
    if (const auto* ints = std::get_if<detail::IntList>(&value)) {
        elements.assign(ints->begin(), ints->end());
    } else {
        elements = std::get<detail::FloatList>(value);
    }
    const std::size_t n = elements.size();
    if (f.exact_size && n != *f.exact_size) {
        error(where, head + " has " + std::to_string(n) + (n == 1 ? " element" : " elements") +
                         "; expected " + std::to_string(*f.exact_size));
        return false;
    }
    if (n < f.min_size) {
        error(where, head + " has " + std::to_string(n) + (n == 1 ? " element" : " elements") +
                         "; expected at least " + std::to_string(f.min_size));
        return false;
    }
    for (double x : elements) {
        if (f.range && !f.range->contains(x)) {
            return out_of_range(f.range->text("each element"));
        }
    }
    if (const auto* ints = std::get_if<detail::IntList>(&value)) {
        for (auto x : *ints) {
            if (!int_fits(x, "each element")) {
                return false;
            }
        }
    }
    return true;
}

} // namespace kakuren::recipes::loading

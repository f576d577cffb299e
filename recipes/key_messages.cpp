#include <toml++/toml.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "recipes/loader.hpp"
#include "recipes/schema.hpp"
#include "util/strings.hpp"

namespace kakuren::recipes::loading {

using util::join;

namespace {

/// A node as TOML text on one line, for messages.
std::string inline_text(const toml::node& node) {
    if (const auto* s = node.as_string()) {
        return detail::quote(s->get());
    }
    if (const auto* i = node.as_integer()) {
        return std::to_string(i->get());
    }
    if (const auto* d = node.as_floating_point()) {
        return detail::render_float(d->get());
    }
    if (const auto* b = node.as_boolean()) {
        return b->get() ? "true" : "false";
    }
    if (const auto* a = node.as_array()) {
        std::vector<std::string> parts;
        for (const auto& element : *a) {
            parts.push_back(inline_text(element));
        }
        return "[" + join(parts, ", ") + "]";
    }
    if (node.is_table()) {
        return "{...}";
    }
    std::ostringstream out;
    node.visit([&out](const auto& n) { out << n; });
    return out.str();
}

} // namespace

/// Spaces and tabs only: a CR stays.
std::string trim(std::string_view s) {
    return util::trim(s, " \t");
}

/// "string \"ten\"", "float 2.0", "table": what a user wrote, for type errors.
std::string describe(const toml::node& node) {
    switch (node.type()) {
    case toml::node_type::string:
        return "string " + inline_text(node);
    case toml::node_type::integer:
        return "integer " + inline_text(node);
    case toml::node_type::floating_point:
        return "float " + inline_text(node);
    case toml::node_type::boolean:
        return "boolean " + inline_text(node);
    case toml::node_type::array:
        return "array " + inline_text(node);
    case toml::node_type::table:
        return "table";
    case toml::node_type::date:
        return "date " + inline_text(node);
    case toml::node_type::time:
        return "time " + inline_text(node);
    case toml::node_type::date_time:
        return "date-time " + inline_text(node);
    case toml::node_type::none:
        break;
    }
    return "nothing";
}

namespace {

std::vector<std::string> names_in(std::string_view section) {
    std::vector<std::string> out;
    for (const auto& f : detail::schema()) {
        if (f.section == section) {
            out.push_back(f.name);
        }
    }
    return out;
}

} // namespace

bool is_section(std::string_view name) {
    const auto& sections = detail::section_names();
    return std::find(sections.begin(), sections.end(), name) != sections.end();
}

/// "unknown key hiding.fractoin; did you mean hiding.fraction?" for a key in a known section.
std::string unknown_key_in_section(const std::string& section, const std::string& name) {
    const std::string key = section + "." + name;
    // The exact name in another section ("[model] lr") beats a look-alike in this one.
    std::vector<std::string> elsewhere;
    for (const auto& f : detail::schema()) {
        if (f.name == name) {
            elsewhere.push_back(f.key());
        }
    }
    if (elsewhere.size() == 1) {
        return "unknown key " + key + "; did you mean " + elsewhere.front() + "?";
    }
    const auto names = names_in(section);
    if (auto near = detail::nearest(name, names)) {
        return "unknown key " + key + "; did you mean " + section + "." + *near + "?";
    }
    return "unknown key " + key + "; known keys in [" + section + "]: " + join(names, ", ");
}

/// The message for a dotted key outside any known section (a top-level key, a --set typo).
std::string unknown_key(const std::string& key) {
    if (const auto dot = key.find('.'); dot != std::string::npos) {
        const std::string section = key.substr(0, dot), name = key.substr(dot + 1);
        if (is_section(section) && name.find('.') == std::string::npos) {
            return unknown_key_in_section(section, name);
        }
    }
    std::vector<std::string> keys;
    for (const auto& f : detail::schema()) {
        keys.push_back(f.key());
    }
    if (auto near = detail::nearest(key, keys)) {
        return "unknown key " + key + "; did you mean " + *near + "?";
    }
    const std::string last =
        key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
    std::vector<std::string> same_name;
    for (const auto& f : detail::schema()) {
        if (f.name == last) {
            same_name.push_back(f.key());
        }
    }
    if (same_name.size() == 1) {
        return "unknown key " + key + "; did you mean " + same_name.front() + "?";
    }
    return "unknown key " + key + "; keys belong to the sections " +
           join(detail::section_names(), ", ");
}

std::string unknown_section(const std::string& section) {
    if (auto near = detail::nearest(section, detail::section_names())) {
        return "unknown section [" + section + "]; did you mean [" + *near + "]?";
    }
    return "unknown section [" + section +
           "]; known sections: " + join(detail::section_names(), ", ");
}

} // namespace kakuren::recipes::loading

#include <string>
#include <variant>
#include <vector>

#include "recipes/recipe.hpp"
#include "recipes/schema.hpp"

namespace kakuren::recipes {

using detail::Value;

namespace {

std::string cell(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '|') {
            out += '\\';
        }
        out += c;
    }
    return out;
}

} // namespace

std::string show(const Recipe& recipe) {
    std::string out;
    for (const auto& f : detail::schema()) {
        const auto it = recipe.origins.find(f.key());
        out += f.key() + " = " + detail::render(f.get(recipe)) + "  # " +
               (it == recipe.origins.end() ? "default" : it->second) + "\n";
    }
    return out;
}

std::string to_toml(const Recipe& recipe) {
    std::string out;
    std::string section;
    for (const auto& f : detail::schema()) {
        if (f.section != section) {
            out += (section.empty() ? "[" : "\n[") + f.section + "]\n";
            section = f.section;
        }
        const Value value = f.get(recipe);
        if (std::holds_alternative<std::monostate>(value)) {
            out += "# " + f.name + " is unset\n";
        } else {
            out += f.name + " = " + detail::render(value) + "\n";
        }
    }
    return out;
}

std::vector<std::string> known_keys() {
    std::vector<std::string> keys;
    for (const auto& f : detail::schema()) {
        keys.push_back(f.key());
    }
    return keys;
}

std::string reference_markdown() {
    const Recipe defaults;
    std::string out = "| key | type | default | allowed | description |\n"
                      "|---|---|---|---|---|\n";
    for (const auto& f : detail::schema()) {
        const Value value = f.get(defaults);
        const std::string shown = std::holds_alternative<std::monostate>(value)
                                      ? "unset"
                                      : "`" + detail::render(value) + "`";
        std::string allowed = detail::constraint_text(f);
        if (!f.cross_note.empty()) {
            allowed += (allowed.empty() ? "" : "; ") + f.cross_note;
        }
        out += "| `" + f.key() + "` | " + detail::type_name(f) + " | " + cell(shown) + " | " +
               cell(allowed) + " | " + cell(f.description) + " |\n";
    }
    return out;
}

} // namespace kakuren::recipes

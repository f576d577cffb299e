#include "recipes/recipe.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "recipes/loader.hpp"
#include "recipes/run_length.hpp"
#include "recipes/schema.hpp"
#include "util/strings.hpp"
#include "util/system.hpp"

namespace kakuren::recipes {

namespace fs = std::filesystem;
using util::join;

namespace loading {

Loader::Loader(const fs::path& file, const std::string& text)
    : m_file(file.string()), m_dir(file.parent_path()) {
    m_recipe.file = file;
    m_recipe.text = text;
    for (const auto& f : detail::schema()) {
        m_recipe.origins[f.key()] = "default";
    }
}

Recipe Loader::run(const std::vector<std::string>& overrides) {
    toml::table root;
    try {
        root = toml::parse(std::string_view{m_recipe.text}, std::string_view{m_file});
    } catch (const toml::parse_error& e) {
        // A syntax error leaves nothing reliable to check: report it alone.
        const auto& begin = e.source().begin;
        throw RecipeError({m_file + ":" + std::to_string(begin.line) + ":" +
                           std::to_string(begin.column) +
                           ": error: " + std::string(e.description())});
    }
    walk(root);
    for (std::size_t i = 0; i < overrides.size(); ++i) {
        apply_override(overrides[i], i);
    }
    if (ok({"schedule.epochs", "schedule.kind", "schedule.decay_factors"})) {
        fit_defaults_to_run_length(m_recipe);
    }
    check_rules();
    check_data_files();
    check_split_files();
    check_model_file();
    if (!m_problems.empty()) {
        std::stable_sort(
            m_problems.begin(), m_problems.end(), [](const Problem& a, const Problem& b) {
                return std::tie(a.where.group, a.where.line, a.where.column, a.where.order) <
                       std::tie(b.where.group, b.where.line, b.where.column, b.where.order);
            });
        std::vector<std::string> messages;
        messages.reserve(m_problems.size());
        for (const auto& p : m_problems) {
            messages.push_back(p.where.prefix + ": error: " + p.message);
        }
        throw RecipeError(std::move(messages));
    }
    return std::move(m_recipe);
}

void Loader::walk(const toml::table& root) {
    for (auto&& [k, node] : root) {
        const std::string section(k.str());
        if (!is_section(section)) {
            if (const auto* table = node.as_table()) {
                // At the "[section]" header when there is one.
                const auto& region = table->source().begin.line > 0 ? table->source() : k.source();
                error(at(region), unknown_section(section));
            } else {
                error(at(k.source()), unknown_key(section));
            }
            continue;
        }
        const auto* table = node.as_table();
        if (table == nullptr) {
            std::string message = section;
            message += " must be a table ([";
            message += section;
            message += "]), got ";
            message += describe(node);
            error(at(node.source()), message);
            continue;
        }
        if (section == "data") {
            m_data_table = table->source().begin.line > 0 ? at(table->source()) : at(k.source());
        }
        const std::string key_prefix = section + ".";
        for (auto&& [k2, value_node] : *table) {
            const std::string name(k2.str());
            const Field* f = detail::find_field(key_prefix + name);
            if (f == nullptr) {
                error(at(k2.source()), unknown_key_in_section(section, name));
                continue;
            }
            const Location where = at(value_node.source());
            take(*f, value_node, where, true, where.prefix, m_dir);
        }
    }
}

void Loader::apply_override(const std::string& text, std::size_t index) {
    const Location where{1, 0, 0, index, "--set " + text};
    const auto eq = text.find('=');
    const std::string key = trim(std::string_view(text).substr(0, eq));
    if (eq == std::string::npos || key.empty()) {
        error(where, "expected section.key=value");
        return;
    }
    const Field* f = detail::find_field(key);
    if (f == nullptr) {
        error(where, unknown_key(key));
        return;
    }
    const std::string raw = text.substr(eq + 1);
    std::optional<toml::table> doc;
    try {
        auto parsed = toml::parse("x = " + raw);
        if (parsed.size() == 1 && parsed.contains("x")) {
            doc = std::move(parsed);
        }
    } catch (const toml::parse_error&) {
        // Not a TOML value: the text itself is the value (a name, a path, a bare word).
    }
    const toml::value<std::string> as_text(trim(raw));
    const toml::node* node = doc ? doc->get("x") : nullptr;
    const bool wants_string = f->kind == Kind::string || f->kind == Kind::enumeration;
    if (node == nullptr || (wants_string && !node->is_string())) {
        node = &as_text;
    }
    // Relative paths on the command line are relative to where the command runs.
    take(*f, *node, where, false, "--set", fs::path{});
}

/// Converts, checks and stores one value; records the problem instead when it is bad.
void Loader::take(const Field& f, const toml::node& node, const Location& where, bool in_file,
                  const std::string& origin, const fs::path& base) {
    const std::string key = f.key();
    auto value = convert(f, node, where, in_file);
    if (!value || !validate(f, *value, where)) {
        m_bad.insert(key);
        return;
    }
    f.set(m_recipe, *value);
    m_recipe.origins[key] = origin;
    m_where[key] = where;
    m_base[key] = base;
    m_bad.erase(key);
}

} // namespace loading

RecipeError::RecipeError(std::vector<std::string> messages)
    : UsageError(join(messages, "\n")), m_messages(std::move(messages)) {}

Recipe load(const fs::path& file, const std::vector<std::string>& overrides) {
    std::string text;
    try {
        // A regular file of bounded size: /dev/zero or a FIFO without a writer must not make
        // `recipe check` read forever or wait forever.
        text = util::read_regular_file(file, k_max_recipe_bytes, "recipe");
    } catch (const RuntimeFailure& e) {
        // "cannot read recipe <file>: why" -> "<file>: error: cannot read recipe: why"
        std::string why = e.what();
        const std::string prefix = "cannot read recipe " + file.string() + ": ";
        if (why.starts_with(prefix)) {
            why.erase(0, prefix.size());
        }
        throw RecipeError({file.string() + ": error: cannot read recipe: " + why});
    }
    return parse(text, file, overrides);
}

Recipe parse(const std::string& text, const fs::path& file,
             const std::vector<std::string>& overrides) {
    return loading::Loader(file, text).run(overrides);
}

} // namespace kakuren::recipes

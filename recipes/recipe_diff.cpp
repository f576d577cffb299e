#include "recipes/recipe_diff.hpp"

#include <map>
#include <sstream>

namespace kakuren::recipes {
namespace {

/// "section.key" -> value text, from the canonical TOML of recipes::to_toml.
std::map<std::string, std::string> resolved_values(const std::string& toml) {
    std::map<std::string, std::string> values;
    std::istringstream in(toml);
    std::string line, section;
    while (std::getline(in, line)) {
        if (line.starts_with('[') && line.ends_with(']')) {
            section = line.substr(1, line.size() - 2);
        } else if (line.starts_with("# ") && line.ends_with(" is unset")) {
            values[section + "." + line.substr(2, line.size() - 2 - 9)] = "unset";
        } else if (const std::size_t eq = line.find(" = "); eq != std::string::npos) {
            values[section + "." + line.substr(0, eq)] = line.substr(eq + 3);
        }
    }
    return values;
}

} // namespace

std::vector<Change> changes_between(const std::string& before, const std::string& after) {
    const auto old_values = resolved_values(before);
    const auto new_values = resolved_values(after);
    std::vector<Change> changes;
    for (const auto& [key, value] : new_values) {
        const auto it = old_values.find(key);
        // A key the checkpoint's kakuren did not know yet had its default then.
        if (it != old_values.end() && it->second != value) {
            changes.push_back({key, it->second, value});
        }
    }
    return changes;
}

std::string describe(const std::vector<Change>& changes) {
    std::string out;
    for (std::size_t i = 0; i < changes.size(); ++i) {
        out += (i ? ", " : "") + changes[i].key + " (" + changes[i].before + " -> " +
               changes[i].after + ")";
    }
    return out;
}

bool breaks_exactness(const std::string& key) {
    return key.starts_with("data.") || key.starts_with("model.") || key == "optimizer.kind" ||
           key == "run.seed" || key == "task.kind";
}

} // namespace kakuren::recipes

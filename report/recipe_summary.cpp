#include "report/recipe_summary.hpp"

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>

#include "hiding/registry.hpp"
#include "recipes/recipe.hpp"
#include "util/strings.hpp"

namespace kakuren::report {

namespace {

using util::trim;

std::string unquote(const std::string& v) {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        return v.substr(1, v.size() - 2);
    }
    return v;
}

std::string int_list_text(const std::vector<int>& values) {
    std::string out = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
        out += (i > 0 ? ", " : "") + std::to_string(values[i]);
    }
    return out + "]";
}

std::string model_text(const std::string& kind, const std::string& hidden,
                       const std::string& channels, const std::string& fc,
                       const std::string& width) {
    if (kind == "mlp") {
        return "mlp " + hidden;
    }
    if (kind == "cnn") {
        return "cnn " + channels + " fc " + fc;
    }
    if (kind == "resnet18") {
        return "resnet18 width " + width;
    }
    return kind.empty() ? "?" : kind;
}

std::string key_without(const std::vector<std::pair<std::string, std::string>>& values,
                        bool drop_hiding) {
    std::string key;
    for (const auto& [k, v] : values) {
        if (k == "run.name" || k == "run.notes" || k == "run.seed") {
            continue;
        }
        if (drop_hiding && k.rfind("hiding.", 0) == 0) {
            continue;
        }
        key.append(k).append("=").append(v).append("\n");
    }
    return key;
}

} // namespace

std::vector<std::pair<std::string, std::string>> flat_toml(const std::string& text) {
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream in(text);
    std::string line;
    std::string section;
    while (std::getline(in, line)) {
        line = trim(line);
        if (line.empty() || line.front() == '#') {
            continue;
        }
        if (line.front() == '[' && line.back() == ']') {
            section = trim(line.substr(1, line.size() - 2));
            continue;
        }
        const std::size_t eq = line.find('=');
        if (eq == std::string::npos) {
            continue;
        }
        std::string value = trim(line.substr(eq + 1));
        // A trailing comment outside a string (canonical text has none; hand-edited text may).
        if (!value.empty() && value.front() != '"') {
            const std::size_t hash = value.find('#');
            if (hash != std::string::npos) {
                value = trim(value.substr(0, hash));
            }
        }
        const std::string key = trim(line.substr(0, eq));
        std::string name = section;
        if (!name.empty()) {
            name += '.';
        }
        name += key;
        out.emplace_back(std::move(name), value);
    }
    return out;
}

std::string hiding_label(const std::vector<std::pair<std::string, std::string>>& values) {
    std::string strategy;
    for (const auto& [k, v] : values) {
        if (k == "hiding.strategy") {
            strategy = unquote(v);
        }
    }
    if (strategy.empty()) {
        return "?";
    }
    return hiding::label(strategy, [&](std::string_view key) -> std::optional<double> {
        const std::string wanted = "hiding." + std::string(key);
        for (const auto& [k, v] : values) {
            if (k == wanted) {
                char* end = nullptr;
                const double x = std::strtod(v.c_str(), &end);
                if (end != v.c_str() && *end == '\0') {
                    return x;
                }
            }
        }
        return std::nullopt;
    });
}

RecipeSummary summarize_recipe(const std::string& recipe_text, const std::string& origin) {
    RecipeSummary s;
    try {
        const recipes::Recipe r = recipes::parse(recipe_text, origin);
        s.validated = true;
        s.model_kind = r.model.kind;
        s.model =
            model_text(r.model.kind, int_list_text(r.model.hidden), int_list_text(r.model.channels),
                       std::to_string(r.model.fc), std::to_string(r.model.width));
        s.dataset = r.data.dataset;
        s.strategy = r.hiding.strategy;
        s.fraction = r.hiding.fraction;
        s.tau = r.hiding.tau;
        s.seed = r.run.seed;
        s.batch_size = r.data.batch_size;
        s.epochs = r.schedule.epochs;
        s.threads = r.run.threads;
        // The stop target the trainer used (cli/config_map.cpp): task.target, else the older
        // run.target_accuracy.
        s.target_accuracy = r.task.target ? r.task.target : r.run.target_accuracy;
        s.lr_compensation = r.hiding.lr_compensation;
        s.refresh_every = r.hiding.refresh_every;
        s.values = flat_toml(recipes::to_toml(r));
    } catch (const Error& e) {
        // Stored text was valid when the run started; what fails now is usually the data files
        // having moved. Read the canonical lines as they are.
        s.validated = false;
        s.note = e.what();
        if (const std::size_t nl = s.note.find('\n'); nl != std::string::npos) {
            s.note = s.note.substr(0, nl) + " (and more)";
        }
        s.values = flat_toml(recipe_text);
        auto get = [&](const char* key) -> std::string {
            for (const auto& [k, v] : s.values) {
                if (k == key) {
                    return unquote(v);
                }
            }
            return "";
        };
        auto num = [&](const char* key) { return std::strtod(get(key).c_str(), nullptr); };
        s.model_kind = get("model.kind");
        s.model = model_text(s.model_kind, get("model.hidden"), get("model.channels"),
                             get("model.fc"), get("model.width"));
        s.dataset = get("data.dataset");
        s.strategy = get("hiding.strategy");
        s.fraction = num("hiding.fraction");
        s.tau = num("hiding.tau");
        s.seed = std::strtoll(get("run.seed").c_str(), nullptr, 10);
        s.batch_size = static_cast<int>(num("data.batch_size"));
        s.epochs = static_cast<int>(num("schedule.epochs"));
        s.threads = static_cast<int>(num("run.threads"));
        for (const char* key : {"run.target_accuracy", "task.target"}) { // task.target wins
            if (const std::string t = get(key); !t.empty()) {
                s.target_accuracy = std::strtod(t.c_str(), nullptr);
            }
        }
        s.lr_compensation = get("hiding.lr_compensation");
        s.refresh_every = static_cast<int>(num("hiding.refresh_every"));
    }
    s.hiding_label = hiding_label(s.values);
    s.baseline_key = key_without(s.values, true);
    s.group_key = key_without(s.values, false);
    return s;
}

} // namespace kakuren::report

#include <algorithm>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "recipes/kinds.hpp"
#include "recipes/loader.hpp"
#include "util/strings.hpp"

namespace kakuren::recipes::loading {

using util::join;

/// Characters a [slurm] value may hold: enough for Slurm's names and expressions, never a quote,
/// space, $, backquote, ; or newline (values are quoted in the batch script as well).
bool only_chars(std::string_view text, std::string_view extra_allowed) {
    return std::all_of(text.begin(), text.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.' || extra_allowed.find(c) != std::string_view::npos;
    });
}

/// [slurm] strings reach a shell script and Slurm: each must have its documented form.
void Loader::check_slurm() {
    const auto& s = m_recipe.slurm;
    const auto quoted = [](const std::string& v) { return "\"" + v + "\""; };
    const struct {
        const char* key;
        const std::string* value;
        std::string_view extra;
        const char* allowed;
    } names[] = {
        {"slurm.partition", &s.partition, ",", "letters, digits, _ - . and ,"},
        {"slurm.account", &s.account, "", "letters, digits, _ - ."},
        {"slurm.qos", &s.qos, "", "letters, digits, _ - ."},
        {"slurm.constraint", &s.constraint, ",&|[]*:()!",
         "letters, digits, _ - . and the operators , & | [ ] * : ( ) !"},
    };
    for (const auto& n : names) {
        if (ok({n.key}) && !only_chars(*n.value, n.extra)) {
            error(place({n.key}),
                  std::string(n.key) + " = " + quoted(*n.value) +
                      " has characters Slurm does not allow here; allowed: " + n.allowed);
        }
    }
    const std::string& device = m_recipe.run.device;
    if (ok({"run.device"}) && device != "auto" && device != "cpu" && device != "cuda" &&
        !(device.rfind("cuda:", 0) == 0 && device.size() <= 8 && small_number(device.substr(5)))) {
        error(place({"run.device"}),
              "run.device = " + quoted(device) +
                  " is not a device; expected auto, cpu, cuda or cuda:N (N = 0, 1, ...)");
    }
    if (ok({"slurm.setup"})) {
        for (std::size_t i = 0; i < s.setup.size(); ++i) {
            if (s.setup[i].find_first_of(std::string_view("\n\r\0", 3)) != std::string::npos) {
                error(place({"slurm.setup"}),
                      "slurm.setup[" + std::to_string(i) +
                          "] holds a line break or a NUL byte; expected one shell line per "
                          "element");
            }
        }
    }
    if (ok({"slurm.time"}) && !time_limit_minutes(s.time)) {
        error(place({"slurm.time"}),
              "slurm.time = " + quoted(s.time) +
                  " is not a time limit; expected minutes (\"90\"), MM:SS, HH:MM:SS or "
                  "D-HH[:MM[:SS]] (\"2-00:00:00\"), or empty for the partition's limit");
    }
    if (ok({"slurm.memory"}) && !s.memory.empty()) {
        const std::string digits = s.memory.substr(0, s.memory.find_first_not_of("0123456789"));
        const std::string unit = s.memory.substr(digits.size());
        if (!small_number(digits) ||
            !(unit.empty() || unit == "K" || unit == "M" || unit == "G" || unit == "T")) {
            error(place({"slurm.memory"}),
                  "slurm.memory = " + quoted(s.memory) +
                      " is not a memory size; expected a number with an optional unit K, M, "
                      "G or T (megabytes without one), e.g. \"4G\"");
        }
    }
    check_slurm_extra();
}

void Loader::check_slurm_extra() {
    const auto& s = m_recipe.slurm;
    const auto quoted = [](const std::string& v) { return "\"" + v + "\""; };
    if (ok({"slurm.extra"})) {
        std::istringstream words(s.extra);
        std::string word;
        std::vector<std::string> allowed;
        for (const SbatchOptionInfo& o : sbatch_options()) {
            allowed.emplace_back(o.name);
        }
        while (words >> word) {
            const std::size_t eq = word.find('=');
            const std::string name = word.substr(0, eq);
            const SbatchOptionInfo* option = find_sbatch_option(name);
            const bool flag = option != nullptr && !option->takes_value;
            if (option == nullptr) {
                error(place({"slurm.extra"}), "slurm.extra: " + quoted(word) +
                                                  " is not an allowed sbatch option; "
                                                  "allowed: " +
                                                  join(allowed, ", ") +
                                                  " (the others have their own [slurm] keys)");
            } else if (flag != (eq == std::string::npos)) {
                error(place({"slurm.extra"}),
                      "slurm.extra: " + quoted(word) +
                          (flag ? " takes no value" : " needs a value: " + name + "=VALUE"));
            } else if (!flag && (word.size() == eq + 1 ||
                                 !only_chars(std::string_view(word).substr(eq + 1), ",:@%+=/[]"))) {
                error(place({"slurm.extra"}),
                      "slurm.extra: the value of " + quoted(word) +
                          " may hold only letters, digits and _ - . , : @ % + = / [ ]");
            }
        }
    }
}

} // namespace kakuren::recipes::loading

// kakuren tune's candidates (tune/candidates.hpp).
#include "tune/candidates.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "util/error.hpp"

namespace kakuren::tune {
namespace {

constexpr std::string_view k_none = "none";

/// The numeric settings a strategy reads: its shared numeric keys, then its own parameters.
std::vector<const hiding::ParamInfo*> settings_of(const hiding::StrategyInfo& s) {
    std::vector<const hiding::ParamInfo*> out;
    for (const std::string_view key : s.shared_keys) {
        for (const hiding::ParamInfo& p : hiding::shared_params()) {
            if (p.key == key) {
                out.push_back(&p);
            }
        }
    }
    for (const hiding::ParamInfo& p : s.params) {
        out.push_back(&p);
    }
    return out;
}

std::string keys_text(const std::vector<const hiding::ParamInfo*>& params) {
    std::string out;
    for (const hiding::ParamInfo* p : params) {
        out += (out.empty() ? "" : ", ") + std::string(p->key);
    }
    return out.empty() ? "none" : out;
}

double parse_value(const std::string& text, const std::string& where) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end == text.c_str() || *end != '\0' || !std::isfinite(v)) {
        throw UsageError(where + ": '" + text + "' is not a number");
    }
    return v;
}

} // namespace

std::vector<std::string> Candidate::overrides() const {
    std::vector<std::string> out{"hiding.strategy=\"" + strategy + "\""};
    const hiding::StrategyInfo& info = hiding::strategy_info(strategy);
    for (const auto& [key, value] : settings) {
        for (const hiding::ParamInfo* p : settings_of(info)) {
            if (p->key == key) {
                out.push_back("hiding." + key + "=" + hiding::format_param(*p, value));
            }
        }
    }
    return out;
}

std::string Candidate::label(const hiding::ParamLookup& base) const {
    return hiding::label(strategy, [&](std::string_view key) -> std::optional<double> {
        for (const auto& [k, v] : settings) {
            if (k == key) {
                return v;
            }
        }
        return base(key);
    });
}

namespace {

/// One KEY=VALUE of a --try (where: "--try TEXT"): checked against the strategy's settings
/// and added to c.
void add_setting(Candidate& c, const std::string& where, const std::string& item,
                 const std::vector<const hiding::ParamInfo*>& allowed) {
    const std::size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const auto it = std::find_if(allowed.begin(), allowed.end(),
                                 [&](const hiding::ParamInfo* p) { return p->key == key; });
    if (eq == std::string::npos || it == allowed.end()) {
        throw UsageError(where + ": " + c.strategy + " has no setting '" + key +
                         "'; its numeric settings are " + keys_text(allowed) +
                         " (written KEY=VALUE, comma-separated)");
    }
    const double value = parse_value(item.substr(eq + 1), where + ": " + key);
    if (!(*it)->bounds.contains(value) ||
        ((*it)->kind == hiding::ParamKind::integer && value != std::floor(value))) {
        throw UsageError(where + ": " + key + " = " + item.substr(eq + 1) +
                         " is out of range; expected " + (*it)->bounds.text(key) +
                         ((*it)->kind == hiding::ParamKind::integer ? ", a whole number" : ""));
    }
    const bool repeated = std::any_of(c.settings.begin(), c.settings.end(),
                                      [&](const auto& setting) { return setting.first == key; });
    if (repeated) {
        throw UsageError(where + ": " + key + " is given twice");
    }
    c.settings.emplace_back(key, value);
}

} // namespace

Candidate parse_try(const std::string& text) {
    const std::size_t colon = text.find(':');
    Candidate c;
    c.strategy = text.substr(0, colon);
    const hiding::StrategyInfo* info = hiding::find_strategy(c.strategy);
    if (info == nullptr) {
        throw UsageError("--try " + text + ": unknown strategy '" + c.strategy +
                         "'; the strategies are " + hiding::strategy_names_text());
    }
    if (colon == std::string::npos) {
        return c;
    }
    const std::vector<const hiding::ParamInfo*> allowed = settings_of(*info);
    std::stringstream items(text.substr(colon + 1));
    std::string item;
    while (std::getline(items, item, ',')) {
        add_setting(c, "--try " + text, item, allowed);
    }
    return c;
}

std::vector<Candidate> default_candidates() {
    std::vector<Candidate> out;
    for (const hiding::StrategyInfo* s : hiding::strategies()) {
        if (s->name == k_none) {
            continue;
        }
        out.push_back({std::string(s->name), {}});
        const std::vector<const hiding::ParamInfo*> params = settings_of(*s);
        const hiding::ParamInfo* knob = !s->params.empty() ? &s->params.front()
                                        : !params.empty()  ? params.front()
                                                           : nullptr;
        if (knob == nullptr) {
            continue;
        }
        const double d = knob->default_value;
        double moved = knob->kind == hiding::ParamKind::integer ? d + 1 : d * 1.5;
        if (!knob->bounds.contains(moved) && knob->kind == hiding::ParamKind::real) {
            moved = d * 0.5;
        }
        // 0.3 x 1.5 is 0.44999999999999996 in binary: the setting a user would write, 0.45 (six
        // decimals), trains and prints.
        moved = std::round(moved * 1e6) / 1e6;
        if (knob->bounds.contains(moved) && moved != d) {
            out.push_back({std::string(s->name), {{std::string(knob->key), moved}}});
        }
    }
    return out;
}

std::vector<Candidate> candidate_list(const std::vector<std::string>& tries) {
    std::vector<Candidate> given;
    given.reserve(tries.size());
    for (const std::string& t : tries) {
        given.push_back(parse_try(t));
    }
    if (tries.empty()) {
        given = default_candidates();
    }
    std::vector<Candidate> out{{std::string(k_none), {}}};
    for (Candidate& c : given) {
        if (std::find(out.begin(), out.end(), c) == out.end()) {
            out.push_back(std::move(c));
        }
    }
    if (out.size() < 2) {
        throw UsageError("--try names only none: give at least one hiding strategy to compare "
                         "with none (e.g. --try rotate), or leave --try out for the default set");
    }
    return out;
}

} // namespace kakuren::tune

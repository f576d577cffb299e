#include "hiding/registry.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "util/assert.hpp"
#include "util/error.hpp"

namespace kakuren::hiding {

namespace detail {
// Defined in hiding/<name>.cpp. A new strategy adds its line here and to strategies() below.
const StrategyInfo& none_strategy();
const StrategyInfo& kakurenbo_strategy();
const StrategyInfo& random_strategy();
const StrategyInfo& infobatch_strategy();
const StrategyInfo& iswr_strategy();
const StrategyInfo& selective_backprop_strategy();
const StrategyInfo& rotate_strategy();
} // namespace detail

namespace {

// Shortest text that reads back as the same double ("0.3", "1", "0.875").
std::string shortest(double value) {
    std::array<char, 64> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    return {buffer.data(), result.ptr};
}

} // namespace

bool Bounds::contains(double x) const {
    if (std::isnan(x)) {
        return false;
    }
    const bool above_lo = lo_inclusive ? x >= lo : x > lo;
    const bool below_hi = hi_inclusive ? x <= hi : x < hi;
    return above_lo && below_hi;
}

std::string Bounds::text(std::string_view name) const {
    const bool has_lo = std::isfinite(lo);
    const bool has_hi = std::isfinite(hi);
    const std::string n(name);
    if (has_lo && has_hi) {
        return shortest(lo) + (lo_inclusive ? " <= " : " < ") + n +
               (hi_inclusive ? " <= " : " < ") + shortest(hi);
    }
    if (has_lo) {
        return n + (lo_inclusive ? " >= " : " > ") + shortest(lo);
    }
    if (has_hi) {
        return n + (hi_inclusive ? " <= " : " < ") + shortest(hi);
    }
    return "";
}

const std::vector<const StrategyInfo*>& strategies() {
    static const std::vector<const StrategyInfo*> all = {
        &detail::none_strategy(),   &detail::kakurenbo_strategy(),
        &detail::random_strategy(), &detail::infobatch_strategy(),
        &detail::iswr_strategy(),   &detail::selective_backprop_strategy(),
        &detail::rotate_strategy(),
    };
    return all;
}

const StrategyInfo* find_strategy(std::string_view name) {
    for (const StrategyInfo* s : strategies()) {
        if (s->name == name) {
            return s;
        }
    }
    return nullptr;
}

std::string strategy_names_text() {
    std::string out;
    for (const StrategyInfo* s : strategies()) {
        out += (out.empty() ? "" : ", ") + std::string(s->name);
    }
    return out;
}

const StrategyInfo& strategy_info(std::string_view name) {
    if (const StrategyInfo* s = find_strategy(name)) {
        return *s;
    }
    throw UsageError("hiding.strategy = \"" + std::string(name) +
                     "\" is not a known strategy; expected one of " + strategy_names_text());
}

const std::vector<ParamInfo>& shared_params() {
    static const std::vector<ParamInfo> params = {
        {.key = "fraction",
         .label = "F",
         .kind = ParamKind::real,
         .default_value = 0.3,
         .bounds = {.lo = 0, .lo_inclusive = true, .hi = 1, .hi_inclusive = false},
         .summary = "F, the maximum fraction of the training set hidden in an epoch."},
        {.key = "tau",
         .label = "tau",
         .kind = ParamKind::real,
         .default_value = 0.7,
         .bounds = {.lo = 0, .lo_inclusive = true, .hi = 1, .hi_inclusive = true},
         .summary = "A low-loss candidate is hidden only if predicted correctly with confidence "
                    ">= tau; the others are moved back."},
        {.key = "refresh_every",
         .label = "",
         .kind = ParamKind::integer,
         .default_value = 1,
         .bounds = {.lo = 1, .lo_inclusive = true},
         .summary = "Refresh the statistics of hidden samples every k epochs (and in the last)."},
    };
    return params;
}

const ParamInfo* find_param(std::string_view key) {
    for (const StrategyInfo* s : strategies()) {
        for (const ParamInfo& p : s->params) {
            if (p.key == key) {
                return &p;
            }
        }
    }
    for (const ParamInfo& p : shared_params()) {
        if (p.key == key) {
            return &p;
        }
    }
    return nullptr;
}

Params default_params() {
    Params out;
    for (const StrategyInfo* s : strategies()) {
        for (const ParamInfo& p : s->params) {
            out.emplace(std::string(p.key), p.default_value);
        }
    }
    return out;
}

double param(const Config& config, std::string_view key) {
    if (const auto it = config.params.find(key); it != config.params.end()) {
        return it->second;
    }
    const ParamInfo* info = find_param(key);
    KAKUREN_ASSERT(info != nullptr, "a strategy read a parameter that no strategy registered");
    return info->default_value;
}

std::string format_param(const ParamInfo& param, double value) {
    if (param.kind == ParamKind::integer && std::isfinite(value) && std::floor(value) == value) {
        return shortest(value);
    }
    std::string text = shortest(value);
    const std::size_t dot = text.find('.');
    const bool plain = text.find_first_of("eE") == std::string::npos && std::isfinite(value);
    if (plain && (dot == std::string::npos || text.size() - dot - 1 < 2)) {
        std::array<char, 64> buffer{};
        std::snprintf(buffer.data(), buffer.size(), "%.2f", value);
        return buffer.data();
    }
    return text;
}

std::string label(std::string_view strategy, const ParamLookup& value) {
    const StrategyInfo* s = find_strategy(strategy);
    std::string out(strategy);
    if (s == nullptr) {
        return out;
    }
    const auto add = [&](const ParamInfo& p) {
        if (p.label.empty()) {
            return;
        }
        const std::optional<double> v = value(p.key);
        out += " " + std::string(p.label) + "=" + (v ? format_param(p, *v) : "?");
    };
    for (const std::string_view key : s->shared_keys) {
        for (const ParamInfo& p : shared_params()) {
            if (p.key == key) {
                add(p);
            }
        }
    }
    for (const ParamInfo& p : s->params) {
        add(p);
    }
    return out;
}

} // namespace kakuren::hiding

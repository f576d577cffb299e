#pragma once
// The strategy registry: every hiding strategy's name, one-line summary, own parameters and
// factory, written once in the strategy's own file (hiding/<name>.cpp) and listed in
// registry.cpp. The recipe schema (allowed values, the reference), the recipe → Config mapping,
// make_policy, report labels and the MLPerf hyper-parameter records all read it; no other place
// spells a strategy's name or its keys.
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hiding/policy.hpp"

namespace kakuren::hiding {

/// An interval of allowed values; an infinite bound leaves that side open-ended (its value itself
/// is still excluded when the bound is exclusive, so `lo = 0, hi = inf exclusive` is x >= 0,
/// finite).
struct Bounds {
    double lo = -std::numeric_limits<double>::infinity();
    bool lo_inclusive = true;
    double hi = std::numeric_limits<double>::infinity();
    bool hi_inclusive = true;

    /// False for NaN.
    [[nodiscard]] bool contains(double x) const;
    /// "0 <= name < 1", "name >= 0" (an infinite bound is not written).
    [[nodiscard]] std::string text(std::string_view name) const;
};

enum class ParamKind { real, integer };

/// One numeric knob. Recipe key: hiding.<key>; MLPerf key: hiding_<key>; Config::params key: key.
struct ParamInfo {
    std::string_view key;   ///< "rotate_ratio"; unique over every strategy and the shared keys
    std::string_view label; ///< name in a run's label ("r" in "rotate r=0.65"); empty: left out
    ParamKind kind = ParamKind::real;
    double default_value = 0.0;
    Bounds bounds;
    std::string_view summary; ///< one sentence for the recipe reference (without the strategy)
};

/// One strategy, as its file defines it.
struct StrategyInfo {
    std::string_view name;    ///< hiding.strategy value, MLPerf hiding_strategy, Policy::name()
    std::string_view summary; ///< a clause for the reference: "hide a random F_e share"
    /// The [hiding] keys shared by several strategies (Config's typed fields: fraction, tau,
    /// fraction_decay, lr_compensation, refresh_every) that this strategy reads, in label order.
    std::vector<std::string_view> shared_keys;
    std::vector<ParamInfo> params; ///< its own knobs, in recipe and MLPerf order
    std::unique_ptr<Policy> (*make)(const Config& config) = nullptr; ///< after validate(config)
};

/// Every strategy, in the order the recipe reference and docs/hiding.md list them.
const std::vector<const StrategyInfo*>& strategies();

/// The strategy named name, or nullptr.
const StrategyInfo* find_strategy(std::string_view name);

/// The strategy named name; throws UsageError naming the known strategies otherwise.
const StrategyInfo& strategy_info(std::string_view name);

/// "none, kakurenbo, random, ...": the registered names in registry order.
std::string strategy_names_text();

/// The numeric keys shared by several strategies, described like own parameters so that labels
/// and validation read them alike: fraction (F), tau, refresh_every.
const std::vector<ParamInfo>& shared_params();

/// The parameter with this key: a strategy's own or a shared one; nullptr when none has it.
const ParamInfo* find_param(std::string_view key);

/// Every strategy's own parameters at their defaults (a recipe's and a Config's starting point).
Params default_params();

/// The value of a strategy parameter: config.params[key], else the key's default. key must be a
/// registered own parameter (a programmer's promise: asserted).
double param(const Config& config, std::string_view key);

/// A parameter's value as shown in labels: reals with at least two decimals and as many more as
/// it takes to read back the same number ("0.30", "0.875"), integers as integers ("1").
std::string format_param(const ParamInfo& param, double value);

/// How a recipe's value of hiding.<key> is looked up by label(); nullopt = not known.
using ParamLookup = std::function<std::optional<double>(std::string_view key)>;

/// A run's hiding in a few words: the strategy and its labelled parameters (shared keys first),
/// e.g. "kakurenbo F=0.30 tau=0.70", "infobatch r=0.50 delta=0.875", "none". A value the lookup
/// does not know shows as "?"; an unknown strategy shows as its bare name.
std::string label(std::string_view strategy, const ParamLookup& value);

} // namespace kakuren::hiding

#pragma once
// The candidates of kakuren tune: a hiding strategy and some of its settings. Names and bounds
// come from the strategy registry (hiding/registry.hpp); nothing here spells a strategy.
#include <string>
#include <utility>
#include <vector>

#include "hiding/registry.hpp"

namespace kakuren::tune {

struct Candidate {
    std::string strategy;
    std::vector<std::pair<std::string, double>> settings; ///< hiding.<key> = value, as given

    /// The recipe overrides that select it: "hiding.strategy=NAME", then "hiding.KEY=VALUE".
    [[nodiscard]] std::vector<std::string> overrides() const;
    /// hiding::label with its settings over base (the tuned recipe's values): "rotate r=0.65".
    [[nodiscard]] std::string label(const hiding::ParamLookup& base) const;
    bool operator==(const Candidate&) const = default;
};

/// Parses --try STRATEGY[:KEY=VALUE,...]. Throws UsageError naming what is wrong and what is
/// allowed: an unknown strategy (the registered ones), a key the strategy does not read (its
/// numeric settings), a value that is not a number or out of the key's bounds, a repeated key.
Candidate parse_try(const std::string& text);

/// The default set: for every strategy but none, its defaults and its first own setting (else
/// its first shared numeric setting) moved by half of its default (x 1.5, else x 0.5 when 1.5 x
/// leaves the allowed range; integers + 1).
std::vector<Candidate> default_candidates();

/// The tune's list: none first (the baseline, always), then the given candidates in order
/// without repeats (default_candidates() when tries is empty). Throws UsageError when no
/// candidate hides anything (nothing to compare with none).
std::vector<Candidate> candidate_list(const std::vector<std::string>& tries);

} // namespace kakuren::tune

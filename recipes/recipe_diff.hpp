#pragma once
// What changed between two resolved recipes (the canonical TOML of recipes::to_toml), and which
// changes make a checkpoint mean something else: `kakuren resume` with a new recipe or --set.
#include <string>
#include <vector>

namespace kakuren::recipes {

/// One key whose resolved value differs ("unset" for a key with no value).
struct Change {
    std::string key, before, after;
};

/// The keys of `after` whose value differs from `before`'s, in key order. A key `before` lacks
/// (a key the checkpoint's kakuren did not know yet) had its default then: not a change.
std::vector<Change> changes_between(const std::string& before, const std::string& after);

/// Keys whose change makes a checkpoint mean something else: other samples or sample ids
/// (data.*), other weights (model.*), other optimizer state (optimizer.kind), other plans and
/// shuffles (run.seed), another loss and metric (task.kind). Other changes (epochs, LR, hiding,
/// checkpoint settings) are allowed: the run continues exactly up to the checkpoint and then
/// follows the new values.
bool breaks_exactness(const std::string& key);

/// "key (before -> after), ..." for a message.
std::string describe(const std::vector<Change>& changes);

} // namespace kakuren::recipes

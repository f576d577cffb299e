#pragma once
// The budget and the rounds of successive halving for kakuren tune.
//
// Round r (0-based) trains every survivor to e_r = min(E, e0 * eta^r) epochs (E: the recipe's
// schedule.epochs); after it the best ceil(n / eta) of the n hiding candidates go on, and the
// baseline (none) always does, so that every survivor is compared with none at the same
// epochs. Survivors continue their runs, so round r costs (survivors + 1) * (e_r - e_{r-1})
// epochs. Rounds end when one hiding candidate is left or E is reached.
#include <string>
#include <vector>

namespace kakuren::tune {

/// --budget: a number of epochs (all trials together: "24") or a duration ("90s", "30m", "2h",
/// "1h30m").
struct Budget {
    std::string text;
    int epochs = 0;     ///< > 0 for an epoch budget
    double seconds = 0; ///< > 0 for a duration
};
/// Throws UsageError naming the forms allowed.
Budget parse_budget(const std::string& text);

struct Round {
    int epochs = 0;    ///< e_r: each survivor trains to this epoch
    int survivors = 0; ///< hiding candidates trained in this round (the baseline besides)
};

/// The rounds for num_hiding candidates besides the baseline, a schedule of max_epochs and an
/// epoch budget: the largest e0 whose rounds fit; when even e0 = 1 does not, the first rounds
/// that fit. Throws UsageError when the budget is less than one epoch per candidate
/// (num_hiding + 1), naming that minimum. eta >= 2.
std::vector<Round> plan_rounds(int num_hiding, int eta, int max_epochs, int budget_epochs);

/// The rounds with e0 = 1 and no budget limit (a duration budget decides at each round's end
/// whether the next fits in the time left).
std::vector<Round> plan_rounds_unbounded(int num_hiding, int eta, int max_epochs);

/// Epochs the rounds cost together.
int plan_cost(const std::vector<Round>& rounds);

} // namespace kakuren::tune

#pragma once
// EpochCursor: where the training loop stands. Private to trainer/ (torch).
#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/state.hpp"
#include "hiding/policy.hpp"
#include "trainer/batch_geometry.hpp"
#include "trainer/totals.hpp"
#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// Owns the epoch in progress — its plan, the batches done, its training sums and what its
/// phases produced so far — and the last completed epoch's hidden set: enough to take a
/// checkpoint at any batch and to take over from one.
struct EpochCursor {
    int epoch = 0;   ///< 0-based, the epoch in progress (= epochs completed)
    int started = 0; ///< epochs that logged epoch_start
    hiding::EpochPlan plan;
    bool has_plan = false; ///< plan belongs to epoch `epoch`
    std::int64_t step = 0; ///< batches done in the epoch: training steps, then refresh batches
    std::int64_t train_steps = 0, refresh_steps = 0;
    Totals totals;                              ///< over the epoch's training steps so far
    EpochResult result;                         ///< filled phase by phase
    double hidden_fraction = 0.0;               ///< the plan's realised fraction
    std::vector<std::int64_t> completed_hidden; ///< hidden set of the last completed epoch

    /// Where a checkpoint taken now stands: the end of the epoch before while nothing of this
    /// epoch is done (its plan, if made, is made again), else its step.
    [[nodiscard]] checkpoint::Position position() const;
    /// Whether training steps of the epoch remain (else its refresh batches are next).
    [[nodiscard]] bool in_training() const { return step < train_steps; }
    /// The epoch starts on `next`: nothing done yet, sums and results cleared.
    void begin(hiding::EpochPlan next, const BatchGeometry& geometry);
    /// The epoch is complete: the loop stands at its end, before the next one.
    void complete();
    /// The position, and mid-epoch the plan, step counts, sums and results so far (phase
    /// seconds as recorded: PhaseTimer::state adds the phase in progress).
    void state(checkpoint::Snapshot& s) const;
    /// Takes over the checkpoint's position (and mid-epoch its plan and results) for
    /// `num_train` training samples. Throws RuntimeFailure("<what>...") when its plan does not
    /// fit this recipe's batch sizes or data set.
    void load_state(const checkpoint::Resume& resume, const BatchGeometry& geometry,
                    std::int64_t num_train, const std::string& what);

  private:
    void load_plan(const checkpoint::Resume& resume, const BatchGeometry& geometry,
                   std::int64_t num_train, const std::string& what);
};

} // namespace kakuren::trainer

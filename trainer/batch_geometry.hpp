#pragma once
// BatchGeometry: the batch sizes a run settled on at set-up and the step counts they give.
// Private to trainer/.
#include <cstdint>
#include <vector>

#include "hiding/policy.hpp"
#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// Number of batches of size `batch` that cover n entries.
inline std::int64_t batches_of(std::int64_t n, std::int64_t batch) {
    return (n + batch - 1) / batch;
}

/// Owns the per-rank batch sizes, the steps of a full epoch and the LR milestones; fixed after
/// set-up, the same on every rank.
struct BatchGeometry {
    int world = 1;
    std::int64_t local_batch = 1;      ///< training samples per rank and step
    std::int64_t eval_batch = 1;       ///< forward-only samples per rank and batch
    std::int64_t steps_full_epoch = 0; ///< training steps of an epoch that hides nothing
    std::vector<int> lr_milestones;    ///< step schedules only; the policy decays F at them

    /// For `num_train` training samples over config.dist.world ranks.
    static BatchGeometry of(const Config& config, std::int64_t num_train);
    /// Training steps of the plan's epoch: every rank takes rank 0's, the largest shard's.
    [[nodiscard]] std::int64_t train_steps_of(const hiding::EpochPlan& plan) const;
    /// Refresh batches of the plan's epoch.
    [[nodiscard]] std::int64_t refresh_steps_of(const hiding::EpochPlan& plan) const;
};

} // namespace kakuren::trainer

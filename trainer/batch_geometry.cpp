// The batch sizes and step counts of a run.
#include "trainer/batch_geometry.hpp"

#include <algorithm>

#include "trainer/replicator.hpp"

namespace kakuren::trainer {

BatchGeometry BatchGeometry::of(const Config& config, std::int64_t num_train) {
    BatchGeometry g;
    g.world = config.dist.world;
    const std::int64_t per_rank = (num_train + g.world - 1) / g.world;
    g.local_batch = std::max<std::int64_t>(1, config.data.batch_size / g.world);
    g.eval_batch = config.data.eval_batch_size;
    g.steps_full_epoch = (per_rank + g.local_batch - 1) / g.local_batch;
    if (config.schedule.kind == "step" || config.schedule.kind == "multistep") {
        g.lr_milestones = config.schedule.milestones;
    }
    return g;
}

std::int64_t BatchGeometry::train_steps_of(const hiding::EpochPlan& plan) const {
    return batches_of(max_shard_size(plan.train_ids.size(), world), local_batch);
}

std::int64_t BatchGeometry::refresh_steps_of(const hiding::EpochPlan& plan) const {
    return batches_of(max_shard_size(plan.refresh_ids.size(), world), eval_batch);
}

} // namespace kakuren::trainer

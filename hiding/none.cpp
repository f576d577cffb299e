#include "hiding/strategies.hpp"

namespace kakuren::hiding::detail {

EpochPlan NonePolicy::plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) {
    check_inputs(ctx, stats);
    EpochPlan plan;
    plan.num_samples = static_cast<std::int64_t>(stats.size());
    plan.train_ids = all_ids(stats.size());
    shuffle(plan.train_ids, m_config.seed, ctx.epoch, k_train_stream);
    return plan;
}

} // namespace kakuren::hiding::detail

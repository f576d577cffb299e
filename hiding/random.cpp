#include "hiding/strategies.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace kakuren::hiding::detail {

EpochPlan RandomPolicy::plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) {
    check_inputs(ctx, stats);
    const std::size_t n = stats.size();
    EpochPlan plan;
    plan.num_samples = static_cast<std::int64_t>(n);
    plan.max_fraction = scheduled_fraction(m_config, ctx);
    plan.num_candidates = count_of(plan.max_fraction, n);

    // The hidden set is the head of a permutation of all ids on its own stream: uniform over
    // every subset of that size, independent of the training order.
    std::vector<std::int64_t> order = all_ids(n);
    shuffle(order, m_config.seed, ctx.epoch, k_prune_stream);
    std::vector<std::uint8_t> hidden(n, 0);
    for (std::int64_t k = 0; k < plan.num_candidates; ++k) {
        hidden[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])] = 1;
    }
    fill_plan(plan, hidden, {}, m_config.seed, ctx.epoch);
    plan.lr_scale = lr_scale(m_config, ctx, plan.realised_fraction());
    return plan;
}

} // namespace kakuren::hiding::detail

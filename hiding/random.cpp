#include "hiding/strategies.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace kakuren::hiding::detail {

namespace {

// Guards floor(F_e * N) against products such as 0.99 * 100 = 98.99999999999999.
constexpr double k_floor_epsilon = 1e-9;

} // namespace

EpochPlan RandomPolicy::plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) {
    check_inputs(ctx, stats);
    const std::size_t n = stats.size();
    EpochPlan plan;
    plan.num_samples = static_cast<std::int64_t>(n);
    plan.max_fraction = scheduled_fraction(m_config, ctx);
    const double wanted = std::floor(plan.max_fraction * static_cast<double>(n) + k_floor_epsilon);
    plan.num_candidates = std::clamp(static_cast<std::int64_t>(wanted), std::int64_t{0},
                                     static_cast<std::int64_t>(n));

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

// rotate: kakuren's own strategy. KAKURENBO picks the right samples to hide (low loss, predicted
// right, confidently) but pays a forward pass over every hidden sample each epoch to keep their
// statistics fresh. rotate hides each eligible sample only with probability r, so every eligible
// sample is still trained, and its statistics refreshed for free, about every 1 / (1 - r)
// epochs; the visible eligible samples carry weight 1 / (1 - r) so that the epoch's expected
// gradient is unchanged (InfoBatch's rescaling). The last epochs see the full data.
#include "hiding/strategies.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace kakuren::hiding::detail {

EpochPlan RotatePolicy::plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) {
    check_inputs(ctx, stats);
    const std::size_t n = stats.size();
    EpochPlan plan;
    plan.num_samples = static_cast<std::int64_t>(n);
    std::vector<std::uint8_t> hidden(n, 0);
    if (ctx.epoch >= ctx.num_epochs - m_config.rotate_full_epochs) {
        fill_plan(plan, hidden, {}, m_config.seed, ctx.epoch);
        return plan;
    }
    const double ratio = m_config.rotate_ratio;
    plan.max_fraction = ratio;
    plan.num_candidates = count_of(m_config.rotate_fraction, n);
    const std::vector<std::int64_t> candidates = lowest_k(stats.loss, plan.num_candidates);

    const auto tau = static_cast<float>(m_config.rotate_tau);
    const auto kept_weight = static_cast<float>(1.0 / (1.0 - ratio));
    std::vector<float> weights(n, 1.0F);
    const std::vector<double> u = uniform_draws(n, m_config.seed, ctx.epoch, k_prune_stream);
    for (const std::int64_t id : candidates) {
        const auto i = static_cast<std::size_t>(id);
        if (!(stats.correct[i] == 1 && stats.confidence[i] >= tau && !std::isnan(stats.loss[i]))) {
            ++plan.num_moved_back; // KAKURENBO's move-back: wrong or unsure stays visible
            continue;
        }
        if (u[i] < ratio) {
            hidden[i] = 1;
        } else {
            weights[i] = kept_weight;
        }
    }
    fill_plan(plan, hidden, weights, m_config.seed, ctx.epoch);
    return plan;
}

} // namespace kakuren::hiding::detail

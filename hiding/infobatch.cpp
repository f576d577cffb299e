#include "hiding/strategies.hpp"

#include <cmath>
#include <cstddef>

namespace kakuren::hiding::detail {

EpochPlan InfoBatchPolicy::plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) {
    check_inputs(ctx, stats);
    const std::size_t n = stats.size();
    EpochPlan plan;
    plan.num_samples = static_cast<std::int64_t>(n);
    std::vector<std::uint8_t> hidden(n, 0);
    const double ratio = m_config.infobatch_ratio;
    const bool pruning = static_cast<double>(ctx.epoch) <
                         m_config.infobatch_delta * static_cast<double>(ctx.num_epochs);
    if (!pruning || n == 0) {
        fill_plan(plan, hidden, {}, m_config.seed, ctx.epoch);
        return plan;
    }
    plan.max_fraction = ratio;

    // The threshold is the mean score; a NaN or infinite score says nothing about the others,
    // so it is left out of the mean (and, never below it, always kept).
    double sum = 0.0;
    std::size_t count = 0;
    for (const float loss : stats.loss) {
        if (std::isfinite(loss)) {
            sum += loss;
            ++count;
        }
    }
    const double mean = count > 0 ? sum / static_cast<double>(count) : 0.0;
    const auto kept_weight = static_cast<float>(1.0 / (1.0 - ratio));
    std::vector<float> weights(n, 1.0F);
    const std::vector<double> u = uniform_draws(n, m_config.seed, ctx.epoch, k_prune_stream);
    for (std::size_t i = 0; i < n; ++i) {
        const float loss = stats.loss[i];
        if (!std::isfinite(loss) || !(static_cast<double>(loss) < mean)) {
            continue;
        }
        ++plan.num_candidates;
        if (u[i] < ratio) {
            hidden[i] = 1;
        } else {
            weights[i] = kept_weight; // undoes the pruning's bias on the expected gradient
            ++plan.num_moved_back;
        }
    }
    fill_plan(plan, hidden, weights, m_config.seed, ctx.epoch);
    return plan;
}

} // namespace kakuren::hiding::detail

// infobatch: InfoBatch's soft pruning. While epoch < infobatch_delta * num_epochs, every sample
// whose loss is below the mean loss of the finite losses (computed in double, ascending id order)
// is a candidate and is pruned (hidden) when u < r = infobatch_ratio; kept candidates get loss
// weight 1 / (1 - r), all others 1 (train_weights empty when nothing is weighted).
// num_candidates = below-mean count, num_moved_back = kept candidates, max_fraction = r;
// afterwards full data and max_fraction 0. No refresh (pruned samples keep stale scores),
// lr_scale 1.
#include "hiding/strategies.hpp"

#include <cmath>
#include <cstddef>

namespace kakuren::hiding::detail {
namespace {

constexpr std::string_view k_name = "infobatch";
constexpr std::string_view k_ratio = "infobatch_ratio";
constexpr std::string_view k_delta = "infobatch_delta";

class InfoBatchPolicy final : public Policy {
  public:
    explicit InfoBatchPolicy(const Config& config)
        : m_config(config), m_ratio(param(config, k_ratio)), m_delta(param(config, k_delta)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) override;
    std::string name() const override { return std::string(k_name); }

  private:
    Config m_config;
    double m_ratio; ///< r, the prune probability of a below-mean sample
    double m_delta; ///< prune while epoch < delta * num_epochs
};

EpochPlan InfoBatchPolicy::plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) {
    check_inputs(ctx, stats);
    const std::size_t n = stats.size();
    EpochPlan plan;
    plan.num_samples = static_cast<std::int64_t>(n);
    std::vector<std::uint8_t> hidden(n, 0);
    const double ratio = m_ratio;
    const bool pruning =
        static_cast<double>(ctx.epoch) < m_delta * static_cast<double>(ctx.num_epochs);
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

} // namespace

const StrategyInfo& infobatch_strategy() {
    static const StrategyInfo info{
        .name = k_name,
        .summary = "prune below-mean-loss samples at random and reweight the rest",
        .shared_keys = {},
        .params = {{.key = k_ratio,
                    .label = "r",
                    .kind = ParamKind::real,
                    .default_value = 0.5,
                    .bounds = {.lo = 0, .lo_inclusive = true, .hi = 1, .hi_inclusive = false},
                    .summary = "r, the probability that a below-mean-loss sample is pruned; kept "
                               "ones get loss weight 1/(1-r)."},
                   {.key = k_delta,
                    .label = "delta",
                    .kind = ParamKind::real,
                    .default_value = 0.875,
                    .bounds = {.lo = 0, .lo_inclusive = true, .hi = 1, .hi_inclusive = true},
                    .summary = "prune while epoch < delta x schedule.epochs; full data after."}},
        .make = [](const Config& c) -> std::unique_ptr<Policy> {
            return std::make_unique<InfoBatchPolicy>(c);
        },
    };
    return info;
}

} // namespace kakuren::hiding::detail

// selective_backprop: Selective Backprop at epoch level.
// percentile_i = #{j : loss_j <= loss_i} / N; a sample is kept (trained) when
// u < percentile_i^sb_beta, else hidden and refreshed (refresh_due, as kakurenbo). lr_scale 1.
#include "hiding/strategies.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace kakuren::hiding::detail {
namespace {

constexpr std::string_view k_name = "selective_backprop";
constexpr std::string_view k_beta = "sb_beta";

class SelectiveBackpropPolicy final : public Policy {
  public:
    explicit SelectiveBackpropPolicy(const Config& config)
        : m_config(config), m_beta(param(config, k_beta)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) override;
    std::string name() const override { return std::string(k_name); }

  private:
    Config m_config;
    double m_beta; ///< keep probability = percentile^beta
};

EpochPlan SelectiveBackpropPolicy::plan_epoch(const EpochContext& ctx,
                                              const util::SampleStatsView& stats) {
    check_inputs(ctx, stats);
    const std::size_t n = stats.size();
    EpochPlan plan;
    plan.num_samples = static_cast<std::int64_t>(n);

    // percentile_i = #{j : loss_j <= loss_i} / N from one sort; a tie group shares its top rank.
    std::vector<float> loss(stats.loss.begin(), stats.loss.end());
    for (float& v : loss) {
        if (std::isnan(v)) {
            v = std::numeric_limits<float>::infinity();
        }
    }
    std::vector<std::int64_t> order = all_ids(n);
    std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
        return loss[static_cast<std::size_t>(a)] < loss[static_cast<std::size_t>(b)];
    });
    std::vector<double> percentile(n);
    for (std::size_t k = 0; k < n;) {
        std::size_t end = k + 1;
        const float value = loss[static_cast<std::size_t>(order[k])];
        while (end < n && loss[static_cast<std::size_t>(order[end])] == value) {
            ++end;
        }
        const double p = static_cast<double>(end) / static_cast<double>(n);
        for (; k < end; ++k) {
            percentile[static_cast<std::size_t>(order[k])] = p;
        }
    }

    const std::vector<double> u = uniform_draws(n, m_config.seed, ctx.epoch, k_prune_stream);
    std::vector<std::uint8_t> hidden(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
        if (!(u[i] < std::pow(percentile[i], m_beta))) {
            hidden[i] = 1;
        }
    }
    fill_plan(plan, hidden, {}, m_config.seed, ctx.epoch);
    if (refresh_due(m_config, ctx)) {
        plan.refresh_ids = plan.hidden_ids;
        shuffle(plan.refresh_ids, m_config.seed, ctx.epoch, k_refresh_stream);
    }
    return plan;
}

} // namespace

const StrategyInfo& selective_backprop_strategy() {
    static const StrategyInfo info{
        .name = k_name,
        .summary = "keep samples with probability percentile^beta",
        .shared_keys = {"refresh_every"},
        .params = {{.key = k_beta,
                    .label = "beta",
                    .kind = ParamKind::real,
                    .default_value = 1.0,
                    .bounds = {.lo = 0,
                               .lo_inclusive = true,
                               .hi = std::numeric_limits<double>::infinity(),
                               .hi_inclusive = false},
                    .summary = "a sample is trained with probability percentile^beta of its last "
                               "loss (1: about half)."}},
        .make = [](const Config& c) -> std::unique_ptr<Policy> {
            return std::make_unique<SelectiveBackpropPolicy>(c);
        },
    };
    return info;
}

} // namespace kakuren::hiding::detail

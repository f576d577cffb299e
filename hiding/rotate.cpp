// rotate: kakuren's own strategy. KAKURENBO picks the right samples to hide (low loss, predicted
// right, confidently) but pays a forward pass over every hidden sample each epoch to keep their
// statistics fresh. rotate hides each eligible sample only with probability r, so every eligible
// sample is still trained, and its statistics refreshed for free, about every 1 / (1 - r)
// epochs; the visible eligible samples carry weight 1 / (1 - r) so that the epoch's expected
// gradient is unchanged (InfoBatch's rescaling). The last epochs see the full data.
//
// The plan: the floor(rotate_fraction * N) lowest-loss samples are candidates (lowest_k); a
// candidate that is correct with confidence >= rotate_tau is eligible (else moved back), and an
// eligible sample is hidden when u < rotate_ratio; eligible samples that stay visible get loss
// weight 1 / (1 - rotate_ratio). No refresh pass: a hidden sample's statistics are refreshed the
// next time the draw keeps it. The last rotate_full_epochs epochs hide nothing; max_fraction =
// rotate_ratio while hiding; lr_scale 1.
#include "hiding/strategies.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace kakuren::hiding::detail {
namespace {

constexpr std::string_view k_name = "rotate";
constexpr std::string_view k_fraction = "rotate_fraction";
constexpr std::string_view k_ratio = "rotate_ratio";
constexpr std::string_view k_full_epochs = "rotate_full_epochs";
constexpr std::string_view k_tau = "rotate_tau";

class RotatePolicy final : public Policy {
  public:
    explicit RotatePolicy(const Config& config)
        : m_config(config), m_fraction(param(config, k_fraction)), m_ratio(param(config, k_ratio)),
          m_full_epochs(static_cast<int>(param(config, k_full_epochs))),
          m_tau(param(config, k_tau)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) override;
    std::string name() const override { return std::string(k_name); }

  private:
    Config m_config;
    double m_fraction; ///< lowest-loss share of N considered for hiding
    double m_ratio;    ///< probability that an eligible sample is hidden
    int m_full_epochs; ///< final epochs trained on the full data
    double m_tau;      ///< confidence an eligible sample needs
};

EpochPlan RotatePolicy::plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) {
    check_inputs(ctx, stats);
    const std::size_t n = stats.size();
    EpochPlan plan;
    plan.num_samples = static_cast<std::int64_t>(n);
    std::vector<std::uint8_t> hidden(n, 0);
    if (ctx.epoch >= ctx.num_epochs - m_full_epochs) {
        fill_plan(plan, hidden, {}, m_config.seed, ctx.epoch);
        return plan;
    }
    const double ratio = m_ratio;
    plan.max_fraction = ratio;
    plan.num_candidates = count_of(m_fraction, n);
    const std::vector<std::int64_t> candidates = lowest_k(stats.loss, plan.num_candidates);

    const auto tau = static_cast<float>(m_tau);
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

} // namespace

const StrategyInfo& rotate_strategy() {
    static const StrategyInfo info{
        .name = k_name,
        .summary = "kakuren's fast variant (docs/hiding.md)",
        .shared_keys = {},
        .params = {{.key = k_fraction,
                    .label = "share",
                    .kind = ParamKind::real,
                    .default_value = 0.9,
                    .bounds = {.lo = 0, .lo_inclusive = true, .hi = 1, .hi_inclusive = true},
                    .summary = "share of the training set, lowest loss first, considered for "
                               "hiding (then filtered by hiding.rotate_tau)."},
                   {.key = k_ratio,
                    .label = "r",
                    .kind = ParamKind::real,
                    .default_value = 0.65,
                    .bounds = {.lo = 0, .lo_inclusive = true, .hi = 1, .hi_inclusive = false},
                    .summary = "probability that an eligible sample is hidden in an epoch; the "
                               "eligible ones trained get loss weight 1/(1-ratio)."},
                   {.key = k_full_epochs,
                    .label = "full",
                    .kind = ParamKind::integer,
                    .default_value = 1,
                    .bounds = {.lo = 0, .lo_inclusive = true},
                    .summary = "the last k epochs train on every sample."},
                   {.key = k_tau,
                    .label = "tau",
                    .kind = ParamKind::real,
                    .default_value = 0.9,
                    .bounds = {.lo = 0, .lo_inclusive = true, .hi = 1, .hi_inclusive = true},
                    .summary = "a candidate may be hidden only if predicted correctly with "
                               "confidence >= rotate_tau."}},
        .make = [](const Config& c) -> std::unique_ptr<Policy> {
            return std::make_unique<RotatePolicy>(c);
        },
    };
    return info;
}

} // namespace kakuren::hiding::detail

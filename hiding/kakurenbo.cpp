// kakurenbo: KAKURENBO as the reference code runs it (see shared/notes/hiding-methods.md).
// Per epoch: num_candidates = floor(F_e * N) lowest-loss samples (lowest_k); a candidate is hidden
// only if correct == 1, its loss is not NaN and confidence >= tau (compared in float:
// confidence >= float(tau)); the other candidates stay visible (num_moved_back) and their slots
// are not refilled. A NaN loss is never hidden (it ranks as +inf, so it is a candidate only when
// num_candidates exceeds the non-NaN count, and then it is moved back). Hiding is active during
// LR warm-up; only the LR scale waits for its end. The hidden ids get a forward refresh when
// refresh_due; lr_scale as lr_scale().
#include "hiding/strategies.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>

namespace kakuren::hiding::detail {
namespace {

constexpr std::string_view k_name = "kakurenbo";

class KakurenboPolicy final : public Policy {
  public:
    explicit KakurenboPolicy(Config config) : m_config(std::move(config)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) override;
    std::string name() const override { return std::string(k_name); }

  private:
    Config m_config;
};

EpochPlan KakurenboPolicy::plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) {
    check_inputs(ctx, stats);
    const std::size_t n = stats.size();
    EpochPlan plan;
    plan.num_samples = static_cast<std::int64_t>(n);
    plan.max_fraction = scheduled_fraction(m_config, ctx);

    plan.num_candidates = count_of(plan.max_fraction, n);
    const std::vector<std::int64_t> candidates = lowest_k(stats.loss, plan.num_candidates);

    // The stats are float; comparing against float(tau) makes "confidence == tau" hide whatever
    // the rounding of tau (0.7 is not a float: 0.7f < 0.7).
    const auto tau = static_cast<float>(m_config.tau);
    std::vector<std::uint8_t> hidden(n, 0);
    plan.hidden_ids.reserve(candidates.size());
    for (const std::int64_t id : candidates) {
        const auto i = static_cast<std::size_t>(id);
        // Move-back: a wrong or unconfident candidate stays visible; its slot is not refilled.
        // A NaN loss means the sample's stats are broken: always train it.
        if (stats.correct[i] == 1 && stats.confidence[i] >= tau && !std::isnan(stats.loss[i])) {
            hidden[i] = 1;
            plan.hidden_ids.push_back(id);
        } else {
            ++plan.num_moved_back;
        }
    }

    plan.train_ids.reserve(n - plan.hidden_ids.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (hidden[i] == 0) {
            plan.train_ids.push_back(static_cast<std::int64_t>(i));
        }
    }
    shuffle(plan.train_ids, m_config.seed, ctx.epoch, k_train_stream);

    if (refresh_due(m_config, ctx)) {
        plan.refresh_ids = plan.hidden_ids;
        shuffle(plan.refresh_ids, m_config.seed, ctx.epoch, k_refresh_stream);
    }
    plan.lr_scale = lr_scale(m_config, ctx, plan.realised_fraction());
    return plan;
}

} // namespace

const StrategyInfo& kakurenbo_strategy() {
    static const StrategyInfo info{
        .name = k_name,
        .summary = "hide the easiest samples each epoch (the reference algorithm)",
        .shared_keys = {"fraction", "tau", "fraction_decay", "lr_compensation", "refresh_every"},
        .params = {},
        .make = [](const Config& c) -> std::unique_ptr<Policy> {
            return std::make_unique<KakurenboPolicy>(c);
        },
    };
    return info;
}

} // namespace kakuren::hiding::detail

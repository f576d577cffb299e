// iswr: importance sampling with replacement. Epoch 0 as none. From epoch 1 (after the trainer's
// full refresh, see wants_full_refresh) N ids are drawn with replacement, P(i) = w_i / sum w,
// w_i = loss_i (non-finite: the largest finite loss; negative: 0; all zero: uniform), u from
// k_draw_stream, id = first with cumulative weight > u * sum; train_ids is the draw order,
// hidden_ids the ids never drawn, no weights, lr_scale 1.
#include "hiding/rng.hpp"
#include "hiding/strategies.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>

namespace kakuren::hiding::detail {
namespace {

constexpr std::string_view k_name = "iswr";

class IswrPolicy final : public Policy {
  public:
    explicit IswrPolicy(Config config) : m_config(std::move(config)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) override;
    std::string name() const override { return std::string(k_name); }
    bool wants_full_refresh(const EpochContext& ctx) const override { return ctx.epoch >= 1; }

  private:
    Config m_config;
};

EpochPlan IswrPolicy::plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) {
    check_inputs(ctx, stats);
    const std::size_t n = stats.size();
    EpochPlan plan;
    plan.num_samples = static_cast<std::int64_t>(n);
    std::vector<std::uint8_t> hidden(n, 0);
    if (!wants_full_refresh(ctx) || n == 0) {
        // Epoch 0: no losses yet; one ordinary epoch over every sample.
        fill_plan(plan, hidden, {}, m_config.seed, ctx.epoch);
        return plan;
    }

    float largest = 0.0F;
    for (const float loss : stats.loss) {
        if (std::isfinite(loss)) {
            largest = std::max(largest, loss);
        }
    }
    // Cumulative weights in id order; a broken (non-finite) loss counts as the largest one.
    std::vector<double> cumulative(n);
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const float loss = stats.loss[i];
        const float w = std::isfinite(loss) ? std::max(loss, 0.0F) : largest;
        total += static_cast<double>(w);
        cumulative[i] = total;
    }
    const bool uniform = !(total > 0.0);

    Xoshiro256 rng(mix_seed(m_config.seed, ctx.epoch, k_draw_stream));
    plan.train_ids.resize(n);
    std::vector<std::uint8_t> drawn(n, 0);
    for (std::size_t k = 0; k < n; ++k) {
        std::size_t id = 0;
        if (uniform) {
            id = static_cast<std::size_t>(rng.below(n));
        } else {
            const double target = rng.uniform01() * total;
            const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), target);
            // target < total, so it is found; the guard is for rounding at the very top.
            id = std::min(static_cast<std::size_t>(it - cumulative.begin()), n - 1);
        }
        plan.train_ids[k] = static_cast<std::int64_t>(id);
        drawn[id] = 1;
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (drawn[i] == 0) {
            plan.hidden_ids.push_back(static_cast<std::int64_t>(i));
        }
    }
    return plan;
}

} // namespace

const StrategyInfo& iswr_strategy() {
    static const StrategyInfo info{
        .name = k_name,
        .summary = "importance sampling with replacement",
        .shared_keys = {},
        .params = {},
        .make = [](const Config& c) -> std::unique_ptr<Policy> {
            return std::make_unique<IswrPolicy>(c);
        },
    };
    return info;
}

} // namespace kakuren::hiding::detail

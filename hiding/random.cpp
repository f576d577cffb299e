// random: from epoch 0, hides floor(F_e * N) ids chosen uniformly (the first of
// shuffle(all ids, .., k_prune_stream)); num_candidates = that count; no refresh; lr_scale as
// kakurenbo. The control that tells whether choosing *which* samples to hide matters.
#include "hiding/strategies.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>

namespace kakuren::hiding::detail {
namespace {

constexpr std::string_view k_name = "random";

class RandomPolicy final : public Policy {
  public:
    explicit RandomPolicy(Config config) : m_config(std::move(config)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) override;
    std::string name() const override { return std::string(k_name); }

  private:
    Config m_config;
};

EpochPlan RandomPolicy::plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) {
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

} // namespace

const StrategyInfo& random_strategy() {
    static const StrategyInfo info{
        .name = k_name,
        .summary = "hide a random F_e share",
        .shared_keys = {"fraction", "fraction_decay", "lr_compensation"},
        .params = {},
        .make = [](const Config& c) -> std::unique_ptr<Policy> {
            return std::make_unique<RandomPolicy>(c);
        },
    };
    return info;
}

} // namespace kakuren::hiding::detail

// none: full data. Every id is trained each epoch (shuffled), nothing is hidden, max_fraction 0,
// lr_scale 1. The baseline every other strategy is compared against.
#include <utility>

#include "hiding/strategies.hpp"

namespace kakuren::hiding::detail {
namespace {

constexpr std::string_view k_name = "none";

class NonePolicy final : public Policy {
  public:
    explicit NonePolicy(Config config) : m_config(std::move(config)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) override;
    std::string name() const override { return std::string(k_name); }

  private:
    Config m_config;
};

EpochPlan NonePolicy::plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) {
    check_inputs(ctx, stats);
    EpochPlan plan;
    plan.num_samples = static_cast<std::int64_t>(stats.size());
    plan.train_ids = all_ids(stats.size());
    shuffle(plan.train_ids, m_config.seed, ctx.epoch, k_train_stream);
    return plan;
}

} // namespace

const StrategyInfo& none_strategy() {
    static const StrategyInfo info{
        .name = k_name,
        .summary = "train on every sample",
        .shared_keys = {},
        .params = {},
        .make = [](const Config& c) -> std::unique_ptr<Policy> {
            return std::make_unique<NonePolicy>(c);
        },
    };
    return info;
}

} // namespace kakuren::hiding::detail

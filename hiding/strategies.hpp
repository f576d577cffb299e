#pragma once
// Private to hiding/: the concrete policies behind make_policy. Each strategy is one class; the
// helpers they share (lowest_k, shuffle, scheduled_fraction, lr_scale) are free functions.
#include "hiding/policy.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kakuren::hiding::detail {

/// Throws std::invalid_argument unless the three spans have one length and ctx.epoch >= 0.
void check_inputs(const EpochContext& ctx, const SampleStatsView& stats);

/// Ids 0 .. n-1 in ascending order.
std::vector<std::int64_t> all_ids(std::size_t n);

/// Full data: every sample trained every epoch, in a fresh order.
class NonePolicy final : public Policy {
  public:
    explicit NonePolicy(Config config) : m_config(std::move(config)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) override;
    std::string name() const override { return to_string(Strategy::none); }

  private:
    Config m_config;
};

/// KAKURENBO as the reference code runs it (see shared/notes/hiding-methods.md).
class KakurenboPolicy final : public Policy {
  public:
    explicit KakurenboPolicy(Config config) : m_config(std::move(config)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) override;
    std::string name() const override { return to_string(Strategy::kakurenbo); }

  private:
    Config m_config;
};

} // namespace kakuren::hiding::detail

#pragma once
// Private to hiding/: the concrete policies behind make_policy. Each strategy is one class; the
// helpers they share (lowest_k, shuffle, scheduled_fraction, lr_scale) are free functions.
#include "hiding/policy.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kakuren::hiding::detail {

/// Throws std::invalid_argument unless the three spans have one length and ctx.epoch >= 0.
void check_inputs(const EpochContext& ctx, const SampleStatsView& stats);

/// floor(fraction * n) clamped to [0, n), guarded against products such as
/// 0.99 * 100 = 98.99999999999999: how many samples a fraction of n selects.
std::int64_t count_of(double fraction, std::size_t n);

/// Ids 0 .. n-1 in ascending order.
std::vector<std::int64_t> all_ids(std::size_t n);

/// Sets plan.hidden_ids (ids with hidden[i] != 0, ascending) and plan.train_ids (the others,
/// ascending, permuted by shuffle(.., seed, epoch, k_train_stream)); plan.train_weights holds
/// weights[id] per train entry when some visible id's weight differs from 1, else stays empty.
/// weights is empty (all 1) or as long as hidden.
void fill_plan(EpochPlan& plan, std::span<const std::uint8_t> hidden,
               std::span<const float> weights, std::uint64_t seed, int epoch);

/// n uniform draws in [0, 1) from (seed, epoch, stream), one per sample in ascending id order.
std::vector<double> uniform_draws(std::size_t n, std::uint64_t seed, int epoch,
                                  std::uint64_t stream);

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

/// Uniform random dynamic hiding of floor(F_e * N) samples (random.cpp).
class RandomPolicy final : public Policy {
  public:
    explicit RandomPolicy(Config config) : m_config(std::move(config)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) override;
    std::string name() const override { return to_string(Strategy::random); }

  private:
    Config m_config;
};

/// InfoBatch: soft pruning of below-mean-loss samples with rescaled losses (infobatch.cpp).
class InfoBatchPolicy final : public Policy {
  public:
    explicit InfoBatchPolicy(Config config) : m_config(std::move(config)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) override;
    std::string name() const override { return to_string(Strategy::infobatch); }

  private:
    Config m_config;
};

/// Importance sampling with replacement from a full forward pass (iswr.cpp).
class IswrPolicy final : public Policy {
  public:
    explicit IswrPolicy(Config config) : m_config(std::move(config)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) override;
    std::string name() const override { return to_string(Strategy::iswr); }
    bool wants_full_refresh(const EpochContext& ctx) const override { return ctx.epoch >= 1; }

  private:
    Config m_config;
};

/// Selective Backprop at epoch level: keep with probability percentile^beta
/// (selective_backprop.cpp).
class SelectiveBackpropPolicy final : public Policy {
  public:
    explicit SelectiveBackpropPolicy(Config config) : m_config(std::move(config)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) override;
    std::string name() const override { return to_string(Strategy::selective_backprop); }

  private:
    Config m_config;
};

/// kakuren's rotate: KAKURENBO's candidates, hidden at random and reweighted, no refresh pass
/// (rotate.cpp).
class RotatePolicy final : public Policy {
  public:
    explicit RotatePolicy(Config config) : m_config(std::move(config)) {}
    EpochPlan plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) override;
    std::string name() const override { return to_string(Strategy::rotate); }

  private:
    Config m_config;
};

} // namespace kakuren::hiding::detail

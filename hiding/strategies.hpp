#pragma once
// Private to hiding/: the helpers the strategies share. Each strategy is one class in its own file
// (hiding/<name>.cpp), which also defines its registry entry (hiding/registry.hpp); the public
// helpers (lowest_k, shuffle, scheduled_fraction, lr_scale) are in policy.hpp.
#include "hiding/policy.hpp"
#include "hiding/registry.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kakuren::hiding::detail {

/// Asserts that the three spans have one length and ctx.epoch >= 0 (the caller's promise).
void check_inputs(const EpochContext& ctx, const util::SampleStatsView& stats);

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

} // namespace kakuren::hiding::detail

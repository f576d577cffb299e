#pragma once
// Test helper: owns per-sample stats and hands out the view the policies read.
#include "hiding/policy.hpp"
#include "hiding/registry.hpp"
#include "hiding/rng.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace kakuren::hiding::testing {

struct Stats {
    std::vector<float> loss;
    std::vector<std::uint8_t> correct;
    std::vector<float> confidence;

    /// n samples in the initial state of a run: loss 1, wrong, confidence 0.
    static Stats initial(std::size_t n) {
        return Stats{std::vector<float>(n, 1.0F), std::vector<std::uint8_t>(n, 0),
                     std::vector<float>(n, 0.0F)};
    }
    /// n samples with the given losses, all correct and fully confident.
    static Stats confident(std::vector<float> losses) {
        const std::size_t n = losses.size();
        return Stats{std::move(losses), std::vector<std::uint8_t>(n, 1),
                     std::vector<float>(n, 1.0F)};
    }
    util::SampleStatsView view() const { return {loss, correct, confidence}; }
};

inline std::vector<std::int64_t> sorted(std::vector<std::int64_t> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
}

/// The n uniform draws a strategy makes from (seed, epoch, stream), one per id in order: the
/// spec's u_i (xoshiro256** seeded by mix_seed, top 53 bits / 2^53).
inline std::vector<double> draws(std::size_t n, std::uint64_t seed, int epoch,
                                 std::uint64_t stream) {
    detail::Xoshiro256 rng(detail::mix_seed(seed, epoch, stream));
    std::vector<double> u(n);
    for (auto& x : u) {
        x = static_cast<double>(rng.next() >> 11) / 9007199254740992.0; // 2^53
    }
    return u;
}

/// Loss weight of each trained id (1 when the plan has no weights); ids must not repeat.
inline std::vector<float> weight_by_id(const EpochPlan& plan) {
    std::vector<float> w(static_cast<std::size_t>(plan.num_samples), 0.0F);
    for (std::size_t k = 0; k < plan.train_ids.size(); ++k) {
        w[static_cast<std::size_t>(plan.train_ids[k])] =
            plan.train_weights.empty() ? 1.0F : plan.train_weights[k];
    }
    return w;
}

/// Every registered strategy's name: a test looping over it covers a new strategy unasked.
inline std::vector<std::string> all_strategy_names() {
    std::vector<std::string> names;
    for (const StrategyInfo* s : strategies()) {
        names.emplace_back(s->name);
    }
    return names;
}

} // namespace kakuren::hiding::testing

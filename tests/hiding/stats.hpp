#pragma once
// Test helper: owns per-sample stats and hands out the view the policies read.
#include "hiding/policy.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
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
    SampleStatsView view() const { return SampleStatsView{loss, correct, confidence}; }
};

inline std::vector<std::int64_t> sorted(std::vector<std::int64_t> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
}

} // namespace kakuren::hiding::testing

#pragma once
// Stores a batch's outcome (torch tensors) into the run's per-sample statistics
// (util::SampleStats, the one owner of them; the hiding policy, an epoch's result, a checkpoint
// and the database all read its view). Private to trainer/ (torch).
#include <cstddef>
#include <cstdint>
#include <span>

#include <torch/torch.h>

#include "trainer/task.hpp"
#include "util/sample_stats.hpp"

namespace kakuren::trainer {

/// Entry k of `out` belongs to ids[k] (losses and confidence float32, correct bool, all without
/// a graph, length ids.size(), on the host). In order, so a sample listed twice (draws with
/// replacement) keeps its last entry, on every rank alike.
inline void store_outcome(util::SampleStats& stats, std::span<const std::int64_t> ids,
                          const Outcome& out) {
    const torch::Tensor l = out.losses.contiguous();
    const torch::Tensor k = out.correct.contiguous();
    const torch::Tensor c = out.confidence.contiguous();
    const float* lp = l.data_ptr<float>();
    const bool* kp = k.data_ptr<bool>();
    const float* cp = c.data_ptr<float>();
    const std::span<float> loss = stats.loss();
    const std::span<std::uint8_t> correct = stats.correct();
    const std::span<float> confidence = stats.confidence();
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto id = static_cast<std::size_t>(ids[i]);
        loss[id] = lp[i];
        correct[id] = kp[i] ? 1 : 0;
        confidence[id] = cp[i];
    }
}

} // namespace kakuren::trainer

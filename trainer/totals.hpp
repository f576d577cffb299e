#pragma once
// Totals: the loss and correct-count sums of one training phase. Private to trainer/ (torch).
#include <algorithm>
#include <cstdint>
#include <utility>

#include <torch/torch.h>

#include "checkpoint/state.hpp"

namespace kakuren::trainer {

/// Sums over one training phase. The loss sum adds each batch's float sum (torch's, so that the
/// bits do not depend on how this code sums) in double; the correct count is exact.
struct Totals {
    double loss_sum = 0;
    std::int64_t correct_sum = 0;
    std::int64_t count = 0;

    /// Adds a batch; returns the batch's loss sum (not finite when a loss was not).
    double add(const torch::Tensor& losses, const torch::Tensor& correct_mask) {
        const auto batch_sum = static_cast<double>(losses.sum().item<float>());
        loss_sum += batch_sum;
        const torch::Tensor mask = correct_mask.contiguous();
        const bool* c = mask.data_ptr<bool>();
        correct_sum += std::count(c, c + mask.numel(), true);
        count += losses.size(0);
        return batch_sum;
    }
    /// (mean loss, fraction correct); (0, 0) before the first batch.
    [[nodiscard]] std::pair<double, double> means() const {
        if (count == 0) {
            return {0.0, 0.0};
        }
        return {loss_sum / static_cast<double>(count),
                static_cast<double>(correct_sum) / static_cast<double>(count)};
    }
    /// The raw sums, for a checkpoint; restore() puts them back exactly.
    void save(checkpoint::LoopState& out) const {
        out.train_loss_sum = loss_sum;
        out.train_correct = correct_sum;
        out.train_count = count;
    }
    void restore(const checkpoint::LoopState& in) {
        loss_sum = in.train_loss_sum;
        correct_sum = in.train_correct;
        count = in.train_count;
    }
};

} // namespace kakuren::trainer

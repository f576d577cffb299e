#pragma once
// The per-sample state over all N training samples: last loss, correct, confidence. The trainer
// owns it here; the hiding policy plans from a hiding::SampleStatsView of it and a checkpoint
// saves spans of it. The database and the checkpoint store still copy it into types of their own
// (db::SampleState, checkpoint::Resume). Private to trainer/ (torch).
#include <cstdint>
#include <span>
#include <vector>

#include <torch/torch.h>

#include "hiding/policy.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {

class SampleState {
  public:
    /// N samples, each "never measured": loss 1, not correct, confidence 0.
    explicit SampleState(std::int64_t n)
        : m_loss(static_cast<std::size_t>(n), 1.0F), m_correct(static_cast<std::size_t>(n), 0),
          m_confidence(static_cast<std::size_t>(n), 0.0F) {}

    [[nodiscard]] std::int64_t size() const { return static_cast<std::int64_t>(m_loss.size()); }
    [[nodiscard]] hiding::SampleStatsView view() const { return {m_loss, m_correct, m_confidence}; }

    /// Stores a batch's outcome: entry k belongs to ids[k] (losses and confidence float32,
    /// correct bool, all without a graph, contiguous, length ids.size()). In order, so a sample
    /// listed twice (draws with replacement) keeps its last entry, on every rank alike.
    void store(std::span<const std::int64_t> ids, const torch::Tensor& losses,
               const torch::Tensor& correct, const torch::Tensor& confidence) {
        const torch::Tensor l = losses.contiguous();
        const torch::Tensor k = correct.contiguous();
        const torch::Tensor c = confidence.contiguous();
        const float* lp = l.data_ptr<float>();
        const bool* kp = k.data_ptr<bool>();
        const float* cp = c.data_ptr<float>();
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const auto id = static_cast<std::size_t>(ids[i]);
            m_loss[id] = lp[i];
            m_correct[id] = kp[i] ? 1 : 0;
            m_confidence[id] = cp[i];
        }
    }

    /// Replaces the whole state (a checkpoint's); the view's spans must have size() entries.
    void assign(const hiding::SampleStatsView& from) {
        m_loss.assign(from.loss.begin(), from.loss.end());
        m_correct.assign(from.correct.begin(), from.correct.end());
        m_confidence.assign(from.confidence.begin(), from.confidence.end());
    }

  private:
    std::vector<float> m_loss;
    std::vector<std::uint8_t> m_correct;
    std::vector<float> m_confidence;
};

} // namespace kakuren::trainer

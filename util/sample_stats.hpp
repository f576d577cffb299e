#pragma once
// The per-sample record over all N training samples: last loss, correct, confidence. One owner
// (SampleStats: the trainer's live state, a checkpoint or the database's latest state loaded
// back) and one view of it (SampleStatsView: what the hiding policy plans from, what an epoch's
// result and a checkpoint snapshot hand over, what the store records). Field order everywhere:
// loss, correct, confidence. Header-only and torch-free, so every layer may use it.
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "util/assert.hpp"

namespace kakuren::util {

/// Read-only view of per-sample statistics (all spans have the same length N). loss: last
/// recorded loss (NaN is treated as +inf by the hiding policies); correct: 1 if the task counted
/// the sample correct; confidence: prediction confidence in [0, 1]. Valid while its owner lives
/// and keeps its size.
struct SampleStatsView {
    std::span<const float> loss;
    std::span<const std::uint8_t> correct;
    std::span<const float> confidence;
    [[nodiscard]] std::size_t size() const { return loss.size(); }
};

/// Owns the per-sample statistics of N samples; the three arrays always have the same length.
class SampleStats {
  public:
    /// No samples.
    SampleStats() = default;
    /// n samples, each "never measured": loss 1, not correct, confidence 0.
    explicit SampleStats(std::size_t n) : m_loss(n, 1.0F), m_correct(n, 0), m_confidence(n, 0.0F) {}
    /// Takes three arrays of the same length (a caller's promise: loaders check lengths first).
    SampleStats(std::vector<float> loss, std::vector<std::uint8_t> correct,
                std::vector<float> confidence)
        : m_loss(std::move(loss)), m_correct(std::move(correct)),
          m_confidence(std::move(confidence)) {
        KAKUREN_ASSERT(m_correct.size() == m_loss.size() && m_confidence.size() == m_loss.size(),
                       "SampleStats: loss, correct and confidence differ in length");
    }
    /// A copy of a view's statistics.
    explicit SampleStats(const SampleStatsView& from) { assign(from); }

    [[nodiscard]] std::size_t size() const { return m_loss.size(); }
    [[nodiscard]] SampleStatsView view() const { return {m_loss, m_correct, m_confidence}; }

    /// Read access.
    [[nodiscard]] std::span<const float> loss() const { return m_loss; }
    [[nodiscard]] std::span<const std::uint8_t> correct() const { return m_correct; }
    [[nodiscard]] std::span<const float> confidence() const { return m_confidence; }
    /// Write access to the entries (the size stays).
    [[nodiscard]] std::span<float> loss() { return m_loss; }
    [[nodiscard]] std::span<std::uint8_t> correct() { return m_correct; }
    [[nodiscard]] std::span<float> confidence() { return m_confidence; }

    /// Replaces the whole state (and its size) with a copy of the view's; the view's spans must
    /// have the same length.
    void assign(const SampleStatsView& from) {
        KAKUREN_ASSERT(from.correct.size() == from.loss.size() &&
                           from.confidence.size() == from.loss.size(),
                       "SampleStats::assign: loss, correct and confidence differ in length");
        m_loss.assign(from.loss.begin(), from.loss.end());
        m_correct.assign(from.correct.begin(), from.correct.end());
        m_confidence.assign(from.confidence.begin(), from.confidence.end());
    }

    friend bool operator==(const SampleStats&, const SampleStats&) = default;

  private:
    std::vector<float> m_loss;
    std::vector<std::uint8_t> m_correct;
    std::vector<float> m_confidence;
};

} // namespace kakuren::util

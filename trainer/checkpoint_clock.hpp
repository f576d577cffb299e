#pragma once
// CheckpointClock: when the run's next checkpoint is due. Torch-free.
#include <cstdint>
#include <optional>

#include "checkpoint/state.hpp"
#include "trainer/clock.hpp"

namespace kakuren::trainer {

/// Owns the recipe's checkpoint schedule (none: no checkpoints), the position saved last, and
/// the batches and time since then.
class CheckpointClock {
  public:
    explicit CheckpointClock(const std::optional<checkpoint::Config>& config) {
        if (config) {
            m_schedule.emplace(*config);
        }
    }
    /// Whether the run writes checkpoints at all.
    [[nodiscard]] bool enabled() const { return m_schedule.has_value(); }
    /// The attempt starts at `now`: the seconds between checkpoints count from here.
    void start(Clock::time_point now) { m_last_time = now; }
    /// A training step or refresh batch was done.
    void count_batch() { ++m_batches_since; }
    /// Before the next batch inside an epoch: why a checkpoint is due now (steps before
    /// seconds), or nullopt.
    [[nodiscard]] std::optional<checkpoint::Reason> due_within_epoch(Clock::time_point now) const;
    /// At the end of 1-based `epoch` (last: the run's last epoch).
    [[nodiscard]] bool due_at_epoch_end(int epoch, bool last) const {
        return m_schedule && m_schedule->due_at_epoch_end(epoch, last);
    }
    /// Whether `pos` is the position saved last (by this attempt, or the one resumed from).
    [[nodiscard]] bool saved_at(const checkpoint::Position& pos) const {
        return m_last && *m_last == pos;
    }
    /// A checkpoint of `pos` was handed over at `now`.
    void saved(const checkpoint::Position& pos, Clock::time_point now) {
        m_last = pos;
        m_batches_since = 0;
        m_last_time = now;
    }
    /// A resume from the checkpoint at `pos`: it is not written again.
    void load_state(const checkpoint::Position& pos) { m_last = pos; }

  private:
    std::optional<checkpoint::Schedule> m_schedule;
    std::optional<checkpoint::Position> m_last;
    std::int64_t m_batches_since = 0;
    Clock::time_point m_last_time;
};

inline std::optional<checkpoint::Reason>
CheckpointClock::due_within_epoch(Clock::time_point now) const {
    if (!m_schedule ||
        !m_schedule->due_within_epoch(m_batches_since, seconds_between(m_last_time, now))) {
        return std::nullopt;
    }
    const checkpoint::Config& c = m_schedule->config();
    return c.every_steps > 0 && m_batches_since >= c.every_steps ? checkpoint::Reason::steps
                                                                 : checkpoint::Reason::seconds;
}

} // namespace kakuren::trainer

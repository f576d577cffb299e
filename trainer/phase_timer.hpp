#pragma once
// PhaseTimer: the clocks of the run and of its timed phase in progress. Torch-free.
#include "checkpoint/state.hpp"
#include "trainer/clock.hpp"

namespace kakuren::trainer {

/// Owns when this attempt began, the timed phase in progress (training or refresh), its start
/// in this process and the seconds it took before a resume, and when progress was last reported.
class PhaseTimer {
  public:
    enum class Phase { other, train, refresh };

    /// The attempt starts at `now`.
    void start_run(Clock::time_point now) { m_run_start = m_last_progress = now; }
    /// `phase` starts now, after `before_s` seconds of it before a resume; returns its start.
    Clock::time_point begin(Phase phase, double before_s) {
        m_phase_start = Clock::now();
        m_phase_base_s = before_s;
        m_phase = phase;
        return m_phase_start;
    }
    /// The timed phase ends now: returns its seconds, those before a resume included.
    double end() {
        m_phase = Phase::other;
        return m_phase_base_s + seconds_between(m_phase_start, Clock::now());
    }
    /// Mid-epoch (loop.position set): the phase in progress's seconds so far, in place of the
    /// recorded loop.train_s or loop.hidden_pass_s.
    void state(checkpoint::LoopState& loop) const {
        if (loop.position.epoch_end || m_phase == Phase::other) {
            return;
        }
        const double phase_s = m_phase_base_s + seconds_between(m_phase_start, Clock::now());
        (m_phase == Phase::train ? loop.train_s : loop.hidden_pass_s) = phase_s;
    }
    /// Whether a progress report is due at `now` (`force`, or `interval_s` since the last one);
    /// if so, `now` is the last one.
    bool progress_due(Clock::time_point now, bool force, double interval_s) {
        if (!force && seconds_between(m_last_progress, now) < interval_s) {
            return false;
        }
        m_last_progress = now;
        return true;
    }
    /// Seconds since the attempt started.
    [[nodiscard]] double elapsed_s(Clock::time_point now) const {
        return seconds_between(m_run_start, now);
    }

  private:
    Clock::time_point m_run_start, m_last_progress;
    Clock::time_point m_phase_start;
    double m_phase_base_s = 0;
    Phase m_phase = Phase::other;
};

} // namespace kakuren::trainer

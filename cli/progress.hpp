#pragma once
// The numbers of the live progress line: an instantaneous samples/s (a moving average over the
// last few seconds of the phase, not the phase's running average), the ETA of the epoch and of
// the run, each labelled, and the running training loss. Pure: the clock is
// StepProgress::elapsed_s, so tests feed it any times they like.
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "trainer/trainer.hpp"

namespace kakuren::cli {

class ProgressMeter {
  public:
    /// The rate is measured over (at least) the last window_s seconds of the phase.
    explicit ProgressMeter(double window_s = 5.0) : m_window_s(window_s) {}

    /// One progress report. A new phase or epoch starts a new window.
    void add(const trainer::StepProgress& p);
    /// The epoch in progress ended: its phases' seconds estimate those of the next epochs.
    void epoch_done(const trainer::EpochResult& r);

    /// Samples per second over the window; until two reports span some time, the phase's
    /// average (what the trainer reports). 0 before any report.
    [[nodiscard]] double samples_per_s() const;
    /// Seconds until the epoch in progress ends: the phase's remaining steps at the window's
    /// step rate, plus the later phases (train, then refresh, then eval) as long as they took in
    /// the last finished epoch (nothing for them before one has finished). nullopt before any
    /// report, or while no step has been timed.
    [[nodiscard]] std::optional<double> epoch_eta_s() const;
    /// Seconds until the run ends: epoch_eta_s plus each later epoch as long as the mean
    /// finished epoch (before one has finished: this epoch's elapsed time plus its ETA).
    [[nodiscard]] std::optional<double> run_eta_s() const;
    /// "2,412 samples/s  loss 0.4123  epoch eta 0:12, run eta 3:40" (no loss before the first
    /// step, "?" for an unknown ETA).
    [[nodiscard]] std::string text() const;

  private:
    struct Point {
        double t = 0;
        std::int64_t step = 0, samples = 0;
    };
    [[nodiscard]] double steps_per_s() const;

    double m_window_s;
    std::deque<Point> m_points; ///< this phase's reports, oldest first, spanning the window
    trainer::StepProgress m_last;
    bool m_any = false;
    double m_epoch_start_t = 0; ///< the clock when the epoch in progress began (about)
    double m_last_train_s = 0, m_last_refresh_s = 0, m_last_eval_s = 0;
    double m_done_s = 0; ///< the finished epochs' seconds, summed
    int m_done = 0;      ///< finished epochs seen
};

} // namespace kakuren::cli

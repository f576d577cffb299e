#pragma once
// What an attempt does with each event of the training loop (trainer::Observer), in three parts
// with one job each: RunRecords writes the database and the checkpoints, TrainLog writes the
// run's train.log, ProgressDisplay shows the live bar and the epoch lines. Recorder hands each
// event to the parts that want it.
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "checkpoint/manager.hpp"
#include "cli/progress.hpp"
#include "db/store.hpp"
#include "launcher/watchdog.hpp"
#include "trainer/trainer.hpp"

namespace kakuren::cli {

/// One epoch as the text log and the terminal show it (loss, metric, lr, hidden beside the
/// requested fraction, times, the hidden set's digest).
std::string epoch_line(const trainer::EpochResult& r, int num_epochs, std::int64_t num_samples);

/// The run's records in the database: the number of samples, each epoch with its per-sample
/// statistics and hidden set, and each checkpoint (written through the checkpoint manager).
class RunRecords {
  public:
    /// checkpoints: nullptr when the attempt writes none. record = false (ranks other than 0):
    /// nothing is written.
    RunRecords(db::Store& store, std::string run_id, checkpoint::Manager* checkpoints, bool record)
        : m_store(store), m_run_id(std::move(run_id)), m_checkpoints(checkpoints),
          m_record(record) {}
    /// Called before anything is written; throws when this process no longer owns the run.
    void set_owner_check(std::function<void()> check) { m_check_owner = std::move(check); }
    void start(std::int64_t num_train);
    void epoch(const trainer::EpochResult& r, const std::string& ended_at);
    /// nullopt when the attempt writes no checkpoints.
    std::optional<db::CheckpointRow> checkpoint(const checkpoint::Snapshot& snapshot);

  private:
    db::Store& m_store;
    std::string m_run_id;
    checkpoint::Manager* m_checkpoints;
    bool m_record;
    std::function<void()> m_check_owner = [] {};
};

/// The run's train.log: one timestamped line at the start, per epoch and per checkpoint.
class TrainLog {
  public:
    explicit TrainLog(std::ostream& out) : m_out(out) {}
    void start(std::int64_t num_train, std::int64_t num_test);
    void epoch(const std::string& ended_at, const std::string& line);
    void checkpoint(const db::CheckpointRow& row, const checkpoint::Snapshot& snapshot,
                    double write_s);

  private:
    std::ostream& m_out;
};

/// The terminal: a live progress bar on stderr (live_bar) and one line per epoch on line_out
/// (lines).
class ProgressDisplay {
  public:
    ProgressDisplay(bool live_bar, bool lines, std::ostream& line_out)
        : m_live_bar(live_bar), m_lines(lines), m_line_out(line_out) {}
    void progress(const trainer::StepProgress& p);
    void epoch(const trainer::EpochResult& r, const std::string& line);
    void clear_bar();

  private:
    bool m_live_bar;
    bool m_lines;
    std::ostream& m_line_out;
    ProgressMeter m_meter; ///< samples/s over the last seconds, the epoch's and run's ETA
    bool m_bar_shown = false;
};

/// The attempt's observer: hands each event to the records, the log and the display.
class Recorder : public trainer::Observer {
  public:
    /// record = false (ranks other than 0): epoch lines and progress only, no database writes.
    Recorder(db::Store& store, std::string run_id, std::ostream& log, bool live_bar, bool lines,
             std::ostream& line_out, int num_epochs, checkpoint::Manager* checkpoints, bool record)
        : m_records(store, std::move(run_id), checkpoints, record), m_log(log),
          m_display(live_bar, lines, line_out), m_num_epochs(num_epochs) {}

    /// Called before anything is recorded; throws when this process no longer owns the run.
    void set_owner_check(std::function<void()> check) {
        m_records.set_owner_check(std::move(check));
    }
    void on_start(std::int64_t num_train, std::int64_t num_test) override;
    void on_progress(const trainer::StepProgress& p) override { m_display.progress(p); }
    void on_epoch(const trainer::EpochResult& r) override;
    void on_stopping() override;
    void on_checkpoint(const checkpoint::Snapshot& snapshot) override;

    /// Asks the attempt to pause (checkpoint and stop) once this epoch is done.
    void pause_after(int epoch) { m_pause_after = epoch; }
    void clear_bar() { m_display.clear_bar(); }
    [[nodiscard]] const std::optional<std::string>& last_checkpoint() const {
        return m_last_checkpoint;
    }
    void set_last_checkpoint(std::string name) { m_last_checkpoint = std::move(name); }
    void set_watchdog(launcher::StopWatchdog* watchdog) { m_watchdog = watchdog; }

  private:
    RunRecords m_records;
    TrainLog m_log;
    ProgressDisplay m_display;
    int m_num_epochs;
    int m_pause_after = 0;
    std::optional<std::string> m_last_checkpoint;
    launcher::StopWatchdog* m_watchdog = nullptr;
};

} // namespace kakuren::cli

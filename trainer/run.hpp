#pragma once
// Run: the order of epochs and phases, the stop flag, when to checkpoint and how to resume. It
// wires the seams together — SampleSource + Prefetcher (reads only the ids a phase visits),
// StepEngine (forward, task loss, backward, optimizer) with Task and Model, Replicator (local or
// c10d), the per-sample statistics (util::SampleStats, viewed by the hiding policy, the epoch
// result and the checkpoint) — and talks to the outside only through the Observer and the MLPerf
// log. Private to trainer/ (torch).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "hiding/policy.hpp"
#include "trainer/batch_geometry.hpp"
#include "trainer/checkpoint_clock.hpp"
#include "trainer/clock.hpp"
#include "trainer/device.hpp"
#include "trainer/epoch_cursor.hpp"
#include "trainer/mllog_marks.hpp"
#include "trainer/phase_buffers.hpp"
#include "trainer/phase_timer.hpp"
#include "trainer/replicator.hpp"
#include "trainer/run_context.hpp"
#include "trainer/sample_state.hpp"
#include "trainer/source.hpp"
#include "trainer/step_engine.hpp"
#include "trainer/task.hpp"
#include "trainer/totals.hpp"
#include "trainer/trainer.hpp"
#include "util/json.hpp"
#include "util/mllog.hpp"

namespace kakuren::trainer {

/// Thrown at a step boundary when the run stops on the stop flag; train() catches it.
struct Interrupted {};

/// Thrown after a training step whose loss is not finite (config.stop_on_nan); train() catches
/// it and returns Summary::diverged = what.
struct Diverged {
    std::string what;
};

/// One phase's batch loop, as Run::run_steps runs it for the training, refresh, full refresh and
/// evaluation phases.
struct PhaseLoop {
    const char* name = "";      ///< the progress label: train | refresh | eval
    std::int64_t first = 0;     ///< the first step (> 0 after a resume inside the phase)
    std::int64_t num_steps = 0; ///< steps of the phase
    /// A checkpoint may be taken before each step, and the cursor counts the steps done
    /// (cursor_base + steps); else a stop before a step means the phase starts again.
    bool resumable = false;
    std::int64_t cursor_base = 0;
    const char* pause = nullptr; ///< the util::pause_point after each step, or none
};

/// The order of epochs and phases. Each component keeps its own state and saves it into a
/// checkpoint (state / load_state); Run sequences them and asks each in turn.
class Run {
  public:
    Run(const Config& config, Observer& observer, util::MlLog& mllog, const std::atomic<bool>* stop,
        const checkpoint::Resume* resume);
    Summary run();

  private:
    // run.cpp: set-up and the epoch loop.
    void log_epoch(std::string_view key, const util::Json& value = util::Json::null(),
                   std::source_location where = std::source_location::current()) {
        m_ctx.log(key, value, {{"epoch_num", m_cursor.epoch + 1}}, where);
    }
    void setup();
    void setup_model();
    void check_same_on_all_ranks();
    void start();
    void epoch_loop();
    void finish();
    void begin_epoch();
    EpochResult run_epoch(const hiding::EpochPlan& plan);
    void end_epoch(EpochResult result, Clock::time_point epoch_start);
    [[nodiscard]] hiding::EpochContext epoch_context() const;
    /// Whether the task's metric reaches config.target_accuracy (>=, or <= for MAE).
    [[nodiscard]] bool target_reached(double metric) const;
    /// At a phase boundary (a collective with world > 1): throws Interrupted if any rank stops.
    void check_stop();
    /// Before a batch: throws Interrupted if the run stops here.
    void check_stop_at_batch() const;

    // phases.cpp: the batches of each phase.
    /// Steps loop.first .. loop.num_steps - 1 of a phase: the stop check (and a checkpoint
    /// when resumable) before each, `step(k)` (returns the samples done so far), progress.
    void run_steps(const PhaseLoop& loop, Clock::time_point start,
                   const std::function<std::int64_t(std::int64_t)>& step);
    /// The forward-only batches over `ids` (each rank its strided share), recording each
    /// sample's statistics: the refresh and full refresh phases.
    void forward_pass(std::span<const std::int64_t> ids, const PhaseLoop& loop,
                      Clock::time_point start);
    void train_phase(const hiding::EpochPlan& plan, EpochResult& result);
    void refresh_phase(const hiding::EpochPlan& plan, EpochResult& result);
    double full_refresh();
    void eval_phase(EpochResult& result);
    /// Stores a global batch's outcome: entry k belongs to ids[first + k]. With totals: adds
    /// the batch to them and returns its loss sum (else 0).
    double record(std::span<const std::int64_t> ids, std::int64_t first, const Outcome& out,
                  Totals* totals);
    /// After training step `step` (0-based) of `num_steps`: throws Diverged when its loss sum
    /// is not finite and config.stop_on_nan is set.
    void check_finite(double loss_sum, std::int64_t step, std::int64_t num_steps) const;
    void progress(const char* phase, std::int64_t step, std::int64_t num_steps,
                  std::int64_t samples, Clock::time_point phase_start, bool force);

    // run_checkpoint.cpp: checkpoints and resume.
    void at_batch_boundary();
    void save_checkpoint(checkpoint::Reason reason);
    void fill_loop_state(checkpoint::Snapshot& s) const;
    void restore(const checkpoint::Resume& resume);

    RunContext m_ctx; // the inputs: recipe, observer, MLPerf log, stop flag, resume, rank
    std::optional<Device> m_device;
    std::unique_ptr<Replicator> m_replicator;
    Sources m_data;
    std::unique_ptr<Task> m_task;
    std::unique_ptr<StepEngine> m_engine;
    std::unique_ptr<hiding::Policy> m_policy;
    util::SampleStats m_state; // per sample: last loss, correct, confidence
    BatchGeometry m_geometry;
    PhaseBuffers m_buffers;
    EpochCursor m_cursor; // the epoch in progress, so that a checkpoint can be taken at any batch
    MlLogMarks m_marks;
    CheckpointClock m_checkpoints;
    PhaseTimer m_timer;
    Summary m_summary;
};

} // namespace kakuren::trainer

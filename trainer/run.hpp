#pragma once
// Run: the order of epochs and phases, the stop flag, when to checkpoint and how to resume. It
// wires the seams together — SampleSource + Prefetcher (reads only the ids a phase visits),
// StepEngine (forward, task loss, backward, optimizer) with Task and Model, Replicator (local or
// c10d), SampleState (viewed by the hiding policy and the checkpoint) — and talks to the outside
// only through the Observer and the MLPerf log. Private to trainer/ (torch).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "hiding/policy.hpp"
#include "trainer/device.hpp"
#include "trainer/replicator.hpp"
#include "trainer/sample_state.hpp"
#include "trainer/source.hpp"
#include "trainer/step_engine.hpp"
#include "trainer/task.hpp"
#include "trainer/trainer.hpp"
#include "util/json.hpp"
#include "util/mllog.hpp"

namespace kakuren::trainer {

using Clock = std::chrono::steady_clock;

inline double seconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

/// Number of batches of size `batch` that cover n entries.
inline std::int64_t batches_of(std::int64_t n, std::int64_t batch) {
    return (n + batch - 1) / batch;
}

/// Thrown at a step boundary when the run stops on the stop flag; train() catches it.
struct Interrupted {};

/// Thrown after a training step whose loss is not finite (config.stop_on_nan); train() catches
/// it and returns Summary::diverged = what.
struct Diverged {
    std::string what;
};

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
    [[nodiscard]] std::pair<double, double> means() const;
    /// The raw sums, for a checkpoint; restore() puts them back exactly.
    void save(checkpoint::LoopState& out) const;
    void restore(const checkpoint::LoopState& in);
};

class Run {
  public:
    Run(const Config& config, Observer& observer, util::MlLog& mllog, const std::atomic<bool>* stop,
        const checkpoint::Resume* resume);
    Summary run();

  private:
    // run.cpp: set-up and the epoch loop.
    void log(std::string_view key, const util::Json& value = util::Json::null(),
             util::JsonObject metadata = {},
             std::source_location where = std::source_location::current()) {
        if (m_rank == 0) {
            m_mllog.event(key, value, std::move(metadata), where);
        }
    }
    void log_epoch(std::string_view key, const util::Json& value = util::Json::null(),
                   std::source_location where = std::source_location::current()) {
        log(key, value, {{"epoch_num", m_epoch + 1}}, where);
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
    void train_phase(const hiding::EpochPlan& plan, EpochResult& result);
    void refresh_phase(const hiding::EpochPlan& plan, EpochResult& result);
    double full_refresh();
    void eval_phase(EpochResult& result);
    /// Stores a global batch's outcome: entry k belongs to ids[first + k].
    void record(std::span<const std::int64_t> ids, std::int64_t first, const GlobalOutcome& out,
                Totals* totals);
    /// After training step `step` (0-based) of `num_steps`: throws Diverged when its loss sum
    /// is not finite and config.stop_on_nan is set.
    void check_finite(double loss_sum, std::int64_t step, std::int64_t num_steps) const;
    void progress(const char* phase, std::int64_t step, std::int64_t num_steps,
                  std::int64_t samples, Clock::time_point phase_start, bool force);

    // run_checkpoint.cpp: checkpoints and resume.
    [[nodiscard]] std::int64_t log_size() const;
    [[nodiscard]] checkpoint::Position position() const;
    void at_batch_boundary();
    void save_checkpoint(checkpoint::Reason reason);
    void fill_loop_state(checkpoint::Snapshot& s) const;
    void restore(const checkpoint::Resume& resume);
    void restore_plan(const checkpoint::Resume& resume, const std::string& what);
    [[nodiscard]] std::int64_t train_steps_of(const hiding::EpochPlan& plan) const;
    [[nodiscard]] std::int64_t refresh_steps_of(const hiding::EpochPlan& plan) const;

    const Config& m_config;
    Observer& m_observer;
    util::MlLog& m_mllog;
    const std::atomic<bool>* m_stop;
    const checkpoint::Resume* m_resume; // the checkpoint this run continues from, or null
    int m_rank = 0, m_world = 1;

    std::optional<Device> m_device;
    std::unique_ptr<Replicator> m_replicator;
    Sources m_data;
    std::unique_ptr<Task> m_task;
    std::unique_ptr<StepEngine> m_engine;
    std::unique_ptr<hiding::Policy> m_policy;
    std::optional<SampleState> m_state;
    std::vector<int> m_lr_milestones;
    BatchBuffer m_train_buffer, m_forward_buffer; // reused across steps
    std::int64_t m_local_batch = 1;               // training samples per rank and step
    std::int64_t m_steps_full_epoch = 0;

    int m_epoch = 0;   // 0-based, the epoch in progress (= epochs completed)
    int m_started = 0; // epochs that logged epoch_start
    double m_hidden_fraction = 0.0;
    Clock::time_point m_run_start, m_last_progress;

    // The epoch in progress, kept in members so that a checkpoint can be taken at any batch.
    hiding::EpochPlan m_plan;
    bool m_has_plan = false;                      // m_plan belongs to epoch m_epoch
    std::vector<std::int64_t> m_completed_hidden; // hidden set of the last completed epoch
    Totals m_train_totals;
    double m_last_loss_sum = 0; // the last training batch's loss sum
    EpochResult m_result;       // filled phase by phase
    std::int64_t m_step = 0;    // batches done in the epoch: training steps, then refresh batches
    std::int64_t m_train_steps = 0, m_refresh_steps = 0;
    Summary m_summary;
    // Length of the MLPerf log where the epoch began and where its training and refresh phases
    // stand: a checkpoint records the one of its position, and a resume cuts the log there.
    std::int64_t m_log_at_epoch = 0, m_log_at_train = 0, m_log_at_refresh = 0;
    std::uint64_t m_bytes_at_epoch = 0; // train->bytes_read() where the epoch (or resume) began
    std::optional<checkpoint::Schedule> m_schedule; // nullopt: no checkpoints
    std::optional<checkpoint::Position> m_last_checkpoint;
    std::int64_t m_batches_since_checkpoint = 0;
    Clock::time_point m_last_checkpoint_time;
    Clock::time_point m_phase_start; // start of the current phase in this process
    double m_phase_base_s = 0;       // seconds the phase took before a resume
    double m_comm_at_epoch_s = 0;    // the replicator's wait_s when the epoch (or resume) began
    enum class Phase { other, train, refresh };
    Phase m_phase = Phase::other; // the timed phase in progress
};

} // namespace kakuren::trainer

// Checkpoints and resume: where the loop stands, what a checkpoint holds, and how a resumed run
// takes over exactly (same weights, statistics, plan and generator state).
#include <algorithm>
#include <filesystem>

#include "trainer/checkpoint_io.hpp"
#include "trainer/run.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {

std::int64_t Run::log_size() const {
    if (m_rank != 0 || !m_mllog.enabled()) {
        return 0;
    }
    std::error_code ec;
    const auto size = std::filesystem::file_size(m_mllog.path(), ec);
    return ec ? 0 : static_cast<std::int64_t>(size);
}

checkpoint::Position Run::position() const {
    if (m_step == 0) {
        // Nothing of epoch m_epoch is done (its plan, if made, is made again): the loop stands
        // at the end of the epoch before (none at the very start).
        return {m_epoch, 0, true};
    }
    return {m_epoch + 1, m_step, false};
}

void Run::at_batch_boundary() {
    // Only rank 0 hands checkpoints over; its state is the same as every rank's at any batch
    // boundary, so the others need not know when it does.
    if (m_schedule && m_step > 0 && m_rank == 0) {
        const double since_s = seconds_between(m_last_checkpoint_time, Clock::now());
        if (m_schedule->due_within_epoch(m_batches_since_checkpoint, since_s)) {
            const auto& c = m_schedule->config();
            save_checkpoint(c.every_steps > 0 && m_batches_since_checkpoint >= c.every_steps
                                ? checkpoint::Reason::steps
                                : checkpoint::Reason::seconds);
        }
    }
    check_stop_at_batch();
}

void Run::fill_loop_state(checkpoint::Snapshot& s) const {
    const checkpoint::Position pos = position();
    checkpoint::LoopState& loop = s.loop;
    loop.position = pos;
    loop.num_samples = m_data.train->size();
    if (pos.epoch_end) {
        loop.mllog_bytes = m_log_at_epoch;
        s.test_accuracy = m_summary.final_accuracy;
        s.hidden_ids = m_completed_hidden;
    } else {
        loop.mllog_bytes = m_step < m_train_steps ? m_log_at_train : m_log_at_refresh;
        loop.train_steps = m_train_steps;
        loop.refresh_steps = m_refresh_steps;
        loop.plan = m_plan;
        m_train_totals.save(loop);
        loop.train_loss = m_result.train_loss;
        loop.train_accuracy = m_result.train_accuracy;
        loop.lr = m_result.lr;
        loop.samples_per_s = m_result.samples_per_s;
        const double phase_s = m_phase_base_s + seconds_between(m_phase_start, Clock::now());
        loop.train_s = m_phase == Phase::train ? phase_s : m_result.train_s;
        loop.hidden_pass_s = m_phase == Phase::refresh ? phase_s : m_result.hidden_pass_s;
        s.hidden_ids = m_plan.hidden_ids;
    }
    loop.final_accuracy = m_summary.final_accuracy;
    loop.best_accuracy = m_summary.best_accuracy;
    loop.seed = m_config.seed;
    loop.world_size = m_world;
    loop.threads = m_device->threads();
}

void Run::save_checkpoint(checkpoint::Reason reason) {
    if (m_rank != 0) {
        return;
    }
    const checkpoint::Position pos = position();
    if (pos.epoch < 1 || (m_last_checkpoint && *m_last_checkpoint == pos)) {
        return; // nothing done yet, or this point is saved already
    }
    // Saving reads the weights; it must not run as inference (the refresh pass is one).
    c10::InferenceMode not_inference(false);
    checkpoint::Snapshot s;
    s.reason = reason;
    fill_loop_state(s);
    const auto serialize_start = Clock::now();
    for (auto& [name, bytes] : save_training_state(*m_engine, *m_device)) {
        s.files.push_back({name, std::move(bytes)});
    }
    s.serialize_s = seconds_between(serialize_start, Clock::now());
    const hiding::SampleStatsView stats = m_state->view();
    s.loss = stats.loss;
    s.correct = stats.correct;
    s.confidence = stats.confidence;

    m_observer.on_checkpoint(s);
    m_last_checkpoint = pos;
    m_batches_since_checkpoint = 0;
    m_last_checkpoint_time = Clock::now();
}

void Run::restore(const checkpoint::Resume& resume) {
    const checkpoint::LoopState& loop = resume.loop;
    const std::int64_t n = m_data.train->size();
    const auto size = static_cast<std::size_t>(n);
    const std::string what = "cannot resume from checkpoint " + resume.name + ": ";
    if (loop.world_size != m_world) {
        // The step positions and the batches' composition depend on the world size.
        throw RuntimeFailure(what + "it was written by a run of " +
                             std::to_string(loop.world_size) + " rank(s); this run has " +
                             std::to_string(m_world) + ". Resume with the same number of ranks");
    }
    if (loop.num_samples != n || resume.loss.size() != size || resume.correct.size() != size ||
        resume.confidence.size() != size) {
        throw RuntimeFailure(what + "it holds " + std::to_string(loop.num_samples) +
                             " training samples; the data set has " + std::to_string(n));
    }
    load_training_state(resume, *m_engine, *m_device, what);
    m_state->assign({resume.loss, resume.correct, resume.confidence});

    const checkpoint::Position& pos = loop.position;
    m_epoch = pos.epochs_done();
    m_started = pos.epoch;
    m_summary.epochs_done = pos.epochs_done();
    m_summary.final_accuracy = loop.final_accuracy;
    m_summary.best_accuracy = loop.best_accuracy;
    if (pos.epoch_end) {
        m_step = 0;
        m_has_plan = false;
        m_completed_hidden = resume.hidden_ids;
    } else {
        restore_plan(resume, what);
    }
    m_last_checkpoint = pos;
}

void Run::restore_plan(const checkpoint::Resume& resume, const std::string& what) {
    const checkpoint::LoopState& loop = resume.loop;
    const checkpoint::Position& pos = loop.position;
    const std::int64_t n = m_data.train->size();
    m_plan = loop.plan;
    m_has_plan = true;
    m_step = pos.step;
    m_train_steps = train_steps_of(m_plan);
    m_refresh_steps = refresh_steps_of(m_plan);
    if (m_train_steps != loop.train_steps || m_refresh_steps != loop.refresh_steps ||
        m_step > m_train_steps + m_refresh_steps) {
        throw RuntimeFailure(
            what + "it stopped inside epoch " + std::to_string(pos.epoch) + " after batch " +
            std::to_string(pos.step) + " of " +
            std::to_string(loop.train_steps + loop.refresh_steps) +
            ", but this recipe's batch sizes split that epoch into " +
            std::to_string(m_train_steps + m_refresh_steps) +
            " batches; resume from an epoch-end checkpoint or with the original batch sizes");
    }
    const auto in_range = [n](std::int64_t id) { return id >= 0 && id < n; };
    const bool ids_ok =
        m_plan.num_samples == n &&
        (m_plan.train_weights.empty() || m_plan.train_weights.size() == m_plan.train_ids.size()) &&
        std::all_of(m_plan.train_ids.begin(), m_plan.train_ids.end(), in_range) &&
        std::all_of(m_plan.refresh_ids.begin(), m_plan.refresh_ids.end(), in_range);
    if (!ids_ok) {
        throw RuntimeFailure(what + "its epoch plan does not fit " + std::to_string(n) +
                             " training samples (the checkpoint is damaged)");
    }
    m_train_totals.restore(loop);
    m_result.train_loss = loop.train_loss;
    m_result.train_accuracy = loop.train_accuracy;
    m_result.lr = loop.lr;
    m_result.samples_per_s = loop.samples_per_s;
    m_result.train_s = loop.train_s;
    m_result.hidden_pass_s = loop.hidden_pass_s;
}

} // namespace kakuren::trainer

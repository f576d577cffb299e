// Checkpoints and resume: where the loop stands, what a checkpoint holds, and how a resumed run
// takes over exactly (same weights, statistics, plan and generator state).
#include <algorithm>
#include <filesystem>

#include "trainer/checkpoint_io.hpp"
#include "trainer/run.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {

std::int64_t RunContext::log_size() const {
    if (rank != 0 || !mllog.enabled()) {
        return 0;
    }
    std::error_code ec;
    const auto size = std::filesystem::file_size(mllog.path(), ec);
    return ec ? 0 : static_cast<std::int64_t>(size);
}

void Run::at_batch_boundary() {
    // Only rank 0 hands checkpoints over; its state is the same as every rank's at any batch
    // boundary, so the others need not know when it does.
    if (m_checkpoints.enabled() && m_cursor.step > 0 && m_ctx.rank == 0) {
        if (const auto reason = m_checkpoints.due_within_epoch(Clock::now())) {
            save_checkpoint(*reason);
        }
    }
    check_stop_at_batch();
}

void Run::fill_loop_state(checkpoint::Snapshot& s) const {
    // Each component writes its own part: the cursor the position, plan and sums, the timer the
    // phase in progress's seconds, the marks the log's length there.
    m_cursor.state(s);
    m_timer.state(s.loop);
    m_marks.state(s.loop, m_cursor.in_training());
    checkpoint::LoopState& loop = s.loop;
    loop.num_samples = m_data.train->size();
    if (loop.position.epoch_end) {
        s.test_accuracy = m_summary.final_accuracy;
    }
    loop.final_accuracy = m_summary.final_accuracy;
    loop.best_accuracy = m_summary.best_accuracy;
    loop.seed = m_ctx.config.seed;
    loop.world_size = m_ctx.world;
    loop.threads = m_device->threads();
}

void Run::save_checkpoint(checkpoint::Reason reason) {
    if (m_ctx.rank != 0) {
        return;
    }
    const checkpoint::Position pos = m_cursor.position();
    if (pos.epoch < 1 || m_checkpoints.saved_at(pos)) {
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
    s.stats = m_state.view();

    m_ctx.observer.on_checkpoint(s);
    m_checkpoints.saved(pos, Clock::now());
}

void Run::restore(const checkpoint::Resume& resume) {
    const checkpoint::LoopState& loop = resume.loop;
    const std::int64_t n = m_data.train->size();
    const auto size = static_cast<std::size_t>(n);
    const std::string what = "cannot resume from checkpoint " + resume.name + ": ";
    if (loop.world_size != m_ctx.world) {
        // The step positions and the batches' composition depend on the world size.
        throw RuntimeFailure(what + "it was written by a run of " +
                             std::to_string(loop.world_size) + " rank(s); this run has " +
                             std::to_string(m_ctx.world) +
                             ". Resume with the same number of ranks");
    }
    if (loop.num_samples != n || resume.stats.size() != size) {
        throw RuntimeFailure(what + "it holds " + std::to_string(loop.num_samples) +
                             " training samples; the data set has " + std::to_string(n));
    }
    load_training_state(resume, *m_engine, *m_device, what);
    m_state.assign(resume.stats.view());

    const checkpoint::Position& pos = loop.position;
    m_cursor.load_state(resume, m_geometry, n, what);
    m_summary.epochs_done = pos.epochs_done();
    m_summary.final_accuracy = loop.final_accuracy;
    m_summary.best_accuracy = loop.best_accuracy;
    m_checkpoints.load_state(pos);
}

} // namespace kakuren::trainer

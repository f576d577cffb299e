// Where the training loop stands, saved into a checkpoint and taken back from one.
#include "trainer/epoch_cursor.hpp"

#include <algorithm>
#include <utility>

#include "util/error.hpp"

namespace kakuren::trainer {

checkpoint::Position EpochCursor::position() const {
    if (step == 0) {
        return {epoch, 0, true};
    }
    return {epoch + 1, step, false};
}

void EpochCursor::begin(hiding::EpochPlan next, const BatchGeometry& geometry) {
    plan = std::move(next);
    has_plan = true;
    step = 0;
    train_steps = geometry.train_steps_of(plan);
    refresh_steps = geometry.refresh_steps_of(plan);
    totals = Totals{};
    result = EpochResult{};
}

void EpochCursor::complete() {
    completed_hidden = std::move(plan.hidden_ids);
    plan = hiding::EpochPlan{};
    has_plan = false;
    step = 0;
    ++epoch;
}

void EpochCursor::state(checkpoint::Snapshot& s) const {
    checkpoint::LoopState& loop = s.loop;
    loop.position = position();
    if (loop.position.epoch_end) {
        s.hidden_ids = completed_hidden;
        return;
    }
    loop.train_steps = train_steps;
    loop.refresh_steps = refresh_steps;
    loop.plan = plan;
    totals.save(loop);
    loop.train_loss = result.train_loss;
    loop.train_accuracy = result.train_accuracy;
    loop.lr = result.lr;
    loop.samples_per_s = result.samples_per_s;
    loop.train_s = result.train_s;
    loop.hidden_pass_s = result.hidden_pass_s;
    s.hidden_ids = plan.hidden_ids;
}

void EpochCursor::load_state(const checkpoint::Resume& resume, const BatchGeometry& geometry,
                             std::int64_t num_train, const std::string& what) {
    const checkpoint::Position& pos = resume.loop.position;
    epoch = pos.epochs_done();
    started = pos.epoch;
    if (pos.epoch_end) {
        step = 0;
        has_plan = false;
        completed_hidden = resume.hidden_ids;
    } else {
        load_plan(resume, geometry, num_train, what);
    }
}

void EpochCursor::load_plan(const checkpoint::Resume& resume, const BatchGeometry& geometry,
                            std::int64_t num_train, const std::string& what) {
    const checkpoint::LoopState& loop = resume.loop;
    const checkpoint::Position& pos = loop.position;
    const std::int64_t n = num_train;
    plan = loop.plan;
    has_plan = true;
    step = pos.step;
    train_steps = geometry.train_steps_of(plan);
    refresh_steps = geometry.refresh_steps_of(plan);
    if (train_steps != loop.train_steps || refresh_steps != loop.refresh_steps ||
        step > train_steps + refresh_steps) {
        throw RuntimeFailure(
            what + "it stopped inside epoch " + std::to_string(pos.epoch) + " after batch " +
            std::to_string(pos.step) + " of " +
            std::to_string(loop.train_steps + loop.refresh_steps) +
            ", but this recipe's batch sizes split that epoch into " +
            std::to_string(train_steps + refresh_steps) +
            " batches; resume from an epoch-end checkpoint or with the original batch sizes");
    }
    const auto in_range = [n](std::int64_t id) { return id >= 0 && id < n; };
    const bool ids_ok =
        plan.num_samples == n &&
        (plan.train_weights.empty() || plan.train_weights.size() == plan.train_ids.size()) &&
        std::all_of(plan.train_ids.begin(), plan.train_ids.end(), in_range) &&
        std::all_of(plan.refresh_ids.begin(), plan.refresh_ids.end(), in_range);
    if (!ids_ok) {
        throw RuntimeFailure(what + "its epoch plan does not fit " + std::to_string(n) +
                             " training samples (the checkpoint is damaged)");
    }
    totals.restore(loop);
    result.train_loss = loop.train_loss;
    result.train_accuracy = loop.train_accuracy;
    result.lr = loop.lr;
    result.samples_per_s = loop.samples_per_s;
    result.train_s = loop.train_s;
    result.hidden_pass_s = loop.hidden_pass_s;
}

} // namespace kakuren::trainer

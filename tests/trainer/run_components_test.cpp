// Run's components on their own (trainer/run.hpp): each saves its part of a checkpoint and takes
// it back through the real loop.bin encoding, and the clocks decide as the recipe says.
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "checkpoint/state.hpp"
#include "support/errors.hpp"
#include "trainer/checkpoint_clock.hpp"
#include "trainer/epoch_cursor.hpp"
#include "trainer/mllog_marks.hpp"
#include "trainer/phase_timer.hpp"

namespace kakuren::trainer {
namespace {

using checkpoint::Position;
using testing::error_of;

BatchGeometry geometry(std::int64_t local_batch) {
    BatchGeometry g;
    g.local_batch = local_batch;
    g.eval_batch = 3;
    return g;
}

/// Ten samples: seven trained (two steps of 4), three hidden and refreshed (one batch of 3).
hiding::EpochPlan plan_of_ten() {
    hiding::EpochPlan p;
    p.num_samples = 10;
    p.train_ids = {7, 2, 9, 0, 5, 1, 8};
    p.hidden_ids = {3, 4, 6};
    p.refresh_ids = {6, 3, 4};
    p.lr_scale = 1.25;
    return p;
}

std::vector<std::int64_t> ids(std::span<const std::int64_t> view) {
    return {view.begin(), view.end()};
}

/// What a resume reads back of a snapshot: loop.bin encoded and decoded, and the hidden set.
checkpoint::Resume through_loop_bin(const checkpoint::Snapshot& s) {
    checkpoint::Resume r;
    r.name = s.loop.position.name();
    r.loop = checkpoint::decode_loop_state(checkpoint::encode(s.loop));
    r.hidden_ids.assign(s.hidden_ids.begin(), s.hidden_ids.end());
    return r;
}

TEST(RunComponents, ACursorInsideAnEpochComesBackFromItsCheckpoint) {
    EpochCursor cursor;
    cursor.epoch = 2;
    cursor.begin(plan_of_ten(), geometry(4));
    EXPECT_EQ(cursor.train_steps, 2);
    EXPECT_EQ(cursor.refresh_steps, 1);
    EXPECT_TRUE(cursor.position() == (Position{2, 0, true})); // nothing of epoch 3 done yet
    cursor.step = 2;
    cursor.totals = {3.5, 5, 7};
    cursor.result.train_loss = 0.5;
    cursor.result.train_accuracy = 5.0 / 7.0;
    cursor.result.lr = 0.05;
    cursor.result.samples_per_s = 4.0;
    cursor.result.train_s = 1.75;
    checkpoint::Snapshot s;
    cursor.state(s);
    EXPECT_TRUE(s.loop.position == (Position{3, 2, false}));
    EXPECT_EQ(ids(s.hidden_ids), (std::vector<std::int64_t>{3, 4, 6}));

    EpochCursor back;
    back.load_state(through_loop_bin(s), geometry(4), 10, "cannot resume: ");
    EXPECT_EQ(back.epoch, 2);
    EXPECT_EQ(back.started, 3);
    EXPECT_TRUE(back.has_plan);
    EXPECT_EQ(back.step, 2);
    EXPECT_FALSE(back.in_training()); // the refresh batch is next
    EXPECT_EQ(back.plan.train_ids, cursor.plan.train_ids);
    EXPECT_EQ(back.plan.hidden_ids, cursor.plan.hidden_ids);
    EXPECT_EQ(back.plan.refresh_ids, cursor.plan.refresh_ids);
    EXPECT_EQ(back.plan.lr_scale, 1.25);
    EXPECT_EQ(back.totals.loss_sum, 3.5);
    EXPECT_EQ(back.totals.correct_sum, 5);
    EXPECT_EQ(back.totals.count, 7);
    EXPECT_EQ(back.result.train_accuracy, 5.0 / 7.0);
    EXPECT_EQ(back.result.lr, 0.05);
    EXPECT_EQ(back.result.samples_per_s, 4.0);
    EXPECT_EQ(back.result.train_s, 1.75);
}

TEST(RunComponents, ACursorAtAnEpochEndKeepsOnlyTheHiddenSet) {
    EpochCursor cursor;
    cursor.epoch = 2;
    cursor.begin(plan_of_ten(), geometry(4));
    cursor.step = 3;
    cursor.complete();
    EXPECT_EQ(cursor.epoch, 3);
    EXPECT_FALSE(cursor.has_plan);
    checkpoint::Snapshot s;
    cursor.state(s);
    EXPECT_TRUE(s.loop.position == (Position{3, 0, true}));
    EXPECT_TRUE(s.loop.plan.train_ids.empty());
    EXPECT_EQ(ids(s.hidden_ids), (std::vector<std::int64_t>{3, 4, 6}));

    EpochCursor back;
    back.load_state(through_loop_bin(s), geometry(4), 10, "cannot resume: ");
    EXPECT_EQ(back.epoch, 3);
    EXPECT_EQ(back.started, 3);
    EXPECT_FALSE(back.has_plan);
    EXPECT_EQ(back.completed_hidden, (std::vector<std::int64_t>{3, 4, 6}));
}

TEST(RunComponents, ACursorRefusesAPlanThatOtherBatchSizesSplitDifferently) {
    EpochCursor cursor;
    cursor.begin(plan_of_ten(), geometry(4));
    cursor.step = 1;
    checkpoint::Snapshot s;
    cursor.state(s);
    const checkpoint::Resume resume = through_loop_bin(s);
    EpochCursor back;
    EXPECT_EQ(error_of([&] { back.load_state(resume, geometry(2), 10, "cannot resume: "); }),
              "cannot resume: it stopped inside epoch 1 after batch 1 of 3, but this recipe's "
              "batch sizes split that epoch into 5 batches; resume from an epoch-end checkpoint "
              "or with the original batch sizes");
    EXPECT_EQ(error_of([&] { back.load_state(resume, geometry(4), 9, "cannot resume: "); }),
              "cannot resume: its epoch plan does not fit 9 training samples (the checkpoint is "
              "damaged)");
}

TEST(RunComponents, TheCheckpointClockFollowsTheSchedule) {
    checkpoint::Config config;
    config.every_epochs = 2;
    config.every_steps = 3;
    config.every_seconds = 60;
    CheckpointClock clock(config);
    ASSERT_TRUE(clock.enabled());
    const auto t0 = Clock::now();
    clock.start(t0);
    clock.count_batch();
    clock.count_batch();
    EXPECT_EQ(clock.due_within_epoch(t0), std::nullopt);
    EXPECT_EQ(clock.due_within_epoch(t0 + std::chrono::seconds(61)), checkpoint::Reason::seconds);
    clock.count_batch();
    EXPECT_EQ(clock.due_within_epoch(t0), checkpoint::Reason::steps);

    const Position pos{1, 3, false};
    EXPECT_FALSE(clock.saved_at(pos));
    clock.saved(pos, t0);
    EXPECT_TRUE(clock.saved_at(pos));
    EXPECT_EQ(clock.due_within_epoch(t0 + std::chrono::seconds(61)), std::nullopt); // no batch
    EXPECT_FALSE(clock.due_at_epoch_end(1, false));
    EXPECT_TRUE(clock.due_at_epoch_end(2, false));
    EXPECT_TRUE(clock.due_at_epoch_end(3, true));

    CheckpointClock resumed(config);
    resumed.load_state(pos); // the checkpoint resumed from is not written again
    EXPECT_TRUE(resumed.saved_at(pos));

    CheckpointClock none(std::nullopt);
    EXPECT_FALSE(none.enabled());
    none.count_batch();
    EXPECT_EQ(none.due_within_epoch(t0 + std::chrono::hours(1)), std::nullopt);
    EXPECT_FALSE(none.due_at_epoch_end(2, true));
}

TEST(RunComponents, TheLogMarksGiveTheLengthAtACheckpointsPosition) {
    MlLogMarks marks;
    marks.reset(100, 1000);
    marks.begin_epoch(120, 1500);
    marks.begin_train(180);
    marks.begin_refresh(260);
    marks.begin_comm(2.5);
    checkpoint::LoopState loop;
    loop.position = {3, 1, false};
    marks.state(loop, true);
    EXPECT_EQ(loop.mllog_bytes, 180); // inside the training steps
    marks.state(loop, false);
    EXPECT_EQ(loop.mllog_bytes, 260); // inside the refresh pass
    loop.position = {2, 0, true};
    marks.state(loop, false);
    EXPECT_EQ(loop.mllog_bytes, 120); // the epoch before ended there
    marks.end_epoch(300);
    marks.state(loop, false);
    EXPECT_EQ(loop.mllog_bytes, 300);
    EXPECT_EQ(marks.bytes_since(1600), 100U);
    EXPECT_EQ(marks.comm_since(4.0), 1.5);
}

TEST(RunComponents, ThePhaseTimerReportsThePhaseInProgressMidEpochOnly) {
    PhaseTimer timer;
    checkpoint::LoopState loop;
    loop.position = {1, 1, false};
    loop.train_s = 9.0; // as recorded by the cursor
    loop.hidden_pass_s = 8.0;
    timer.state(loop);
    EXPECT_EQ(loop.train_s, 9.0); // no timed phase in progress
    timer.begin(PhaseTimer::Phase::train, 2.5);
    timer.state(loop);
    EXPECT_GE(loop.train_s, 2.5); // the seconds before the resume and those since
    EXPECT_EQ(loop.hidden_pass_s, 8.0);
    loop.position = {1, 0, true};
    loop.train_s = 0;
    timer.state(loop);
    EXPECT_EQ(loop.train_s, 0.0); // an epoch-end checkpoint has no phase seconds
    EXPECT_GE(timer.end(), 2.5);
    loop.position = {1, 1, false};
    loop.train_s = 9.0;
    timer.state(loop);
    EXPECT_EQ(loop.train_s, 9.0);
}

} // namespace
} // namespace kakuren::trainer

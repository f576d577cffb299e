#include "trainer/schedule.hpp"

#include <cmath>
#include <numbers>

#include <gtest/gtest.h>

namespace kakuren::trainer {
namespace {

ScheduleConfig step_schedule() {
    ScheduleConfig s;
    s.epochs = 10;
    s.warmup_epochs = 2;
    s.kind = "step";
    s.milestones = {5, 8};
    s.gamma = 0.1;
    return s;
}

TEST(Schedule, EpochFractionCountsTheStepJustTaken) {
    EXPECT_DOUBLE_EQ(epoch_fraction(0, 10), 0.1);
    EXPECT_DOUBLE_EQ(epoch_fraction(9, 10), 1.0);
    EXPECT_DOUBLE_EQ(epoch_fraction(0, 0), 1.0);
}

TEST(Schedule, WarmupRisesLinearlyFromOneWarmupStepToTheBaseLr) {
    const ScheduleConfig s = step_schedule();
    // 2 warm-up epochs of 10 steps: the first step gets lr / 20, the last one lr.
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 0, epoch_fraction(0, 10)), 0.1 / 20);
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 0, epoch_fraction(9, 10)), 0.05);
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 1, epoch_fraction(4, 10)), 0.075);
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 1, epoch_fraction(9, 10)), 0.1);
    // A shorter epoch (hidden samples) still ends the warm-up at lr.
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 1, epoch_fraction(6, 7)), 0.1);
}

TEST(Schedule, StepDecaysAtEachMilestone) {
    const ScheduleConfig s = step_schedule();
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 2, 0.1), 0.1);
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 4, 1.0), 0.1);
    EXPECT_NEAR(scheduled_lr(s, 0.1, 5, 0.1), 0.01, 1e-15);
    EXPECT_NEAR(scheduled_lr(s, 0.1, 7, 1.0), 0.01, 1e-15);
    EXPECT_NEAR(scheduled_lr(s, 0.1, 8, 0.1), 0.001, 1e-15);
    EXPECT_NEAR(scheduled_lr(s, 0.1, 9, 1.0), 0.001, 1e-15);
    EXPECT_EQ(milestones_passed(s, 4), 0);
    EXPECT_EQ(milestones_passed(s, 5), 1);
    EXPECT_EQ(milestones_passed(s, 9), 2);
}

TEST(Schedule, DecayFactorsAreRelativeToTheBaseLrAndDoNotCompound) {
    // CosmoFlow's reference: x0.25 from epoch 32, x0.125 (not 0.25 x 0.125) from 64, after a
    // warm-up from lr to 8 x lr.
    ScheduleConfig s = step_schedule();
    s.epochs = 128;
    s.warmup_epochs = 4;
    s.warmup_factor = 8.0;
    s.kind = "multistep";
    s.milestones = {32, 64};
    s.decay_factors = {0.25, 0.125};
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.001, 31, 1.0), 0.008);
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.001, 32, 0.1), 0.002);
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.001, 63, 1.0), 0.002);
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.001, 64, 0.1), 0.001);
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.001, 127, 1.0), 0.001);
    // The same boundaries with gamma = 0.25 compound: 0.25 and then 0.0625.
    s.decay_factors = {};
    s.gamma = 0.25;
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.001, 64, 0.1), 0.0005);
}

TEST(Schedule, NoWarmupStartsAtTheBaseLr) {
    ScheduleConfig s = step_schedule();
    s.warmup_epochs = 0;
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 0, epoch_fraction(0, 10)), 0.1);
}

TEST(Schedule, CosineFallsFromTheBaseLrToZeroAfterWarmup) {
    ScheduleConfig s = step_schedule();
    s.kind = "cosine";
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 1, 1.0), 0.1); // end of warm-up
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 2, 0.5),
                     0.5 * 0.1 * (1 + std::cos(std::numbers::pi * 0.5 / 8)));
    EXPECT_NEAR(scheduled_lr(s, 0.1, 5, 1.0), 0.05, 1e-15); // half way
    EXPECT_NEAR(scheduled_lr(s, 0.1, 9, 1.0), 0.0, 1e-15);  // last step of the last epoch
    EXPECT_GT(scheduled_lr(s, 0.1, 9, 0.5), 0.0);
}

} // namespace
} // namespace kakuren::trainer

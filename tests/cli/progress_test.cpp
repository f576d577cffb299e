// The live progress line's arithmetic (cli/progress.hpp) on an injected clock: the instantaneous
// samples/s over the last seconds (not the phase's running average), the epoch's and the run's
// ETA, and the running loss.
#include "cli/progress.hpp"

#include <gtest/gtest.h>

#include <string>

using kakuren::cli::ProgressMeter;
using kakuren::trainer::EpochResult;
using kakuren::trainer::StepProgress;

namespace {

/// A report of the train phase: step of num_steps, batch 100, at clock t; avg = the phase's
/// average rate the trainer would report.
StepProgress train_at(double t, std::int64_t step, double avg, int epoch = 1,
                      std::int64_t num_steps = 100) {
    StepProgress p;
    p.epoch = epoch;
    p.num_epochs = 10;
    p.phase = "train";
    p.step = step;
    p.num_steps = num_steps;
    p.samples = step * 100;
    p.samples_per_s = avg;
    p.elapsed_s = t;
    return p;
}

} // namespace

// The case: a fast start, then the machine got loaded. The phase average still says
// about 5,900 samples/s, the last seconds ran at about 2,400.
TEST(ProgressMeter, RateIsTheLastSecondsNotThePhaseAverage) {
    ProgressMeter m(5.0);
    double t = 0;
    std::int64_t step = 0;
    for (int i = 0; i < 10; ++i) { // 10 s at 10,000 samples/s (a phase of 100,000 steps)
        t += 1.0;
        step += 100;
        m.add(train_at(t, step, 10000, 1, 100000));
    }
    for (int i = 0; i < 10; ++i) { // then 10 s at 2,400 samples/s
        t += 1.0;
        step += 24;
        m.add(train_at(t, step, step * 100 / t, 1, 100000));
    }
    EXPECT_NEAR(2400.0, m.samples_per_s(), 1e-9);
    EXPECT_NE(std::string::npos, m.text().find("2,400 samples/s")) << m.text();
}

TEST(ProgressMeter, OneReportFallsBackToThePhaseAverage) {
    ProgressMeter m;
    EXPECT_EQ(0.0, m.samples_per_s());
    EXPECT_FALSE(m.epoch_eta_s());
    m.add(train_at(2.0, 10, 500.0));
    EXPECT_EQ(500.0, m.samples_per_s());
    // 10 steps (1,000 samples) took 1,000 / 500 = 2 s: 90 steps left at 5 steps/s.
    ASSERT_TRUE(m.epoch_eta_s());
    EXPECT_NEAR(18.0, *m.epoch_eta_s(), 1e-9);
}

TEST(ProgressMeter, ANewPhaseOrEpochStartsANewWindow) {
    ProgressMeter m(5.0);
    m.add(train_at(1, 10, 1000));
    m.add(train_at(2, 20, 1000));
    StepProgress eval = train_at(3, 1, 50);
    eval.phase = "eval";
    eval.samples = 50;
    m.add(eval);
    EXPECT_EQ(50.0, m.samples_per_s()); // not (50 - 2,000) / 1 s
}

// Epoch 1: train 100 steps, 10 steps/s, nothing known of the later phases yet. Epoch 2 knows
// epoch 1's refresh and eval seconds and its total.
TEST(ProgressMeter, EpochAndRunEtaAreLabelledAndAddUp) {
    ProgressMeter m(5.0);
    m.add(train_at(1.0, 10, 1000));
    m.add(train_at(2.0, 20, 1000));
    // 80 steps at 10 steps/s.
    EXPECT_NEAR(8.0, *m.epoch_eta_s(), 1e-9);
    // No epoch finished: this one is estimated at 2 s elapsed + 8 s left, 9 more epochs.
    EXPECT_NEAR(8.0 + 10.0 * 9, *m.run_eta_s(), 1e-9);
    EXPECT_EQ("1,000 samples/s  epoch eta 0:08, run eta 1:38", m.text());

    EpochResult r;
    r.epoch = 1;
    r.train_s = 10;
    r.hidden_pass_s = 3;
    r.eval_s = 2;
    r.total_s = 15;
    m.epoch_done(r);
    m.add(train_at(16.0, 50, 1000, 2));
    m.add(train_at(21.0, 100, 1000, 2, 200));
    // Epoch 2: 100 of 200 steps left at 10 steps/s, then refresh 3 s and eval 2 s as in
    // epoch 1; then 8 epochs of 15 s.
    EXPECT_NEAR(10.0 + 3 + 2, *m.epoch_eta_s(), 1e-9);
    EXPECT_NEAR(15.0 + 8 * 15, *m.run_eta_s(), 1e-9);
    StepProgress refresh = train_at(22.0, 0, 0, 2, 30);
    refresh.phase = "refresh";
    refresh.samples = 0;
    m.add(refresh);
    EXPECT_FALSE(m.epoch_eta_s()); // no refresh step timed yet: unknown, not 0
    EXPECT_NE(std::string::npos, m.text().find("epoch eta ?, run eta ?")) << m.text();
}

TEST(ProgressMeter, RunningLossIsShownOnceThereIsOne) {
    ProgressMeter m;
    StepProgress p = train_at(1.0, 5, 100);
    m.add(p);
    EXPECT_EQ(std::string::npos, m.text().find("loss")) << m.text();
    p.has_loss = true;
    p.loss_mean = 0.41234;
    m.add(p);
    EXPECT_NE(std::string::npos, m.text().find("  loss 0.4123  ")) << m.text();
}

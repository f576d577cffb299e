// The trainer runs every hiding strategy's plan: draws with replacement, loss weights, the full
// refresh pass that iswr asks for, and records what each decided.
#include <algorithm>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "trainer/trainer.hpp"
#include "util/mllog.hpp"

namespace kakuren::trainer {
namespace {

Config small_config(hiding::Strategy strategy, int epochs = 4) {
    Config c;
    c.data.dataset = "synthetic";
    c.data.synthetic_train = 1024;
    c.data.synthetic_test = 512;
    c.data.synthetic_classes = 10;
    c.data.synthetic_channels = 1;
    c.data.synthetic_size = 8;
    c.data.batch_size = 64;
    c.data.eval_batch_size = 256;
    c.model.kind = "mlp";
    c.model.hidden = {32};
    c.optim.lr = 0.05;
    c.schedule.epochs = epochs;
    c.schedule.warmup_epochs = 1;
    c.schedule.milestones = {};
    c.hiding.strategy = strategy;
    c.threads = 1;
    c.seed = 7;
    return c;
}

class Collector : public Observer {
  public:
    void on_epoch(const EpochResult& r) override { epochs.push_back(r); }
    std::vector<EpochResult> epochs;
};

std::vector<EpochResult> run(const Config& config) {
    Collector collector;
    util::MlLog no_log;
    const Summary summary = train(config, collector, no_log);
    EXPECT_EQ(summary.epochs_done, config.schedule.epochs);
    EXPECT_GT(summary.final_accuracy, 0.5) << hiding::to_string(config.hiding.strategy);
    return collector.epochs;
}

TEST(TrainStrategies, IswrRefreshesEverySampleThenTrainsOnNDraws) {
    const auto epochs = run(small_config(hiding::Strategy::iswr));
    ASSERT_EQ(epochs.size(), 4U);
    EXPECT_EQ(epochs[0].refreshed, 0) << "no full pass before the first epoch";
    EXPECT_EQ(epochs[0].hidden, 0);
    for (std::size_t e = 1; e < epochs.size(); ++e) {
        EXPECT_EQ(epochs[e].refreshed, 1024) << "the full forward pass";
        EXPECT_GT(epochs[e].hidden_pass_s, 0.0);
        EXPECT_EQ(epochs[e].visible, 1024) << "N draws, as many steps as full data";
        EXPECT_GT(epochs[e].hidden, 0) << "draws with replacement miss some samples";
        EXPECT_EQ(epochs[e].candidates, 0);
    }
}

TEST(TrainStrategies, InfoBatchPrunesAndTrainsWithWeights) {
    Config c = small_config(hiding::Strategy::infobatch, 4);
    c.hiding.infobatch_ratio = 0.5;
    c.hiding.infobatch_delta = 0.75; // prune in epochs 1-3 (0-based 0-2), full data in the last
    const auto epochs = run(c);
    EXPECT_EQ(epochs[0].hidden, 0);
    EXPECT_GT(epochs[1].hidden, 0);
    EXPECT_GT(epochs[2].hidden, 0);
    EXPECT_EQ(epochs[3].hidden, 0);
    for (const auto& e : epochs) {
        EXPECT_EQ(e.visible + e.hidden, 1024);
        EXPECT_EQ(e.refreshed, 0) << "pruned samples keep stale scores";
        EXPECT_EQ(e.lr_scale, 1.0);
    }
    EXPECT_EQ(epochs[1].candidates, epochs[1].hidden + epochs[1].moved_back);
}

TEST(TrainStrategies, SelectiveBackpropRefreshesWhatItDoesNotTrain) {
    const auto epochs = run(small_config(hiding::Strategy::selective_backprop));
    EXPECT_EQ(epochs[0].hidden, 0) << "all losses equal: every percentile is 1";
    for (std::size_t e = 1; e < epochs.size(); ++e) {
        EXPECT_GT(epochs[e].hidden, 200);
        EXPECT_EQ(epochs[e].refreshed, epochs[e].hidden);
    }
}

TEST(TrainStrategies, RandomAndRotateHideWithoutARefreshPass) {
    Config random = small_config(hiding::Strategy::random);
    random.hiding.fraction = 0.3;
    for (const auto& e : run(random)) {
        EXPECT_EQ(e.hidden, 307);
        EXPECT_EQ(e.refreshed, 0);
    }
    const auto rotated = run(small_config(hiding::Strategy::rotate));
    EXPECT_GT(rotated[2].hidden, 0);
    EXPECT_EQ(rotated.back().hidden, 0) << "the last epoch trains on the full data";
    for (const auto& e : rotated) {
        EXPECT_EQ(e.refreshed, 0);
    }
}

} // namespace
} // namespace kakuren::trainer

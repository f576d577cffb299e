// The trainer runs every hiding strategy's plan: draws with replacement, loss weights, the full
// refresh pass that iswr asks for, and records what each decided.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "trainer/trainer.hpp"
#include "util/mllog.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;

Config small_config(const std::string& strategy, int epochs = 4) {
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
    EXPECT_GT(summary.final_accuracy, 0.5) << config.hiding.strategy;
    return collector.epochs;
}

TEST(TrainStrategies, IswrRefreshesEverySampleThenTrainsOnNDraws) {
    const auto epochs = run(small_config("iswr"));
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
    Config c = small_config("infobatch", 4);
    c.hiding.params["infobatch_ratio"] = 0.5;
    // Prune in epochs 1-3 (0-based 0-2), full data in the last.
    c.hiding.params["infobatch_delta"] = 0.75;
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
    const auto epochs = run(small_config("selective_backprop"));
    EXPECT_EQ(epochs[0].hidden, 0) << "all losses equal: every percentile is 1";
    for (std::size_t e = 1; e < epochs.size(); ++e) {
        EXPECT_GT(epochs[e].hidden, 200);
        EXPECT_EQ(epochs[e].refreshed, epochs[e].hidden);
    }
}

TEST(TrainStrategies, RandomAndRotateHideWithoutARefreshPass) {
    Config random = small_config("random");
    random.hiding.fraction = 0.3;
    for (const auto& e : run(random)) {
        EXPECT_EQ(e.hidden, 307);
        EXPECT_EQ(e.refreshed, 0);
    }
    const auto rotated = run(small_config("rotate"));
    EXPECT_GT(rotated[2].hidden, 0);
    EXPECT_EQ(rotated.back().hidden, 0) << "the last epoch trains on the full data";
    for (const auto& e : rotated) {
        EXPECT_EQ(e.refreshed, 0);
    }
}

// The hiding_* hyper-parameter records, as written before the registry drove them (golden: the
// value text of each record, in order). A new strategy's own knobs appear here by themselves.
TEST(TrainStrategies, LogsEachStrategysOwnKnobsAsHidingRecords) {
    const std::map<std::string, std::vector<std::string>> expected = {
        {"none", {}},
        {"kakurenbo", {}},
        {"random", {}},
        {"iswr", {}},
        {"infobatch", {"hiding_infobatch_ratio=0.5", "hiding_infobatch_delta=0.875"}},
        {"selective_backprop", {"hiding_sb_beta=1.0"}},
        {"rotate",
         {"hiding_rotate_fraction=0.9", "hiding_rotate_ratio=0.65", "hiding_rotate_full_epochs=1",
          "hiding_rotate_tau=0.9"}},
    };
    const fs::path dir =
        fs::temp_directory_path() / ("kakuren-strategy-mllog-" + std::to_string(getpid()));
    fs::remove_all(dir);
    for (const auto& [strategy, knobs] : expected) {
        const fs::path path = dir / (strategy + ".txt");
        Config c = small_config(strategy, 1);
        {
            Collector collector;
            util::MlLog log(path);
            train(c, collector, log);
        }
        std::ifstream in(path);
        std::vector<std::string> common;
        std::vector<std::string> own;
        for (std::string line; std::getline(in, line);) {
            const std::size_t key_at = line.find("\"key\": \"hiding_");
            if (key_at == std::string::npos) {
                continue;
            }
            const std::size_t key_begin = key_at + 8;
            const std::string key = line.substr(key_begin, line.find('"', key_begin) - key_begin);
            const std::size_t value_at = line.find("\"value\": ") + 9;
            const std::string value =
                line.substr(value_at, line.find(", \"metadata\": ") - value_at);
            (key == "hiding_strategy" || key == "hiding_fraction" || key == "hiding_tau" ||
                     key == "hiding_lr_compensation" || key == "hiding_refresh_every"
                 ? common
                 : own)
                .push_back(key + "=" + value);
        }
        EXPECT_EQ(common, (std::vector<std::string>{"hiding_strategy=\"" + strategy + "\"",
                                                    "hiding_fraction=0.3", "hiding_tau=0.7",
                                                    "hiding_lr_compensation=\"scheduled\"",
                                                    "hiding_refresh_every=1"}));
        EXPECT_EQ(own, knobs) << strategy;
    }
    fs::remove_all(dir);
}

} // namespace
} // namespace kakuren::trainer

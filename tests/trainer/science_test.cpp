// The science workloads in training: every hiding strategy on every task, hiding on
// segmentation and regression, a regression run stopping at its MAE target, the MLPerf records
// of DeepCAM and CosmoFlow runs (the reference's LR decay included), and exact resume of a
// segmentation and a regression run with Adam / AdamW. The tasks, stand-ins, models and schedule
// alone: science_tasks_test.cpp, science_standins_test.cpp, science_models_test.cpp.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hiding/registry.hpp"
#include "support/temp_dir.hpp"
#include "trainer/task.hpp"
#include "trainer/trainer.hpp"
#include "util/error.hpp"
#include "util/mllog.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;
using kakuren::testing::TempDir;

// ---- training: every strategy on every task, and exact resume ----

Config segmentation_config() {
    Config c;
    c.data.dataset = "synthetic";
    c.data.synthetic_kind = "deepcam";
    c.data.synthetic_size = 16;
    c.data.synthetic_train = 96;
    c.data.synthetic_test = 32;
    c.data.batch_size = 16;
    c.data.eval_batch_size = 16;
    c.task.kind = "segmentation";
    c.task.iou_threshold = 0.4;
    c.model.kind = "deepcam";
    c.model.width = 4;
    c.model.depth = 2;
    c.optim.kind = "adam";
    c.optim.lr = 0.01;
    c.optim.weight_decay = 0;
    c.schedule.epochs = 3;
    c.schedule.warmup_epochs = 0;
    c.schedule.warmup_steps = 3;
    c.schedule.kind = "multistep";
    c.schedule.milestones = {2};
    c.threads = 1;
    c.seed = 3;
    return c;
}

Config regression_config() {
    Config c;
    c.data.dataset = "synthetic";
    c.data.synthetic_kind = "cosmoflow";
    c.data.synthetic_size = 8;
    c.data.synthetic_train = 96;
    c.data.synthetic_test = 32;
    c.data.batch_size = 16;
    c.data.eval_batch_size = 16;
    c.task.kind = "regression";
    c.task.tolerance = 0.4;
    c.model.kind = "cosmoflow";
    c.model.width = 4;
    c.model.depth = 2;
    c.model.dropout = 0.1;
    c.optim.kind = "adamw";
    c.optim.lr = 0.003;
    c.optim.weight_decay = 0.01;
    c.schedule.epochs = 3;
    c.schedule.warmup_epochs = 1;
    c.schedule.kind = "cosine";
    c.threads = 1;
    c.seed = 3;
    return c;
}

Config classification_config() {
    Config c;
    c.data.dataset = "synthetic";
    c.data.synthetic_train = 96;
    c.data.synthetic_test = 32;
    c.data.synthetic_size = 8;
    c.data.batch_size = 16;
    c.model.kind = "mlp";
    c.model.hidden = {16};
    c.schedule.epochs = 3;
    c.schedule.milestones = {};
    c.threads = 1;
    c.seed = 3;
    return c;
}

class Collector : public Observer {
  public:
    void on_epoch(const EpochResult& r) override {
        metrics.push_back(r.test_accuracy);
        hidden.push_back(r.hidden);
        names.emplace_back(r.metric_name);
        for (const float c : r.stats.confidence) {
            confidence_in_range &= c >= 0.0F && c <= 1.0F;
        }
    }
    std::vector<double> metrics;
    std::vector<std::int64_t> hidden;
    std::vector<std::string> names;
    bool confidence_in_range = true;
};

struct StrategyTask {
    std::string strategy, task;
};

void PrintTo(const StrategyTask& p, std::ostream* os) {
    *os << p.strategy << " on " << p.task;
}

class EveryStrategyOnEveryTask : public ::testing::TestWithParam<StrategyTask> {};

TEST_P(EveryStrategyOnEveryTask, TrainsPlansAndRecordsTheTasksMetric) {
    const StrategyTask& p = GetParam();
    Config c = p.task == "segmentation" ? segmentation_config()
               : p.task == "regression" ? regression_config()
                                        : classification_config();
    c.hiding.strategy = p.strategy;
    c.hiding.fraction = 0.5;
    c.hiding.tau = 0.1; // let confidence-reading strategies hide on this short run
    Collector collector;
    util::MlLog no_log;
    const Summary s = train(c, collector, no_log);
    EXPECT_EQ(s.epochs_done, 3);
    const std::string metric = p.task == "segmentation" ? "IoU"
                               : p.task == "regression" ? "MAE"
                                                        : "accuracy";
    EXPECT_EQ(s.metric_name, metric);
    ASSERT_EQ(collector.names.size(), 3U);
    EXPECT_EQ(collector.names.back(), metric);
    for (const double m : collector.metrics) {
        EXPECT_TRUE(std::isfinite(m));
        EXPECT_GE(m, 0.0);
        if (p.task != "regression") {
            EXPECT_LE(m, 1.0);
        }
    }
    EXPECT_TRUE(collector.confidence_in_range);
    EXPECT_EQ(s.best_accuracy,
              p.task == "regression"
                  ? *std::min_element(collector.metrics.begin(), collector.metrics.end())
                  : *std::max_element(collector.metrics.begin(), collector.metrics.end()));
    if (p.strategy != "random") {
        // Every other strategy waits for measured statistics.
        EXPECT_EQ(collector.hidden.front(), 0) << "nothing measured before epoch 1";
    }
}

std::vector<StrategyTask> every_combination() {
    std::vector<StrategyTask> out;
    for (const hiding::StrategyInfo* s : hiding::strategies()) {
        for (const char* task : {"classification", "segmentation", "regression"}) {
            out.push_back({std::string(s->name), task});
        }
    }
    return out;
}

INSTANTIATE_TEST_SUITE_P(Science, EveryStrategyOnEveryTask,
                         ::testing::ValuesIn(every_combination()),
                         [](const ::testing::TestParamInfo<StrategyTask>& info) {
                             return info.param.strategy + "_" + info.param.task;
                         });

TEST(ScienceTraining, HidingFindsEasySamplesInSegmentationAndRegression) {
    for (Config c : {segmentation_config(), regression_config()}) {
        c.hiding.strategy = "kakurenbo";
        c.hiding.fraction = 0.5;
        c.hiding.tau = 0.1;
        c.task.iou_threshold = 0.3;
        c.task.tolerance = 1.0;
        Collector collector;
        util::MlLog no_log;
        (void)train(c, collector, no_log);
        EXPECT_GT(collector.hidden.back(), 0) << c.task.kind;
    }
}

TEST(ScienceTraining, ARegressionRunStopsAtItsMaeTarget) {
    Config c = regression_config();
    c.target_accuracy = 10.0; // any MAE is <= 10: the first epoch reaches it
    Collector collector;
    util::MlLog no_log;
    const Summary s = train(c, collector, no_log);
    EXPECT_TRUE(s.target_reached);
    EXPECT_EQ(s.epochs_done, 1);
    c.target_accuracy = 1e-6; // never
    const Summary never = train(c, collector, no_log);
    EXPECT_FALSE(never.target_reached);
    EXPECT_EQ(never.epochs_done, 3);
}

/// key=value of every record of an MLPerf log, in order ("eval_error=0.41 @1" with epoch_num).
std::vector<std::string> mllog_records(const fs::path& path) {
    std::vector<std::string> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        const std::size_t key_at = line.find("\"key\": \"") + 8;
        const std::string key = line.substr(key_at, line.find('"', key_at) - key_at);
        const std::size_t value_at = line.find("\"value\": ") + 9;
        std::string record =
            key + "=" + line.substr(value_at, line.find(", \"metadata\": ") - value_at);
        if (const std::size_t e = line.find("\"epoch_num\": "); e != std::string::npos) {
            record += " @" + line.substr(e + 13, line.find_first_of(",}", e) - e - 13);
        }
        out.push_back(record);
    }
    return out;
}

bool has_record(const std::vector<std::string>& records, const std::string& prefix) {
    return std::any_of(records.begin(), records.end(),
                       [&](const std::string& r) { return r.rfind(prefix, 0) == 0; });
}

TEST(ScienceMllog, ASegmentationRunLogsDeepcamsRecordsAndItsIou) {
    const TempDir dir;
    Config c = segmentation_config();
    c.benchmark_name = "deepcam-standin-mini";
    {
        Collector collector;
        util::MlLog log(dir.path() / "mllog.txt");
        train(c, collector, log);
    }
    const std::vector<std::string> r = mllog_records(dir.path() / "mllog.txt");
    for (const char* expected :
         {"submission_benchmark=\"deepcam-standin-mini (kakuren stand-in)\"",
          "gradient_accumulation_frequency=1", "batchnorm_group_size=1", "opt_name=\"Adam\"",
          "opt_lr=0.01", "opt_betas=[0.9, 0.999]", "opt_eps=1e-08", "scheduler_type=\"multistep\"",
          "scheduler_milestones=[2]", "scheduler_lr_warmup_steps=3", "scheduler_lr_warmup_factor=1",
          "seed=3", "global_batch_size=16", "eval_accuracy=", "eval_error="}) {
        EXPECT_TRUE(has_record(r, expected)) << expected;
    }
    EXPECT_FALSE(has_record(r, "dropout="));
}

TEST(ScienceMllog, ARegressionRunLogsCosmoflowsRecordsAndItsMaeAsEvalError) {
    const TempDir dir;
    Config c = regression_config();
    c.schedule.warmup_factor = 4.0;
    {
        Collector collector;
        util::MlLog log(dir.path() / "mllog.txt");
        train(c, collector, log);
    }
    const std::vector<std::string> r = mllog_records(dir.path() / "mllog.txt");
    for (const char* expected :
         {"opt_name=\"AdamW\"", "opt_base_learning_rate=0.003", "dropout=0.1",
          "opt_learning_rate_warmup_epochs=1", "opt_learning_rate_warmup_factor=4",
          "opt_learning_rate_decay_boundary_epochs=[]", "opt_weight_decay=0.01"}) {
        EXPECT_TRUE(has_record(r, expected)) << expected;
    }
    EXPECT_FALSE(has_record(r, "eval_accuracy")) << "an MAE is not an accuracy";
    EXPECT_EQ(std::count_if(r.begin(), r.end(),
                            [](const std::string& x) {
                                return x.rfind("eval_error=", 0) == 0 &&
                                       x.find(" @") != std::string::npos;
                            }),
              3)
        << "one eval_error (the MAE) with epoch_num per epoch";
    EXPECT_FALSE(has_record(r, "scheduler_type"));
}

/// CosmoFlow's reference decay, scaled down: x0.25 from epoch 1, x0.125 from epoch 2, relative
/// to the base LR (the reference: 32 and 64 of 128 epochs).
Config regression_with_reference_decay() {
    Config c = regression_config();
    c.schedule.warmup_epochs = 0;
    c.schedule.kind = "multistep";
    c.schedule.milestones = {1, 2};
    c.schedule.decay_factors = {0.25, 0.125};
    return c;
}

class LrCollector : public Observer {
  public:
    void on_epoch(const EpochResult& r) override { lrs.push_back(r.lr); }
    std::vector<double> lrs;
};

TEST(ScienceMllog, CosmoflowsPerBoundaryDecayFactorsDriveTheLrAndAreLoggedAsTheReference) {
    const TempDir dir;
    const Config c = regression_with_reference_decay();
    LrCollector lrs;
    {
        util::MlLog log(dir.path() / "mllog.txt");
        train(c, lrs, log);
    }
    ASSERT_EQ(lrs.lrs.size(), 3U);
    EXPECT_DOUBLE_EQ(lrs.lrs[0], 0.003);
    EXPECT_DOUBLE_EQ(lrs.lrs[1], 0.003 * 0.25);
    EXPECT_DOUBLE_EQ(lrs.lrs[2], 0.003 * 0.125) << "relative to the base LR, not compounding";
    const std::vector<std::string> r = mllog_records(dir.path() / "mllog.txt");
    // The reference logs the boundaries and max(decay_schedule.values()).
    EXPECT_TRUE(has_record(r, "opt_learning_rate_decay_boundary_epochs=[1, 2]"));
    EXPECT_TRUE(has_record(r, "opt_learning_rate_decay_factor=0.25"));
}

/// Keeps the checkpoints; stops at a chosen one.
class Stopper : public Observer {
  public:
    void on_checkpoint(const checkpoint::Snapshot& s) override {
        checkpoint::Resume r;
        r.name = s.loop.position.name();
        r.loop = s.loop;
        r.test_accuracy = s.test_accuracy;
        for (const checkpoint::File& f : s.files) {
            r.files[f.name] = f.bytes;
        }
        r.stats.assign(s.stats);
        r.hidden_ids.assign(s.hidden_ids.begin(), s.hidden_ids.end());
        checkpoints.push_back(std::move(r));
        if (stop_at && checkpoints.size() == *stop_at) {
            stop.store(true);
        }
    }
    std::vector<checkpoint::Resume> checkpoints;
    std::optional<std::size_t> stop_at;
    std::atomic<bool> stop{false};
};

void expect_exact_resume(Config c) {
    SCOPED_TRACE(c.task.kind);
    c.hiding.strategy = "kakurenbo";
    c.hiding.fraction = 0.5;
    c.hiding.tau = 0.1;
    c.task.iou_threshold = 0.2;
    c.task.tolerance = 1.0;
    checkpoint::Config k;
    k.every_steps = 2;
    c.checkpoint = k;
    util::MlLog no_log;
    Stopper reference;
    const Summary full = train(c, reference, no_log, &reference.stop);
    ASSERT_GT(reference.checkpoints.size(), 6U);
    // Stop in the middle of epoch 2 (Adam's moments, the warm-up and the hidden set are live).
    Stopper first;
    first.stop_at = reference.checkpoints.size() / 2;
    ASSERT_TRUE(train(c, first, no_log, &first.stop).interrupted);
    const checkpoint::Resume from = first.checkpoints.back();
    Stopper second;
    const Summary resumed = train(c, second, no_log, &second.stop, &from);
    EXPECT_EQ(resumed.model_digest, full.model_digest);
    EXPECT_EQ(resumed.final_accuracy, full.final_accuracy);
    const checkpoint::Resume& a = reference.checkpoints.back();
    const checkpoint::Resume& b = second.checkpoints.back();
    for (const auto& [name, bytes] : a.files) {
        EXPECT_TRUE(b.files.at(name) == bytes) << name << " differs";
    }
    EXPECT_TRUE(a.stats == b.stats);
    EXPECT_EQ(a.hidden_ids, b.hidden_ids);
}

TEST(ScienceResume, ASegmentationRunWithAdamResumesBitIdentical) {
    expect_exact_resume(segmentation_config());
}

TEST(ScienceResume, ARegressionRunWithAdamWResumesBitIdentical) {
    expect_exact_resume(regression_config());
}

TEST(ScienceResume, ARegressionRunStoppedAfterADecayBoundaryResumesBitIdentical) {
    expect_exact_resume(regression_with_reference_decay());
}

} // namespace
} // namespace kakuren::trainer

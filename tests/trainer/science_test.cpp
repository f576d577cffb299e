// The science workloads: the segmentation and regression tasks (loss, metric, what hiding
// reads), the CosmoFlow / DeepCAM stand-in generators, the science models, Adam / AdamW and the
// step warm-up, every hiding strategy on every task, and exact resume of a segmentation and a
// regression run.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hiding/registry.hpp"
#include "recipes/kinds.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "trainer/models.hpp"
#include "trainer/schedule.hpp"
#include "trainer/standins.hpp"
#include "trainer/task.hpp"
#include "trainer/trainer.hpp"
#include "util/error.hpp"
#include "util/mllog.hpp"
#include "util/system.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;
using kakuren::testing::TempDir;

// ---- tasks ----

TEST(SegmentationTask, IouPerSampleAveragesClassesAndCountsAnEmptyUnionAsOne) {
    TaskConfig config;
    config.kind = "segmentation";
    config.iou_threshold = 0.6;
    const auto task = make_task(config, {});
    EXPECT_EQ(task->metric_name(), "IoU");
    EXPECT_FALSE(task->lower_is_better());
    // Two samples of 1 x 4 pixels, 3 classes. Sample 0: labels 0 0 1 1, predicted 0 0 1 0:
    // class 0 IoU 2/3, class 1 IoU 1/2, class 2 absent and never predicted: 1 -> 13/18.
    // Sample 1: predicted exactly (labels 2 2 2 2): classes 0 and 1 empty (1), class 2: 1.
    const torch::Tensor labels =
        torch::tensor({0, 0, 1, 1, 2, 2, 2, 2}, torch::kInt64).view({2, 1, 4});
    const torch::Tensor predicted =
        torch::tensor({0, 0, 1, 0, 2, 2, 2, 2}, torch::kInt64).view({2, 1, 4});
    // Logits: 4 for the predicted class, 0 elsewhere, [B, C, H, W].
    const torch::Tensor logits =
        torch::one_hot(predicted, 3).permute({0, 3, 1, 2}).to(torch::kFloat32) * 4;
    const Outcome out = task->outcome(logits, labels);
    const EvalSums sums = task->evaluate(logits, labels);
    EXPECT_NEAR(sums.metric, 13.0 / 18.0 + 1.0, 1e-6);
    EXPECT_EQ(sums.count, 2);
    EXPECT_TRUE(out.correct[0].item<bool>()); // 13/18 >= 0.6
    EXPECT_TRUE(out.correct[1].item<bool>());
}

TEST(SegmentationTask, LossConfidenceAndCorrect) {
    TaskConfig config;
    config.kind = "segmentation";
    config.iou_threshold = 0.75;
    config.class_weights = {1.0, 2.0, 3.0};
    const auto task = make_task(config, {});
    const torch::Tensor labels =
        torch::tensor({0, 0, 1, 1, 2, 2, 2, 2}, torch::kInt64).view({2, 1, 4});
    const torch::Tensor predicted =
        torch::tensor({0, 0, 1, 0, 2, 2, 2, 2}, torch::kInt64).view({2, 1, 4});
    const torch::Tensor logits =
        torch::one_hot(predicted, 3).permute({0, 3, 1, 2}).to(torch::kFloat32) * 4;
    const Outcome out = task->outcome(logits, labels);
    // Per pixel: p(top) = e^4 / (e^4 + 2); a wrong pixel's label has p = 1 / (e^4 + 2).
    const double top = std::exp(4.0) / (std::exp(4.0) + 2.0);
    const double right = -std::log(top), wrong = -std::log(1.0 / (std::exp(4.0) + 2.0));
    EXPECT_NEAR(out.losses[0].item<float>(), (right + right + 2 * right + 2 * wrong) / 4, 1e-5);
    EXPECT_NEAR(out.losses[1].item<float>(), 3 * right, 1e-5);
    EXPECT_NEAR(out.confidence[0].item<float>(), top, 1e-6);
    EXPECT_FALSE(out.correct[0].item<bool>()); // 13/18 < 0.75
    EXPECT_TRUE(out.correct[1].item<bool>());
}

TEST(RegressionTask, MseLossMaeMetricToleranceAndConfidence) {
    TaskConfig config;
    config.kind = "regression";
    config.tolerance = 0.2;
    const auto task = make_task(config, {});
    EXPECT_EQ(task->metric_name(), "MAE");
    EXPECT_TRUE(task->lower_is_better());
    const torch::Tensor targets = torch::tensor({0.0F, 0.5F, -0.5F, 1.0F}).view({2, 2});
    const torch::Tensor output = torch::tensor({0.1F, 0.4F, 0.5F, 1.0F}).view({2, 2});
    const Outcome out = task->outcome(output, targets);
    EXPECT_NEAR(out.losses[0].item<float>(), 0.01, 1e-6);
    EXPECT_NEAR(out.losses[1].item<float>(), 0.5, 1e-6);
    EXPECT_TRUE(out.correct[0].item<bool>());                // MAE 0.1 <= 0.2
    EXPECT_FALSE(out.correct[1].item<bool>());               // MAE 0.5
    EXPECT_NEAR(out.confidence[0].item<float>(), 0.5, 1e-6); // 1 - 0.1 / 0.2
    EXPECT_EQ(out.confidence[1].item<float>(), 0.0F);
    const EvalSums sums = task->evaluate(output, targets);
    EXPECT_NEAR(sums.metric, 0.6, 1e-6);
    EXPECT_NEAR(sums.loss, 0.51, 1e-6);
}

TEST(Tasks, TheBatchConfidenceQuirkIsForClassificationOnly) {
    StatsConfig quirk;
    quirk.confidence_over_batch = true;
    for (const std::string kind : {"segmentation", "regression"}) {
        TaskConfig config;
        config.kind = kind;
        try {
            (void)make_task(config, quirk);
            ADD_FAILURE() << kind;
        } catch (const UsageError& e) {
            EXPECT_NE(std::string(e.what()).find("for task.kind = \"classification\" only"),
                      std::string::npos);
        }
    }
    EXPECT_EQ(task_kinds(),
              (std::vector<std::string>{"classification", "segmentation", "regression"}));
}

TEST(Tasks, EveryTaskKindARecipeMayNameHasAnImplementationWithTheRecipesMetricName) {
    std::vector<std::string> recipe_kinds;
    for (const auto& kind : recipes::task_kinds()) {
        recipe_kinds.emplace_back(kind.name);
        TaskConfig config;
        config.kind = kind.name;
        EXPECT_EQ(make_task(config, {})->metric_name(), recipes::task_metric(kind.name));
    }
    EXPECT_EQ(recipe_kinds, task_kinds());
}

// ---- stand-in generators ----

TEST(Standins, CosmoflowIsSeededAPrefixAndTargetsAreInRange) {
    const CosmoflowSamples a = make_cosmoflow(6, 8, 11, 1);
    const CosmoflowSamples b = make_cosmoflow(4, 8, 11, 1);
    const CosmoflowSamples other = make_cosmoflow(4, 8, 12, 1);
    EXPECT_EQ(a.counts.sizes(), (std::vector<std::int64_t>{6, 4, 8, 8, 8}));
    EXPECT_EQ(a.counts.scalar_type(), torch::kInt16);
    EXPECT_TRUE(torch::equal(a.counts.narrow(0, 0, 4), b.counts));
    EXPECT_TRUE(torch::equal(a.targets.narrow(0, 0, 4), b.targets));
    EXPECT_FALSE(torch::equal(other.counts, b.counts));
    EXPECT_LE(a.targets.abs().max().item<float>(), 1.0F);
    EXPECT_GE(a.counts.min().item<std::int16_t>(), 0);
}

TEST(Standins, CosmoflowMeanCountsFollowTheDensityTargetAlone) {
    // Only t2 moves the mean: mean counts = 4 exp(0.5 t2) up to the field's sampling noise.
    const CosmoflowSamples s = make_cosmoflow(64, 16, 3, 1);
    const torch::Tensor log_mean = s.counts.to(torch::kFloat32).mean({1, 2, 3, 4}).log();
    const auto correlation = [&](std::int64_t target) {
        return torch::corrcoef(torch::stack({log_mean, s.targets.select(1, target)}))[0][1]
            .item<float>();
    };
    EXPECT_GT(correlation(2), 0.9F);
    EXPECT_NEAR((log_mean - 0.5 * s.targets.select(1, 2)).mean().item<float>(), std::log(4.0F),
                0.1F);
    for (const std::int64_t other : {0, 1, 3}) {
        EXPECT_LT(std::abs(correlation(other)), 0.5F) << "target " << other;
    }
}

TEST(Standins, DeepcamIsMostlyBackgroundWithBothStructuresInEverySample) {
    const DeepcamSamples s = make_deepcam(8, 48, 64, 5, 1);
    EXPECT_EQ(s.data.sizes(), (std::vector<std::int64_t>{8, 48, 64, 16}));
    EXPECT_EQ(s.labels.sizes(), (std::vector<std::int64_t>{8, 48, 64}));
    const double background = s.labels.eq(0).to(torch::kFloat32).mean().item<double>();
    EXPECT_GT(background, 0.75);
    EXPECT_LT(background, 0.97);
    for (std::int64_t i = 0; i < 8; ++i) {
        EXPECT_GT(s.labels[i].eq(1).sum().item<std::int64_t>(), 0) << i;
        EXPECT_GT(s.labels[i].eq(2).sum().item<std::int64_t>(), 0) << i;
    }
    EXPECT_TRUE(torch::equal(make_deepcam(3, 48, 64, 5, 1).data, s.data.narrow(0, 0, 3)));
    EXPECT_FALSE(torch::equal(make_deepcam(3, 48, 64, 5, 2).data, s.data.narrow(0, 0, 3)));
}

/// sha256 of a tensor's bytes (contiguous, native little-endian: what numpy's tobytes() gives).
std::string digest(const torch::Tensor& t) {
    const torch::Tensor c = t.contiguous();
    return util::sha256_hex(
        std::string_view(static_cast<const char*>(c.data_ptr()),
                         static_cast<std::size_t>(c.numel() * c.element_size())));
}

/// Runs a Python snippet with the real numpy / h5py; returns its stdout lines.
std::vector<std::string> python_lines(const std::string& code, const fs::path& dir) {
    const fs::path script = dir / "check.py";
    std::ofstream(script) << code;
    const kakuren::testing::Output out =
        kakuren::testing::run({{"/usr/bin/python3", script.string(), dir.string()}}, dir);
    EXPECT_EQ(out.code, 0) << out.err;
    std::vector<std::string> lines;
    std::istringstream in(out.out);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

TEST(StandinFiles, CosmoflowFilesHoldTheInMemorySamplesInNvidiasNumpyLayout) {
    const TempDir dir;
    SynthConfig c;
    c.kind = "cosmoflow";
    c.train = 5;
    c.validation = 2;
    c.size = 8;
    c.out = (dir.path() / "cf").string();
    const SynthResult r = write_standin(c);
    EXPECT_EQ(r.files, 2 * 7 + 4);
    const std::vector<std::string> lines = python_lines(R"py(
import hashlib, os, sys
import numpy as np
for split in ("train", "validation"):
    d = os.path.join(sys.argv[1], "cf", split)
    data = [np.load(os.path.join(d, f.strip())) for f in open(os.path.join(d, "files_data.lst"))]
    label = [np.load(os.path.join(d, f.strip())) for f in open(os.path.join(d, "files_label.lst"))]
    assert data[0].dtype == np.int16 and data[0].shape == (4, 8, 8, 8), (data[0].dtype, data[0].shape)
    assert label[0].dtype == np.float32 and label[0].shape == (4,)
    print(split, len(data), hashlib.sha256(np.stack(data).tobytes()).hexdigest(),
          hashlib.sha256(np.stack(label).tobytes()).hexdigest())
)py",
                                                        dir.path());
    ASSERT_EQ(lines.size(), 2U);
    const CosmoflowSamples train = make_cosmoflow(5, 8, c.seed, 1);
    const CosmoflowSamples validation = make_cosmoflow(2, 8, c.seed, 2);
    EXPECT_EQ(lines[0], "train 5 " + digest(train.counts) + " " + digest(train.targets));
    EXPECT_EQ(lines[1],
              "validation 2 " + digest(validation.counts) + " " + digest(validation.targets));
}

TEST(StandinFiles, DeepcamFilesHoldTheInMemorySamplesInTheReferenceHdf5Layout) {
    const TempDir dir;
    SynthConfig c;
    c.kind = "deepcam";
    c.train = 3;
    c.validation = 1;
    c.height = 16;
    c.width = 24;
    c.out = (dir.path() / "dc").string();
    write_standin(c);
    const std::vector<std::string> lines = python_lines(R"py(
import glob, hashlib, os, sys
import h5py, numpy as np
root = os.path.join(sys.argv[1], "dc")
for split in ("train", "validation"):
    files = sorted(glob.glob(os.path.join(root, split, "*.h5")))
    data, labels = [], []
    for name in files:
        with h5py.File(name, "r") as f:
            data.append(f["climate/data"][...])
            labels.append(f["climate/labels_0"][...])
    assert data[0].dtype == np.float32 and data[0].shape == (16, 24, 16), data[0].shape
    assert labels[0].dtype == np.uint8 and labels[0].shape == (16, 24)
    print(split, len(files), hashlib.sha256(np.stack(data).tobytes()).hexdigest(),
          hashlib.sha256(np.stack(labels).tobytes()).hexdigest())
with h5py.File(os.path.join(root, "stats.h5"), "r") as f:
    print("stats", " ".join(sorted(f["climate"].keys())), f["climate/mean"].shape[0])
)py",
                                                        dir.path());
    ASSERT_EQ(lines.size(), 3U);
    const DeepcamSamples train = make_deepcam(3, 16, 24, c.seed, 1);
    const DeepcamSamples validation = make_deepcam(1, 16, 24, c.seed, 2);
    EXPECT_EQ(lines[0],
              "train 3 " + digest(train.data) + " " + digest(train.labels.to(torch::kUInt8)));
    EXPECT_EQ(lines[1], "validation 1 " + digest(validation.data) + " " +
                            digest(validation.labels.to(torch::kUInt8)));
    EXPECT_EQ(lines[2], "stats maxval mean minval std 16");
}

TEST(StandinFiles, AnUnwritableFolderIsNamed) {
    SynthConfig c;
    c.kind = "cosmoflow";
    c.train = 1;
    c.validation = 1;
    c.size = 4;
    c.out = "/proc/kakuren-cannot-write-here";
    try {
        write_standin(c);
        ADD_FAILURE() << "wrote into /proc";
    } catch (const RuntimeFailure& e) {
        EXPECT_NE(std::string(e.what()).find("cannot write /proc/kakuren-cannot-write-here"),
                  std::string::npos)
            << e.what();
    }
}

// ---- models ----

TEST(ScienceModels, ResNet50HasTorchvisionsParameterCount) {
    ModelConfig config;
    config.kind = "resnet50";
    config.width = 64;
    EXPECT_EQ(count_parameters(*make_model(config, {3, 224, 224, 1000})), 25557032);
}

TEST(ScienceModels, CosmoflowHasTheReferenceParameterCountAt128Cubed) {
    ModelConfig config;
    config.kind = "cosmoflow";
    config.width = 32;
    ModelShape shape;
    shape.input = {4, 128, 128, 128};
    shape.output = {4};
    // 5 conv blocks (4,704,608) + dense 32768 -> 128 -> 64 -> 4 (4,202,948): 8.9 M.
    EXPECT_EQ(count_parameters(*make_model(config, shape)), 8907556);
}

TEST(ScienceModels, CosmoflowOutputIsBoundedAndSmallCubesNeedFewerBlocks) {
    ModelConfig config;
    config.kind = "cosmoflow";
    config.width = 4;
    ModelShape shape;
    shape.input = {4, 16, 16, 16};
    shape.output = {4};
    try {
        (void)make_model(config, shape);
        ADD_FAILURE() << "5 blocks cannot halve a 16^3 cube five times";
    } catch (const RuntimeFailure& e) {
        EXPECT_NE(std::string(e.what()).find("needs cubes of at least 32 per side"),
                  std::string::npos)
            << e.what();
    }
    config.depth = 3;
    const auto model = make_model(config, shape);
    model->eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor out = model->forward(torch::randn({2, 4, 16, 16, 16}) * 100);
    EXPECT_EQ(out.sizes(), (std::vector<std::int64_t>{2, 4}));
    EXPECT_LE(out.abs().max().item<float>(), 1.2F);
}

TEST(ScienceModels, DeepcamSegmentsAtFullResolution) {
    ModelConfig config;
    config.kind = "deepcam";
    config.width = 4;
    config.depth = 3;
    ModelShape shape;
    shape.input = {16, 24, 40};
    shape.output = {3, 24, 40};
    const auto model = make_model(config, shape);
    const torch::Tensor out = model->forward(torch::randn({2, 16, 24, 40}));
    EXPECT_EQ(out.sizes(), (std::vector<std::int64_t>{2, 3, 24, 40}));
}

// ---- schedules ----

TEST(ScienceSchedule, WarmupInStepsWithAFactorThenMultistepOrCosine) {
    ScheduleConfig s;
    s.epochs = 10;
    s.kind = "multistep";
    s.milestones = {4, 8};
    s.gamma = 0.5;
    s.warmup_steps = 5; // half an epoch of 10 steps
    s.warmup_factor = 2.0;
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 0, 0.0, 10), 0.1);
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 0, 0.25, 10), 0.15);
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 0, 0.5, 10), 0.2);
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 3, 1.0, 10), 0.2);
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 4, 0.5, 10), 0.1);
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 9, 0.5, 10), 0.05);
    s.kind = "cosine";
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 9, 1.0, 10), 0.0);
    EXPECT_NEAR(scheduled_lr(s, 0.1, 5, 0.25, 10), 0.1, 1e-12); // half way from 0.5 to 10
    s.warmup_factor = 1.0;
    EXPECT_DOUBLE_EQ(scheduled_lr(s, 0.1, 0, 0.25, 10), 0.05);
}

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
        for (const float c : r.confidence) {
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
        r.loss.assign(s.loss.begin(), s.loss.end());
        r.correct.assign(s.correct.begin(), s.correct.end());
        r.confidence.assign(s.confidence.begin(), s.confidence.end());
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
    EXPECT_TRUE(a.loss == b.loss);
    EXPECT_TRUE(a.confidence == b.confidence);
    EXPECT_TRUE(a.correct == b.correct);
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

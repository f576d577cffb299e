// The science tasks: segmentation (per-sample IoU, loss, confidence and correct) and regression
// (MSE loss, MAE metric, tolerance), the batch confidence quirk of classification alone, and an
// implementation with the recipe's metric name for every task kind a recipe may name.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "recipes/kinds.hpp"
#include "trainer/task.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

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

} // namespace
} // namespace kakuren::trainer

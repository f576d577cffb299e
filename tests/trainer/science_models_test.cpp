// The science models (ResNet-50, CosmoFlow, DeepCAM: parameter counts, output range and
// resolution) and the step warm-up with a factor before a multistep or cosine schedule.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "trainer/models.hpp"
#include "trainer/schedule.hpp"

namespace kakuren::trainer {
namespace {

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

} // namespace
} // namespace kakuren::trainer

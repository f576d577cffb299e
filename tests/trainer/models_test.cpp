#include "trainer/models.hpp"

#include <string>

#include <gtest/gtest.h>

#include "recipes/kinds.hpp"
#include "support/errors.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

ModelConfig kind(const std::string& k) {
    ModelConfig config;
    config.kind = k;
    return config;
}

std::string error_of(const ModelConfig& config, const ModelShape& shape) {
    return kakuren::testing::error_of<RuntimeFailure>([&] { make_model(config, shape); });
}

TEST(Models, DefaultCnnHasTheDocumentedParameterCount) {
    torch::manual_seed(1);
    const auto model = make_model(kind("cnn"), {1, 28, 28, 10});
    // conv1 160 + conv2 4,640 + fc1 (32*7*7 -> 64) 100,416 + fc2 650.
    EXPECT_EQ(count_parameters(*model), 105866);
    const torch::Tensor logits = model->forward(torch::randn({5, 1, 28, 28}));
    EXPECT_EQ(logits.sizes(), (std::vector<std::int64_t>{5, 10}));
}

TEST(Models, MlpMapsImagesToLogits) {
    torch::manual_seed(1);
    ModelConfig config = kind("mlp");
    config.hidden = {32, 16};
    const auto model = make_model(config, {3, 8, 8, 4});
    EXPECT_EQ(count_parameters(*model), (192 * 32 + 32) + (32 * 16 + 16) + (16 * 4 + 4));
    EXPECT_EQ(model->forward(torch::randn({2, 3, 8, 8})).sizes(),
              (std::vector<std::int64_t>{2, 4}));
}

TEST(Models, ResNet18TakesOneAndThreeChannelImages) {
    torch::manual_seed(1);
    // The standard CIFAR ResNet-18 (width 64, 3 channels, 10 classes) has 11,173,962 parameters.
    EXPECT_EQ(count_parameters(*make_model(kind("resnet18"), {3, 32, 32, 10})), 11173962);
    ModelConfig config = kind("resnet18");
    config.width = 8;
    for (const std::int64_t channels : {1, 3}) {
        const auto model = make_model(config, {channels, 28, 28, 10});
        model->train();
        EXPECT_EQ(model->forward(torch::randn({4, channels, 28, 28})).sizes(),
                  (std::vector<std::int64_t>{4, 10}))
            << channels << " channels";
        model->eval();
        EXPECT_EQ(model->forward(torch::randn({1, channels, 28, 28})).sizes(),
                  (std::vector<std::int64_t>{1, 10}));
    }
}

TEST(Models, ImagesTooSmallForTheModelAreAClearError) {
    EXPECT_EQ(error_of(kind("resnet18"), {1, 4, 4, 10}),
              "model resnet18 needs images of at least 8x8 (it halves them three times); the "
              "data has 4x4");
    EXPECT_EQ(error_of(kind("cnn"), {1, 3, 3, 10}),
              "model cnn with 2 conv blocks needs images of at least 4x4 (each block halves "
              "them); the data has 3x3");
    EXPECT_EQ(error_of(kind("vgg"), {1, 28, 28, 10}),
              "unknown model \"vgg\"; expected one of mlp, cnn, resnet18, resnet50, cosmoflow, "
              "deepcam, torchscript");
}

TEST(Models, FastInferenceMatchesForwardForEveryKind) {
    for (const char* name : {"cnn", "mlp", "resnet18"}) {
        torch::manual_seed(7);
        const auto model = make_model(kind(name), {1, 28, 28, 10});
        model->eval();
        const torch::Tensor images = torch::randn({33, 1, 28, 28});
        for (int round = 0; round < 2; ++round) {
            if (round == 1) {
                // Weights change between epochs: prepare_inference must pick the new ones up.
                torch::NoGradGuard no_grad;
                for (auto& p : model->parameters()) {
                    p.mul_(0.5);
                }
            }
            torch::InferenceMode inference;
            const torch::Tensor expected = model->forward(images);
            model->prepare_inference();
            EXPECT_TRUE(torch::allclose(model->forward_inference(images), expected, 1e-4, 1e-5))
                << name << " round " << round;
        }
    }
}

} // namespace
} // namespace kakuren::trainer

namespace kakuren::trainer {
namespace {

TEST(Models, EveryModelKindARecipeMayNameHasAnImplementation) {
    // recipes/kinds.hpp names the kinds (schema, reference); the trainer's registry builds them.
    std::vector<std::string> recipe_kinds;
    for (const auto& kind : recipes::model_kinds()) {
        recipe_kinds.emplace_back(kind.name);
    }
    EXPECT_EQ(recipe_kinds, model_kinds());
}

} // namespace
} // namespace kakuren::trainer

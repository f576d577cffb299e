#pragma once
// The models the trainer builds from ModelConfig: a registry of built-in kinds. Private to trainer/ (torch).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// Shape of the input and output a model is built for.
struct ModelShape {
    std::int64_t channels = 1, height = 28, width = 28, classes = 10;
};

/// A network: inputs [B, C, H, W] in, outputs [B, classes] (logits) out.
class Model : public torch::nn::Module {
  public:
    virtual torch::Tensor forward(const torch::Tensor& images) = 0;

    /// Readies forward_inference for the current weights (call after they change, before a
    /// forward-only phase). The default does nothing.
    virtual void prepare_inference() {}

    /// Forward without gradients (call inside InferenceMode, eval mode): the same function as
    /// forward, possibly computed by faster kernels (last-bit differences). Default: forward.
    virtual torch::Tensor forward_inference(const torch::Tensor& images) {
        return forward(images);
    }
};

/// Builds config.kind for shape, initialised from torch's global generator (seed it first):
/// - "mlp": flatten, Linear + ReLU per config.hidden, Linear to the classes;
/// - "cnn": per config.channels entry a conv3x3 (padding 1) + ReLU + maxpool 2, then flatten,
///   Linear(-> fc) + ReLU, Linear(fc -> classes) (105,866 parameters with the defaults on 28x28x1);
/// - "resnet18": CIFAR-style ResNet-18 (3x3 stem, no max pool, 4 stages of 2 BasicBlocks with
///   BatchNorm, widths w, 2w, 4w, 8w, global average pool, fc).
/// Checks the shape with one forward pass. Throws RuntimeFailure for an unknown kind, bad
/// sizes, or input images the model cannot take (e.g. resnet18 on images under 8x8).
std::shared_ptr<Model> make_model(const ModelConfig& config, const ModelShape& shape);

/// The built-in kinds make_model knows, in registry order.
std::vector<std::string> model_kinds();

/// 64-bit FNV-1a over 8-byte words of the model's parameters and buffers.
std::uint64_t model_digest(const torch::nn::Module& model);

/// Number of trainable scalars.
std::int64_t count_parameters(const torch::nn::Module& model);

} // namespace kakuren::trainer

#pragma once
// The models the trainer builds from ModelConfig: a registry of built-in kinds. Private to trainer/
// (torch).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// Shape of the input and output a model is built for. `input` and `output` are one sample's
/// shapes without the batch dimension; empty = [channels, height, width] and [classes] (image
/// classification).
struct ModelShape {
    std::int64_t channels = 1, height = 28, width = 28, classes = 10;
    std::vector<std::int64_t> input, output;
    /// classes is a lower bound (the data's headers alone do not tell how many there are): a
    /// TorchScript module's output may have more along dim 1 (the classes / channels).
    bool classes_at_least = false;
    std::string task; ///< the task's kind, for messages ("" = not said)
    [[nodiscard]] std::vector<std::int64_t> input_shape() const {
        return input.empty() ? std::vector<std::int64_t>{channels, height, width} : input;
    }
    [[nodiscard]] std::vector<std::int64_t> output_shape() const {
        return output.empty() ? std::vector<std::int64_t>{classes} : output;
    }
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// What the trainer trains: inputs [B, ...] in, outputs out ([B, classes] logits for
/// classification). Built-in networks and TorchScript modules alike; the step engine, the
/// replicator and checkpoints see only this.
class Model {
  public:
    virtual ~Model() = default;
    virtual torch::Tensor forward(const torch::Tensor& inputs) = 0;

    /// Readies forward_inference for the current weights (call after they change, before a
    /// forward-only phase). The default does nothing.
    virtual void prepare_inference() {}

    /// Forward without gradients (call inside InferenceMode, eval mode): the same function as
    /// forward, possibly computed by faster kernels (last-bit differences). Default: forward.
    virtual torch::Tensor forward_inference(const torch::Tensor& inputs) { return forward(inputs); }

    /// Training mode (dropout, batch-norm statistics) on or off.
    virtual void train(bool on = true) = 0;
    void eval() { train(false); }
    /// Moves the parameters and buffers to `device` (before the optimizer is built).
    virtual void to(torch::Device device) = 0;

    /// Trainable parameters and buffers, in a fixed order (the optimizer's, the replicator's
    /// and the digest's), with their names.
    [[nodiscard]] virtual NamedTensors named_parameters() const = 0;
    [[nodiscard]] virtual NamedTensors named_buffers() const = 0;
    [[nodiscard]] std::vector<torch::Tensor> parameters() const;
    [[nodiscard]] std::vector<torch::Tensor> buffers() const;

    /// Parameters and buffers into / out of a checkpoint's model.pt (load takes what save wrote;
    /// shapes are the caller's to check).
    virtual void save(torch::serialize::OutputArchive& archive) const = 0;
    virtual void load(torch::serialize::InputArchive& archive) = 0;
};

/// A built-in network (a torch::nn::Module); make_model wraps it in a Model.
class Network : public torch::nn::Module {
  public:
    virtual torch::Tensor forward(const torch::Tensor& images) = 0;
    virtual void prepare_inference() {}
    virtual torch::Tensor forward_inference(const torch::Tensor& images) { return forward(images); }
};

/// Builds config.kind for shape, initialised from torch's global generator (seed it first):
/// - "mlp": flatten, Linear + ReLU per config.hidden, Linear to the classes;
/// - "cnn": per config.channels entry a conv3x3 (padding 1) + ReLU + maxpool 2, then flatten,
///   Linear(-> fc) + ReLU, Linear(fc -> classes) (105,866 parameters with the defaults on 28x28x1);
/// - "resnet18": CIFAR-style ResNet-18 (3x3 stem, no max pool, 4 stages of 2 BasicBlocks with
///   BatchNorm, widths w, 2w, 4w, 8w, global average pool, fc).
/// - "resnet50": torchvision's ResNet-50 layout (7x7 stem, max pool, bottleneck stages 3-4-6-3,
///   widths w..8w with expansion 4; 25,557,032 parameters for w = 64 and 1000 classes);
/// - "cosmoflow": the MLPerf HPC CosmoFlow network for inputs [C, S, S, S] (science_models.cpp);
/// - "deepcam": a DeepLabv3+-family segmentation network (science_models.cpp);
/// - "torchscript": the TorchScript module at config.path (see torchscript.cpp).
/// Checks the shape with one forward pass. Throws RuntimeFailure for an unknown kind, bad
/// sizes, or input images the model cannot take (e.g. resnet18 on images under 8x8).
std::shared_ptr<Model> make_model(const ModelConfig& config, const ModelShape& shape);

/// The built-in kinds make_model knows, in registry order.
std::vector<std::string> model_kinds();

/// 64-bit FNV-1a over 8-byte words of the model's parameters and buffers.
std::uint64_t model_digest(const Model& model);

// The science networks' builders (science_models.cpp), named in make_model's registry.
std::shared_ptr<Model> build_resnet50(const ModelConfig& config, const ModelShape& shape);
std::shared_ptr<Model> build_cosmoflow(const ModelConfig& config, const ModelShape& shape);
std::shared_ptr<Model> build_deepcam(const ModelConfig& config, const ModelShape& shape);

/// A built-in network as a Model (what every builder returns).
std::shared_ptr<Model> wrap_network(std::shared_ptr<Network> network);

/// Number of trainable scalars.
std::int64_t count_parameters(const Model& model);

/// Loads the TorchScript module of config.path, checks that it can be trained, and that its
/// output for a batch of `shape` inputs has the task's shape. Throws UsageError for a file that
/// is no usable module, RuntimeFailure for one that does not fit the data.
std::shared_ptr<Model> load_torchscript(const ModelConfig& config, const ModelShape& shape);

} // namespace kakuren::trainer

// The networks of the science workloads: torchvision's ResNet-50, the MLPerf HPC CosmoFlow network
// and a small DeepLabv3+-family segmentation network for DeepCAM. Registered in models.cpp.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "recipes/science.hpp"
#include "trainer/models.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

namespace nn = torch::nn;

// ---- ResNet-50 (torchvision's layout: v1.5, the stride on the 3x3 convolution) ----

class BottleneckImpl : public nn::Module {
  public:
    static constexpr std::int64_t k_expansion = 4;
    BottleneckImpl(std::int64_t in, std::int64_t planes, std::int64_t stride)
        : m_conv1(
              register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, planes, 1).bias(false)))),
          m_bn1(register_module("bn1", nn::BatchNorm2d(planes))),
          m_conv2(register_module(
              "conv2",
              nn::Conv2d(
                  nn::Conv2dOptions(planes, planes, 3).stride(stride).padding(1).bias(false)))),
          m_bn2(register_module("bn2", nn::BatchNorm2d(planes))),
          m_conv3(register_module(
              "conv3", nn::Conv2d(nn::Conv2dOptions(planes, planes * k_expansion, 1).bias(false)))),
          m_bn3(register_module("bn3", nn::BatchNorm2d(planes * k_expansion))) {
        if (stride != 1 || in != planes * k_expansion) {
            m_downsample = register_module(
                "downsample",
                nn::Sequential(
                    nn::Conv2d(
                        nn::Conv2dOptions(in, planes * k_expansion, 1).stride(stride).bias(false)),
                    nn::BatchNorm2d(planes * k_expansion)));
        }
    }
    torch::Tensor forward(const torch::Tensor& x) {
        torch::Tensor out = torch::relu(m_bn1->forward(m_conv1->forward(x)));
        out = torch::relu(m_bn2->forward(m_conv2->forward(out)));
        out = m_bn3->forward(m_conv3->forward(out));
        return torch::relu(out + (m_downsample ? m_downsample->forward(x) : x));
    }

  private:
    nn::Conv2d m_conv1;
    nn::BatchNorm2d m_bn1;
    nn::Conv2d m_conv2;
    nn::BatchNorm2d m_bn2;
    nn::Conv2d m_conv3;
    nn::BatchNorm2d m_bn3;
    nn::Sequential m_downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

class ResNet50 final : public Network {
  public:
    ResNet50(const ModelConfig& config, const ModelShape& shape) {
        const std::int64_t w = config.width;
        m_conv1 = register_module(
            "conv1",
            nn::Conv2d(nn::Conv2dOptions(shape.channels, w, 7).stride(2).padding(3).bias(false)));
        m_bn1 = register_module("bn1", nn::BatchNorm2d(w));
        const std::array<int, 4> blocks = {3, 4, 6, 3};
        std::int64_t in = w;
        for (std::size_t stage = 0; stage < blocks.size(); ++stage) {
            const std::int64_t planes = w << stage;
            nn::Sequential layer;
            for (int b = 0; b < blocks.at(stage); ++b) {
                layer->push_back(Bottleneck(in, planes, b == 0 && stage > 0 ? 2 : 1));
                in = planes * BottleneckImpl::k_expansion;
            }
            m_layers.push_back(register_module("layer" + std::to_string(stage + 1), layer));
        }
        m_fc = register_module("fc", nn::Linear(in, shape.classes));
    }
    torch::Tensor forward(const torch::Tensor& images) override {
        torch::Tensor x = torch::relu(m_bn1->forward(m_conv1->forward(images)));
        x = torch::max_pool2d(x, 3, 2, 1);
        for (auto& layer : m_layers) {
            x = layer->forward(x);
        }
        return m_fc->forward(torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1));
    }

  private:
    nn::Conv2d m_conv1{nullptr};
    nn::BatchNorm2d m_bn1{nullptr};
    std::vector<nn::Sequential> m_layers;
    nn::Linear m_fc{nullptr};
};

// ---- CosmoFlow (mlcommons/hpc cosmoflow/models/cosmoflow.py) ----

constexpr int k_cosmoflow_depth = recipes::k_cosmoflow_default_depth;
constexpr double k_leaky_slope = 0.3;

class CosmoFlow final : public Network {
  public:
    CosmoFlow(const ModelConfig& config, const std::vector<std::int64_t>& input,
              std::int64_t outputs, int depth)
        : m_dropout(config.dropout) {
        std::int64_t in = input[0];
        std::int64_t side_d = input[1], side_h = input[2], side_w = input[3];
        for (int i = 0; i < depth; ++i) {
            const std::int64_t out = std::int64_t{config.width} << i;
            m_convs.push_back(
                register_module("conv" + std::to_string(i + 1),
                                nn::Conv3d(nn::Conv3dOptions(in, out, 3).padding(1))));
            in = out;
            side_d /= 2;
            side_h /= 2;
            side_w /= 2;
        }
        m_fc1 = register_module("fc1", nn::Linear(in * side_d * side_h * side_w, 128));
        m_fc2 = register_module("fc2", nn::Linear(128, 64));
        m_fc3 = register_module("fc3", nn::Linear(64, outputs));
    }
    torch::Tensor forward(const torch::Tensor& inputs) override {
        torch::Tensor x = inputs;
        for (auto& conv : m_convs) {
            x = torch::max_pool3d(torch::leaky_relu(conv->forward(x), k_leaky_slope), 2);
        }
        x = torch::leaky_relu(m_fc1->forward(x.flatten(1)), k_leaky_slope);
        x = torch::dropout(x, m_dropout, is_training());
        x = torch::leaky_relu(m_fc2->forward(x), k_leaky_slope);
        x = torch::dropout(x, m_dropout, is_training());
        return torch::tanh(m_fc3->forward(x)) * 1.2;
    }

  private:
    double m_dropout;
    std::vector<nn::Conv3d> m_convs;
    nn::Linear m_fc1{nullptr}, m_fc2{nullptr}, m_fc3{nullptr};
};

// ---- DeepCAM: a small DeepLabv3+ (encoder, ASPP, decoder to full resolution) ----

constexpr int k_deepcam_depth = recipes::k_deepcam_default_depth; // output stride 16

/// Convolution (no bias), BatchNorm, ReLU: the unit every part of the network is made of.
class ConvBnReluImpl : public nn::Module {
  public:
    ConvBnReluImpl(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1,
                   std::int64_t dilation = 1)
        : m_conv(register_module("conv", nn::Conv2d(nn::Conv2dOptions(in, out, kernel)
                                                        .stride(stride)
                                                        .padding(dilation * (kernel / 2))
                                                        .dilation(dilation)
                                                        .bias(false)))),
          m_bn(register_module("bn", nn::BatchNorm2d(out))) {}
    torch::Tensor forward(const torch::Tensor& x) {
        return torch::relu(m_bn->forward(m_conv->forward(x)));
    }

  private:
    nn::Conv2d m_conv;
    nn::BatchNorm2d m_bn;
};
TORCH_MODULE(ConvBnRelu);

class DeepCam final : public Network {
  public:
    DeepCam(const ModelConfig& config, std::int64_t channels, std::int64_t classes, int depth) {
        const std::int64_t w = config.width;
        m_stem = register_module("stem", ConvBnRelu(channels, w, 3));
        std::int64_t in = w;
        for (int i = 0; i < depth; ++i) {
            const std::int64_t out = w << std::min(i + 1, 3); // widths 2w, 4w, 8w, 8w, ...
            m_stages.push_back(register_module(
                "stage" + std::to_string(i + 1),
                nn::Sequential(ConvBnRelu(in, out, 3, 2), ConvBnRelu(out, out, 3))));
            in = out;
            if (i == 0) {
                m_low_channels = out;
            }
        }
        // ASPP: 1x1, two dilated 3x3 and the image-pooling branch, fused by a 1x1.
        const std::int64_t a = 2 * w;
        m_aspp.push_back(register_module("aspp1", ConvBnRelu(in, a, 1)));
        m_aspp.push_back(register_module("aspp2", ConvBnRelu(in, a, 3, 1, 2)));
        m_aspp.push_back(register_module("aspp3", ConvBnRelu(in, a, 3, 1, 4)));
        m_pool = register_module(
            "aspp_pool",
            nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, a, 1).bias(false)), nn::ReLU()));
        m_fuse = register_module("aspp_fuse", ConvBnRelu(4 * a, a, 1));
        // Decoder: low-level features (after the first stage) reduced, joined, refined.
        m_low = register_module("low", ConvBnRelu(m_low_channels, w, 1));
        m_decode =
            register_module("decode", nn::Sequential(ConvBnRelu(a + w, a, 3), ConvBnRelu(a, a, 3)));
        // To full resolution: a transposed convolution (x2, as the reference's decoder), then
        // the per-pixel classifier.
        m_up = register_module("up",
                               nn::ConvTranspose2d(nn::ConvTranspose2dOptions(a, w, 2).stride(2)));
        m_head = register_module("head", nn::Conv2d(nn::Conv2dOptions(w, classes, 1)));
    }

    torch::Tensor forward(const torch::Tensor& inputs) override {
        const auto size = [](const torch::Tensor& t) {
            return std::vector<std::int64_t>{t.size(2), t.size(3)};
        };
        torch::Tensor x = m_stem->forward(inputs);
        torch::Tensor low;
        for (std::size_t i = 0; i < m_stages.size(); ++i) {
            x = m_stages[i]->forward(x);
            if (i == 0) {
                low = x;
            }
        }
        std::vector<torch::Tensor> branches;
        for (auto& branch : m_aspp) {
            branches.push_back(branch->forward(x));
        }
        branches.push_back(torch::upsample_bilinear2d(
            m_pool->forward(torch::adaptive_avg_pool2d(x, {1, 1})), size(x), false));
        x = m_fuse->forward(torch::cat(branches, 1));
        x = torch::upsample_bilinear2d(x, size(low), false);
        x = m_decode->forward(torch::cat({x, m_low->forward(low)}, 1));
        // Back to full resolution, linear into the classifier: a ReLU here could die on one
        // seed and leave the head a constant (measured: seed 3 stuck at IoU 0.47).
        x = m_up->forward(x);
        if (x.size(2) != inputs.size(2) || x.size(3) != inputs.size(3)) {
            x = torch::upsample_bilinear2d(x, size(inputs), false); // odd input sides
        }
        return m_head->forward(x);
    }

  private:
    ConvBnRelu m_stem{nullptr};
    std::vector<nn::Sequential> m_stages;
    std::vector<ConvBnRelu> m_aspp;
    nn::Sequential m_pool{nullptr}, m_decode{nullptr};
    ConvBnRelu m_fuse{nullptr}, m_low{nullptr};
    nn::ConvTranspose2d m_up{nullptr};
    nn::Conv2d m_head{nullptr};
    std::int64_t m_low_channels = 0;
};

void require(bool ok, const std::string& message) {
    if (!ok) {
        throw RuntimeFailure(message);
    }
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
    return c10::str(c10::IntArrayRef(shape));
}

} // namespace

std::shared_ptr<Model> build_resnet50(const ModelConfig& config, const ModelShape& shape) {
    require(config.width > 0, "model.width must be > 0");
    require(shape.input_shape().size() == 3 && shape.output_shape().size() == 1,
            "model resnet50 classifies images [C, H, W]; the data has samples of shape " +
                shape_text(shape.input_shape()));
    require(shape.height >= 32 && shape.width >= 32,
            "model resnet50 needs images of at least 32x32 (it halves them five times); the "
            "data has " +
                std::to_string(shape.height) + "x" + std::to_string(shape.width));
    return wrap_network(std::make_shared<ResNet50>(config, shape));
}

std::shared_ptr<Model> build_cosmoflow(const ModelConfig& config, const ModelShape& shape) {
    const std::vector<std::int64_t> input = shape.input_shape();
    const std::vector<std::int64_t> output = shape.output_shape();
    require(config.width > 0, "model.width must be > 0");
    require(input.size() == 4 && output.size() == 1,
            "model cosmoflow takes cubes [C, D, H, W] and predicts a vector of targets; the data "
            "has samples of shape " +
                shape_text(input));
    const int depth = config.depth > 0 ? config.depth : k_cosmoflow_depth;
    const std::int64_t min_side = std::int64_t{1} << depth;
    require(*std::min_element(input.begin() + 1, input.end()) >= min_side,
            "model cosmoflow with model.depth = " + std::to_string(depth) +
                " needs cubes of at least " + std::to_string(min_side) +
                " per side (each block halves them); the data has " + shape_text(input));
    require(config.dropout >= 0 && config.dropout < 1, "model.dropout must be in [0, 1)");
    return wrap_network(std::make_shared<CosmoFlow>(config, input, output[0], depth));
}

std::shared_ptr<Model> build_deepcam(const ModelConfig& config, const ModelShape& shape) {
    const std::vector<std::int64_t> input = shape.input_shape();
    const std::vector<std::int64_t> output = shape.output_shape();
    require(config.width > 0, "model.width must be > 0");
    require(input.size() == 3 && output.size() == 3,
            "model deepcam segments images [C, H, W] into per-pixel classes; the data has "
            "samples of shape " +
                shape_text(input) + " and the task wants outputs " + shape_text(output));
    const int depth = config.depth > 0 ? config.depth : k_deepcam_depth;
    const std::int64_t min_side = std::int64_t{1} << depth;
    require(input[1] >= min_side && input[2] >= min_side,
            "model deepcam with model.depth = " + std::to_string(depth) +
                " needs images of at least " + std::to_string(min_side) + "x" +
                std::to_string(min_side) + "; the data has " + shape_text(input));
    return wrap_network(std::make_shared<DeepCam>(config, input[0], output[0], depth));
}

} // namespace kakuren::trainer

#include "trainer/models.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "trainer/model_fit.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

namespace kakuren::trainer {
namespace {

namespace nn = torch::nn;

std::string size_text(const ModelShape& s) {
    return std::to_string(s.height) + "x" + std::to_string(s.width);
}

class Mlp final : public Network {
  public:
    Mlp(const ModelConfig& config, const ModelShape& shape) {
        std::int64_t in = 1;
        for (const std::int64_t d : shape.input_shape()) {
            in *= d;
        }
        int k = 1;
        for (int width : config.hidden) {
            m_layers.emplace_back(
                register_module("fc" + std::to_string(k++), nn::Linear(in, width)));
            in = width;
        }
        m_layers.emplace_back(
            register_module("fc" + std::to_string(k), nn::Linear(in, shape.output_shape()[0])));
    }
    torch::Tensor forward(const torch::Tensor& images) override {
        torch::Tensor x = images.flatten(1);
        for (std::size_t i = 0; i + 1 < m_layers.size(); ++i) {
            x = torch::relu(m_layers[i]->forward(x));
        }
        return m_layers.back()->forward(x);
    }

  private:
    std::vector<nn::Linear> m_layers;
};

class Cnn final : public Network {
  public:
    Cnn(const ModelConfig& config, const ModelShape& shape) {
        std::int64_t in = shape.channels, h = shape.height, w = shape.width;
        int k = 1;
        for (int out : config.channels) {
            m_convs.emplace_back(
                register_module("conv" + std::to_string(k++),
                                nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1))));
            in = out;
            h /= 2; // max pool 2, floor
            w /= 2;
        }
        m_fc1 = register_module("fc1", nn::Linear(in * h * w, config.fc));
        m_fc2 = register_module("fc2", nn::Linear(config.fc, shape.classes));
    }
    torch::Tensor forward(const torch::Tensor& images) override {
        torch::Tensor x = images;
        for (auto& conv : m_convs) {
            x = torch::max_pool2d(torch::relu(conv->forward(x)), 2);
        }
        x = torch::relu(m_fc1->forward(x.flatten(1)));
        return m_fc2->forward(x);
    }

    void prepare_inference() override {
        m_fast_weights.clear();
        if (!at::hasMKLDNN() || m_fc1->weight.device().type() != torch::kCPU) {
            return; // oneDNN's blocked layouts are a CPU path
        }
        torch::NoGradGuard no_grad;
        for (auto& conv : m_convs) {
            m_fast_weights.push_back(at::mkldnn_reorder_conv2d_weight(
                conv->weight.detach().to_mkldnn(), {1, 1}, {1, 1}, {1, 1}, 1));
        }
    }

    torch::Tensor forward_inference(const torch::Tensor& images) override {
        if (m_fast_weights.size() != m_convs.size()) {
            return forward(images);
        }
        // oneDNN's inference convolutions on blocked-layout tensors: about 3x faster per
        // sample than the generic path on a CPU (bench/README.md). Only the convolutions and
        // pools run in that layout; the small fully connected layers stay dense.
        torch::Tensor x = images.to_mkldnn();
        for (std::size_t i = 0; i < m_convs.size(); ++i) {
            x = at::mkldnn_convolution(x, m_fast_weights[i], m_convs[i]->bias.detach(), {1, 1},
                                       {1, 1}, {1, 1}, 1);
            x = torch::max_pool2d(torch::relu(x), 2);
        }
        x = torch::relu(m_fc1->forward(x.to_dense().flatten(1)));
        return m_fc2->forward(x);
    }

  private:
    std::vector<nn::Conv2d> m_convs;
    nn::Linear m_fc1{nullptr}, m_fc2{nullptr};
    std::vector<torch::Tensor> m_fast_weights; ///< conv weights in oneDNN layout, per prepare
};

nn::Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride) {
    return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

class BasicBlockImpl : public nn::Module {
  public:
    BasicBlockImpl(std::int64_t in, std::int64_t out, std::int64_t stride)
        : m_conv1(register_module("conv1", conv3x3(in, out, stride))),
          m_bn1(register_module("bn1", nn::BatchNorm2d(out))),
          m_conv2(register_module("conv2", conv3x3(out, out, 1))),
          m_bn2(register_module("bn2", nn::BatchNorm2d(out))) {
        if (stride != 1 || in != out) {
            m_shortcut = register_module(
                "shortcut",
                nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                               nn::BatchNorm2d(out)));
        }
    }
    torch::Tensor forward(const torch::Tensor& x) {
        torch::Tensor out = torch::relu(m_bn1->forward(m_conv1->forward(x)));
        out = m_bn2->forward(m_conv2->forward(out));
        out = out + (m_shortcut ? m_shortcut->forward(x) : x);
        return torch::relu(out);
    }

  private:
    nn::Conv2d m_conv1;
    nn::BatchNorm2d m_bn1;
    nn::Conv2d m_conv2;
    nn::BatchNorm2d m_bn2;
    nn::Sequential m_shortcut{nullptr};
};
TORCH_MODULE(BasicBlock);

class ResNet18 final : public Network {
  public:
    ResNet18(const ModelConfig& config, const ModelShape& shape) {
        const std::int64_t w = config.width;
        m_conv1 = register_module("conv1", conv3x3(shape.channels, w, 1));
        m_bn1 = register_module("bn1", nn::BatchNorm2d(w));
        std::int64_t in = w;
        const std::array<std::int64_t, 4> widths = {w, 2 * w, 4 * w, 8 * w};
        for (int stage = 0; stage < 4; ++stage) {
            const std::int64_t out = widths.at(static_cast<std::size_t>(stage));
            nn::Sequential layer(BasicBlock(in, out, stage == 0 ? 1 : 2), BasicBlock(out, out, 1));
            m_layers.emplace_back(register_module("layer" + std::to_string(stage + 1), layer));
            in = out;
        }
        m_fc = register_module("fc", nn::Linear(in, shape.classes));
    }
    torch::Tensor forward(const torch::Tensor& images) override {
        torch::Tensor x = torch::relu(m_bn1->forward(m_conv1->forward(images)));
        for (auto& layer : m_layers) {
            x = layer->forward(x);
        }
        x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
        return m_fc->forward(x);
    }

  private:
    nn::Conv2d m_conv1{nullptr};
    nn::BatchNorm2d m_bn1{nullptr};
    std::vector<nn::Sequential> m_layers;
    nn::Linear m_fc{nullptr};
};

void require_positive(const std::vector<int>& values, const char* key) {
    for (int v : values) {
        if (v <= 0) {
            throw RuntimeFailure(std::string("model.") + key + " entries must be > 0; got " +
                                 std::to_string(v));
        }
    }
}

/// A built-in network as a Model.
class ModuleModel final : public Model {
  public:
    explicit ModuleModel(std::shared_ptr<Network> network) : m_net(std::move(network)) {}
    torch::Tensor forward(const torch::Tensor& inputs) override { return m_net->forward(inputs); }
    void prepare_inference() override { m_net->prepare_inference(); }
    torch::Tensor forward_inference(const torch::Tensor& inputs) override {
        return m_net->forward_inference(inputs);
    }
    void train(bool on) override { m_net->train(on); }
    void to(torch::Device device) override { m_net->to(device); }
    [[nodiscard]] NamedTensors named_parameters() const override {
        NamedTensors out;
        for (const auto& item : m_net->named_parameters()) {
            out.emplace_back(item.key(), item.value());
        }
        return out;
    }
    [[nodiscard]] NamedTensors named_buffers() const override {
        NamedTensors out;
        for (const auto& item : m_net->named_buffers()) {
            out.emplace_back(item.key(), item.value());
        }
        return out;
    }
    // The nn::Module archive layout (nested per submodule), as checkpoints have always held.
    void save(torch::serialize::OutputArchive& archive) const override { m_net->save(archive); }
    void load(torch::serialize::InputArchive& archive) override { m_net->load(archive); }

  private:
    std::shared_ptr<Network> m_net;
};

/// The registry of built-in kinds: each name once, with its checks and constructor.
struct ModelKind {
    const char* name;
    std::shared_ptr<Model> (*build)(const ModelConfig&, const ModelShape&);
};

std::shared_ptr<Model> build_mlp(const ModelConfig& config, const ModelShape& shape) {
    require_positive(config.hidden, "hidden");
    return std::make_shared<ModuleModel>(std::make_shared<Mlp>(config, shape));
}

std::shared_ptr<Model> build_cnn(const ModelConfig& config, const ModelShape& shape) {
    if (config.channels.empty()) {
        throw RuntimeFailure("model cnn needs at least one entry in model.channels");
    }
    require_positive(config.channels, "channels");
    require_positive({config.fc}, "fc");
    const std::int64_t min_side = std::int64_t{1} << config.channels.size();
    if (shape.height < min_side || shape.width < min_side) {
        throw RuntimeFailure("model cnn with " + std::to_string(config.channels.size()) +
                             " conv blocks needs images of at least " + std::to_string(min_side) +
                             "x" + std::to_string(min_side) +
                             " (each block halves them); the data has " + size_text(shape));
    }
    return std::make_shared<ModuleModel>(std::make_shared<Cnn>(config, shape));
}

std::shared_ptr<Model> build_resnet18(const ModelConfig& config, const ModelShape& shape) {
    require_positive({config.width}, "width");
    if (shape.height < 8 || shape.width < 8) {
        throw RuntimeFailure("model resnet18 needs images of at least 8x8 (it halves them "
                             "three times); the data has " +
                             size_text(shape));
    }
    return std::make_shared<ModuleModel>(std::make_shared<ResNet18>(config, shape));
}

constexpr std::array<ModelKind, 7> k_model_kinds = {{
    {"mlp", build_mlp},
    {"cnn", build_cnn},
    {"resnet18", build_resnet18},
    {"resnet50", build_resnet50},
    {"cosmoflow", build_cosmoflow},
    {"deepcam", build_deepcam},
    {"torchscript", load_torchscript},
}};

} // namespace

std::vector<std::string> model_kinds() {
    std::vector<std::string> out;
    for (const ModelKind& kind : k_model_kinds) {
        out.emplace_back(kind.name);
    }
    return out;
}

std::shared_ptr<Model> wrap_network(std::shared_ptr<Network> network) {
    return std::make_shared<ModuleModel>(std::move(network));
}

std::shared_ptr<Model> make_model(const ModelConfig& config, const ModelShape& shape) {
    if (shape.channels < 1 || shape.height < 1 || shape.width < 1 ||
        (shape.output.empty() && shape.classes < 1)) {
        throw RuntimeFailure("cannot build a model for images " + std::to_string(shape.channels) +
                             "x" + size_text(shape) + " and " + std::to_string(shape.classes) +
                             " classes");
    }
    const auto* kind = std::find_if(k_model_kinds.begin(), k_model_kinds.end(),
                                    [&](const ModelKind& k) { return config.kind == k.name; });
    if (kind == k_model_kinds.end()) {
        std::string names;
        for (const ModelKind& k : k_model_kinds) {
            names += (names.empty() ? "" : ", ") + std::string(k.name);
        }
        throw RuntimeFailure("unknown model \"" + config.kind + "\"; expected one of " + names);
    }
    std::shared_ptr<Model> model = kind->build(config, shape);

    // One forward pass on a blank input catches any shape the checks above missed.
    try {
        torch::NoGradGuard no_grad;
        model->eval();
        std::vector<std::int64_t> input = shape.input_shape();
        input.insert(input.begin(), 1);
        const torch::Tensor logits = model->forward(torch::zeros(input));
        model->train();
        std::vector<std::int64_t> expected = shape.output_shape();
        expected.insert(expected.begin(), 1);
        if (!shape.classes_at_least && logits.sizes() != c10::IntArrayRef(expected)) {
            throw RuntimeFailure("model " + config.kind + " produced outputs of shape " +
                                 c10::str(logits.sizes()) + " instead of " +
                                 c10::str(c10::IntArrayRef(expected)));
        }
    } catch (const c10::Error& e) {
        throw RuntimeFailure("model " + config.kind + " cannot take images " +
                             std::to_string(shape.channels) + "x" + size_text(shape) + ": " +
                             root_cause(e));
    }
    return model;
}

std::vector<torch::Tensor> Model::parameters() const {
    std::vector<torch::Tensor> out;
    for (auto& [name, tensor] : named_parameters()) {
        out.push_back(std::move(tensor));
    }
    return out;
}

std::vector<torch::Tensor> Model::buffers() const {
    std::vector<torch::Tensor> out;
    for (auto& [name, tensor] : named_buffers()) {
        out.push_back(std::move(tensor));
    }
    return out;
}

std::uint64_t model_digest(const Model& model) {
    // FNV-1a word by word (8 bytes a step), the tail byte by byte.
    util::Fnv1a hash;
    const auto add = [&hash](const torch::Tensor& t) {
        const torch::Tensor c = t.to(torch::kCPU).contiguous(); // the bytes, from any device
        const auto* bytes = static_cast<const unsigned char*>(c.data_ptr());
        const std::size_t size = c.numel() * c.element_size();
        std::size_t i = 0;
        for (; i + 8 <= size; i += 8) {
            std::uint64_t word = 0;
            std::memcpy(&word, bytes + i, 8);
            hash.add_word(word);
        }
        hash.add(bytes + i, size - i);
    };
    for (const auto& p : model.parameters()) {
        add(p);
    }
    for (const auto& b : model.buffers()) {
        add(b);
    }
    return hash.value();
}

std::int64_t count_parameters(const Model& model) {
    std::int64_t n = 0;
    for (const auto& p : model.parameters()) {
        if (p.requires_grad()) {
            n += p.numel();
        }
    }
    return n;
}

} // namespace kakuren::trainer

// [model] kind = "torchscript": a module exported from PyTorch with torch.jit.script or
// torch.jit.trace, trained like a built-in network (its parameters go to the optimizer, its
// train/eval flag is switched with the phases, its state goes into checkpoints).
#include <torch/script.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "trainer/device.hpp"
#include "trainer/model_fit.hpp"
#include "trainer/models.hpp"
#include "trainer/script_output.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

std::string shape_text(c10::IntArrayRef sizes) {
    std::string out = "[";
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        out += (i ? ", " : "") + std::to_string(sizes[i]);
    }
    return out + "]";
}

/// Checkpoint keys: a torch archive's keys cannot hold the dots of nested names.
std::string archive_key(const std::string& name) {
    std::string out;
    for (char c : name) {
        out += c == '.' ? std::string("__") : std::string(1, c);
    }
    return out;
}

class ScriptModel final : public Model {
  public:
    ScriptModel(torch::jit::Module module, OutputChoice output, std::string where)
        : m_module(std::move(module)), m_output(std::move(output)), m_where(std::move(where)) {}

    torch::Tensor forward(const torch::Tensor& inputs) override {
        return pick_output(m_module.forward({inputs}), m_output, m_where);
    }
    void train(bool on) override { m_module.train(on); }
    void to(torch::Device device) override { m_module.to(device); }
    [[nodiscard]] NamedTensors named_parameters() const override {
        NamedTensors out;
        for (const auto& p : m_module.named_parameters(/*recurse=*/true)) {
            if (p.value.requires_grad()) {
                out.emplace_back(p.name, p.value);
            }
        }
        return out;
    }
    [[nodiscard]] NamedTensors named_buffers() const override {
        NamedTensors out;
        for (const auto& b : m_module.named_buffers(/*recurse=*/true)) {
            out.emplace_back(b.name, b.value);
        }
        // Parameters frozen in Python (requires_grad = False) are state, not trained.
        for (const auto& p : m_module.named_parameters(/*recurse=*/true)) {
            if (!p.value.requires_grad()) {
                out.emplace_back(p.name, p.value);
            }
        }
        return out;
    }
    void save(torch::serialize::OutputArchive& archive) const override {
        for (const auto& [name, tensor] : named_parameters()) {
            archive.write(archive_key(name), tensor);
        }
        for (const auto& [name, tensor] : named_buffers()) {
            archive.write(archive_key(name), tensor, /*is_buffer=*/true);
        }
    }
    void load(torch::serialize::InputArchive& archive) override {
        for (auto& [name, tensor] : named_parameters()) {
            archive.read(archive_key(name), tensor);
        }
        for (auto& [name, tensor] : named_buffers()) {
            archive.read(archive_key(name), tensor, /*is_buffer=*/true);
        }
    }

  private:
    torch::jit::Module m_module;
    OutputChoice m_output; ///< model.output
    std::string m_where;   ///< "model.path FILE: ", for pick_output's messages
};

torch::jit::Module load_module(const std::string& path) {
    const std::string where = "model.path " + path + ": ";
    std::error_code ec;
    if (path.empty()) {
        throw UsageError("model.kind = \"torchscript\" needs model.path, the file written by "
                         "torch.jit.script(model).save(path)");
    }
    if (!std::filesystem::is_regular_file(path, ec)) {
        throw UsageError(where + "no such file");
    }
    try {
        return torch::jit::load(path, torch::kCPU);
    } catch (const c10::Error& e) {
        std::string why = e.what_without_backtrace();
        why = why.substr(0, why.find('\n'));
        const std::string version = torch_release();
        throw UsageError(
            where + "not a TorchScript archive that LibTorch " + version + " can read (" + why +
            "); export it with torch.jit.script(model).save(path) or "
            "torch.jit.trace(model, example).save(path) from PyTorch " +
            version +
            " or older, or build kakuren against your PyTorch (docs/devices.md, \"Building "
            "against your PyTorch\")");
    }
}

/// forward must take exactly one tensor (besides self).
void check_forward(const torch::jit::Module& module, const std::string& where) {
    const auto method = module.find_method("forward");
    if (!method) {
        throw UsageError(where + "the module has no forward method");
    }
    const auto& args = method->function().getSchema().arguments();
    if (args.size() != 2) {
        std::string names;
        for (std::size_t i = 1; i < args.size(); ++i) {
            names += (i > 1 ? ", " : "") + args[i].name();
        }
        throw UsageError(where + "forward takes " + std::to_string(args.size() - 1) + " inputs (" +
                         names + "); kakuren calls it with one tensor, the batch [B, C, H, W]");
    }
}

/// "(batch, classes)": what the dimensions of the task's output are.
std::string output_legend(const std::string& task) {
    if (task == "classification") {
        return " (batch, classes)";
    }
    if (task == "segmentation") {
        return " (batch, classes, height, width)";
    }
    return task == "regression" ? " (batch, targets)" : "";
}

/// Whether `output` has the task's shape for a batch of two (dim 1 at least the classes when
/// the data's class count is only a lower bound).
bool output_fits(const torch::Tensor& output, const std::vector<std::int64_t>& expected,
                 bool classes_at_least) {
    if (output.dim() != static_cast<std::int64_t>(expected.size())) {
        return false;
    }
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const bool at_least = classes_at_least && i == 1;
        if (at_least ? output.size(i) < expected[i] : output.size(i) != expected[i]) {
            return false;
        }
    }
    return true;
}

/// A dry forward of a zero batch of two (batch norm in train mode needs more than one sample),
/// and the output's shape against the task's.
void check_output(Model& model, const ModelShape& shape, const std::string& where) {
    std::vector<std::int64_t> input = shape.input_shape();
    input.insert(input.begin(), 2);
    torch::Tensor output;
    try {
        torch::NoGradGuard no_grad;
        model.eval();
        output = model.forward(torch::zeros(input));
        model.train(true);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        // The interpreter's traceback (60 lines) ends with the cause: that line only.
        throw RuntimeFailure(where + "forward fails on a zero batch of the data's sample shape " +
                             shape_text(input) + ": " + root_cause(e));
    }
    std::vector<std::int64_t> expected = shape.output_shape();
    expected.insert(expected.begin(), 2);
    if (!output_fits(output, expected, shape.classes_at_least)) {
        const std::string task = shape.task.empty() ? "the task" : shape.task;
        const std::string more = shape.classes_at_least
                                     ? " with at least " + std::to_string(expected[1]) +
                                           " along dim 1 (the data's class count is known at "
                                           "the run's start)"
                                     : "";
        throw RuntimeFailure(where + "for a batch " + shape_text(input) + " the module returns " +
                             shape_text(output.sizes()) + "; " + task + " expects " +
                             shape_text(expected) + more + output_legend(shape.task));
    }
}

} // namespace

std::shared_ptr<Model> load_torchscript(const ModelConfig& config, const ModelShape& shape) {
    const std::string where = "model.path " + config.path + ": ";
    torch::jit::Module module = load_module(config.path);
    check_forward(module, where);
    auto model = std::make_shared<ScriptModel>(
        std::move(module), OutputChoice{config.output_key, config.output_index}, where);
    if (model->parameters().empty()) {
        throw UsageError(where + "the module has no trainable parameters");
    }
    const std::vector<std::int64_t> input = shape.input_shape();
    if (!config.inputs.empty() && config.inputs != input) {
        throw RuntimeFailure(where + "model.inputs = " + shape_text(config.inputs) +
                             " but the data's samples are " + shape_text(input));
    }
    check_output(*model, shape, where);
    return model;
}

} // namespace kakuren::trainer

#include "trainer/checkpoint_io.hpp"

#include <algorithm>
#include <sstream>
#include <type_traits>
#include <utility>
#include <vector>

#include "util/error.hpp"
#include "util/log.hpp"

namespace kakuren::trainer {
namespace {

/// A torch archive as bytes.
std::string archive_bytes(torch::serialize::OutputArchive& archive) {
    std::string out;
    archive.save_to([&out](const void* data, std::size_t size) {
        out.append(static_cast<const char*>(data), size);
        return size;
    });
    return out;
}

/// The optimizer's per-parameter state (SGD: momentum buffers; Adam, AdamW: below) keyed by the
/// parameter's index. LibTorch's own Optimizer::save keys it by TensorImpl addresses, which differ
/// from process to process: the same state would give different bytes, and checkpoints could not be
/// compared.
constexpr const char* k_momentum_key = "momentum_buffer/";

/// The key of a parameter's entry in Optimizer::state(): its TensorImpl's address, as text in
/// LibTorch 1.13 and as the pointer itself in 2.x.
template <class State> typename State::key_type state_key(const torch::Tensor& param) {
    using Key = typename State::key_type;
    if constexpr (std::is_same_v<Key, std::string>) {
        std::ostringstream text; // what 1.13's c10::guts::to_string writes
        text << param.unsafeGetTensorImpl();
        return text.str();
    } else {
        return static_cast<Key>(param.unsafeGetTensorImpl());
    }
}

// Adam and AdamW: the step count and the moment estimates, keyed the same way.
constexpr const char* k_step_key = "adam_step/";
constexpr const char* k_exp_avg_key = "exp_avg/";
constexpr const char* k_exp_avg_sq_key = "exp_avg_sq/";
constexpr const char* k_max_exp_avg_sq_key = "max_exp_avg_sq/";

template <class AdamState>
void save_adam_state(const AdamState& s, std::size_t i, torch::serialize::OutputArchive& out) {
    const std::string index = std::to_string(i);
    out.write(k_step_key + index, torch::tensor(s.step()), true);
    out.write(k_exp_avg_key + index, s.exp_avg().cpu(), true);
    out.write(k_exp_avg_sq_key + index, s.exp_avg_sq().cpu(), true);
    if (s.max_exp_avg_sq().defined()) {
        out.write(k_max_exp_avg_sq_key + index, s.max_exp_avg_sq().cpu(), true);
    }
}

template <class AdamState>
std::unique_ptr<AdamState> load_adam_state(torch::serialize::InputArchive& in, std::size_t i,
                                           const torch::Tensor& param, const std::string& what) {
    const std::string index = std::to_string(i);
    torch::Tensor step;
    if (!in.try_read(k_step_key + index, step, true)) {
        return nullptr;
    }
    auto s = std::make_unique<AdamState>();
    s->step(step.item<std::int64_t>());
    for (const char* key : {k_exp_avg_key, k_exp_avg_sq_key}) {
        // A fresh tensor per read: reading into a defined tensor replaces its storage in place,
        // which would also change the state that holds it.
        torch::Tensor t;
        in.read(key + index, t, true);
        if (!t.sizes().equals(param.sizes())) {
            throw RuntimeFailure(what + "its optimizer state " + std::to_string(i) +
                                 " does not match the shape of the model's parameter");
        }
        t = t.to(param.device());
        if (key == k_exp_avg_key) {
            s->exp_avg(t);
        } else {
            s->exp_avg_sq(t);
        }
    }
    if (torch::Tensor t; in.try_read(k_max_exp_avg_sq_key + index, t, true)) {
        s->max_exp_avg_sq(t.to(param.device()));
    }
    return s;
}

void save_optimizer_state(torch::optim::Optimizer& optimizer,
                          torch::serialize::OutputArchive& out) {
    const std::vector<torch::Tensor>& params = optimizer.param_groups().front().params();
    auto& state = optimizer.state();
    out.write("num_params", torch::tensor(static_cast<std::int64_t>(params.size())), true);
    for (std::size_t i = 0; i < params.size(); ++i) {
        const auto it = state.find(state_key<std::decay_t<decltype(state)>>(params[i]));
        if (it == state.end()) {
            continue;
        }
        if (const auto* sgd = dynamic_cast<const torch::optim::SGDParamState*>(it->second.get())) {
            if (sgd->momentum_buffer().defined()) {
                out.write(k_momentum_key + std::to_string(i), sgd->momentum_buffer().cpu(), true);
            }
        } else if (const auto* adamw =
                       dynamic_cast<const torch::optim::AdamWParamState*>(it->second.get())) {
            save_adam_state(*adamw, i, out);
        } else if (const auto* adam =
                       dynamic_cast<const torch::optim::AdamParamState*>(it->second.get())) {
            save_adam_state(*adam, i, out);
        }
    }
}

void load_optimizer_state(torch::serialize::InputArchive& in, torch::optim::Optimizer& optimizer,
                          const std::string& what) {
    const std::vector<torch::Tensor>& params = optimizer.param_groups().front().params();
    torch::Tensor count;
    in.read("num_params", count, true);
    if (count.item<std::int64_t>() != static_cast<std::int64_t>(params.size())) {
        throw RuntimeFailure(
            what + "its optimizer state covers " + std::to_string(count.item<std::int64_t>()) +
            " parameters; this recipe's model has " + std::to_string(params.size()));
    }
    const bool adamw = dynamic_cast<torch::optim::AdamW*>(&optimizer) != nullptr;
    const bool adam = dynamic_cast<torch::optim::Adam*>(&optimizer) != nullptr;
    auto& state = optimizer.state();
    state.clear();
    for (std::size_t i = 0; i < params.size(); ++i) {
        const auto key = state_key<std::decay_t<decltype(state)>>(params[i]);
        if (adamw || adam) {
            std::unique_ptr<torch::optim::OptimizerParamState> s;
            if (adamw) {
                s = load_adam_state<torch::optim::AdamWParamState>(in, i, params[i], what);
            } else {
                s = load_adam_state<torch::optim::AdamParamState>(in, i, params[i], what);
            }
            if (s) {
                state[key] = std::move(s);
            }
            continue;
        }
        torch::Tensor buffer;
        if (in.try_read(k_momentum_key + std::to_string(i), buffer, true)) {
            if (!buffer.sizes().equals(params[i].sizes())) {
                throw RuntimeFailure(what + "its momentum buffer " + std::to_string(i) +
                                     " does not match the shape of the model's parameter");
            }
            auto s = std::make_unique<torch::optim::SGDParamState>();
            s->momentum_buffer(buffer.to(params[i].device()));
            state[key] = std::move(s);
        }
    }
}

/// Reads a checkpoint file back into an archive; throws RuntimeFailure if it is missing.
void read_archive(const checkpoint::Resume& resume, const std::string& file,
                  torch::serialize::InputArchive& archive) {
    const auto it = resume.files.find(file);
    if (it == resume.files.end()) {
        throw RuntimeFailure("checkpoint " + resume.name + " has no " + file);
    }
    // Onto the host: the caller copies into tensors that live on the run's device.
    archive.load_from(it->second.data(), it->second.size(), torch::Device(torch::kCPU));
}

std::string shape_text(const std::vector<std::int64_t>& sizes) {
    std::string out = "[";
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        out += (i ? ", " : "") + std::to_string(sizes[i]);
    }
    return out + "]";
}

using Shapes = std::vector<std::pair<std::string, std::vector<std::int64_t>>>;

Shapes shapes_of(const Model& model) {
    Shapes shapes;
    for (const NamedTensors& named : {model.named_parameters(), model.named_buffers()}) {
        for (const auto& [name, tensor] : named) {
            shapes.emplace_back(name, tensor.sizes().vec());
        }
    }
    return shapes;
}

/// Module::load takes tensors of any shape: the loaded model must have the recipe model's
/// names and shapes.
void check_shapes(const Shapes& expected, const Shapes& loaded, const std::string& what) {
    for (std::size_t i = 0; i < loaded.size() && i < expected.size(); ++i) {
        if (loaded[i] != expected[i]) {
            throw RuntimeFailure(what + "its model has " + loaded[i].first + " of shape " +
                                 shape_text(loaded[i].second) + "; this recipe's model has " +
                                 expected[i].first + " of shape " + shape_text(expected[i].second));
        }
    }
}

} // namespace

std::string platform_text(const Device& device) {
    const BuildInfo build = build_info();
    return "libtorch " + build.torch_version + "\ndevice " + device.name() + "\ncpu " +
           build.cpu_capability + "\nprecision " + device.precision() + "\n";
}

std::optional<std::string> platform_change(const checkpoint::Resume& resume, const Device& device) {
    const auto it = resume.files.find("platform.txt");
    const std::string now = platform_text(device);
    if (it == resume.files.end() || it->second == now) {
        return std::nullopt;
    }
    const auto lines = [](const std::string& text) {
        std::vector<std::string> out;
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);) {
            out.push_back(line);
        }
        return out;
    };
    const std::vector<std::string> before = lines(it->second), after = lines(now);
    std::string change;
    for (std::size_t i = 0; i < std::max(before.size(), after.size()); ++i) {
        const std::string a = i < before.size() ? before[i] : "?";
        const std::string b = i < after.size() ? after[i] : "?";
        if (a != b) {
            const std::string key = b.substr(0, b.find(' '));
            change += (change.empty() ? "" : "; ") + key + " " + a.substr(a.find(' ') + 1) +
                      " -> " + b.substr(b.find(' ') + 1);
        }
    }
    return change;
}

namespace {
constexpr const char* k_loss_scale_key = "loss_scale";
constexpr const char* k_loss_scale_steps_key = "loss_scale_good_steps";
} // namespace

std::map<std::string, std::string> save_training_state(StepEngine& engine, const Device& device) {
    torch::serialize::OutputArchive model_archive;
    engine.model().save(model_archive);
    torch::serialize::OutputArchive optimizer_archive;
    save_optimizer_state(engine.optimizer(), optimizer_archive);
    if (device.scales_loss()) {
        const StepEngine::LossScale& scale = engine.loss_scale();
        optimizer_archive.write(k_loss_scale_key, torch::tensor(scale.scale, torch::kFloat64),
                                true);
        optimizer_archive.write(k_loss_scale_steps_key, torch::tensor(scale.good_steps), true);
    }
    torch::serialize::OutputArchive rng_archive;
    device.save_rng(rng_archive);
    return {{"model.pt", archive_bytes(model_archive)},
            {"optimizer.pt", archive_bytes(optimizer_archive)},
            {"rng.pt", archive_bytes(rng_archive)},
            {"platform.txt", platform_text(device)}};
}

void load_training_state(const checkpoint::Resume& resume, StepEngine& engine, const Device& device,
                         const std::string& what) {
    Model& model = engine.model();
    if (const std::optional<std::string> change = platform_change(resume, device)) {
        util::log_warning("checkpoint " + resume.name + " was written on another platform (" +
                          *change +
                          "): the run goes on, but not bit-identical to one that never stopped "
                          "(docs/devices.md)");
    }
    try {
        const Shapes expected = shapes_of(model);
        torch::serialize::InputArchive model_archive;
        read_archive(resume, "model.pt", model_archive);
        model.load(model_archive);
        // Reading a host tensor into a GPU parameter moves the parameter to the host (LibTorch
        // swaps its data): back to the device, the same tensors the optimizer holds.
        model.to(device.torch_device());
        check_shapes(expected, shapes_of(model), what);
        // The optimizer keeps its options (from the recipe); only its per-parameter state
        // (momentum buffers) comes from the checkpoint.
        torch::serialize::InputArchive optimizer_archive;
        read_archive(resume, "optimizer.pt", optimizer_archive);
        load_optimizer_state(optimizer_archive, engine.optimizer(), what);
        torch::Tensor scale, steps;
        if (optimizer_archive.try_read(k_loss_scale_key, scale, true) &&
            optimizer_archive.try_read(k_loss_scale_steps_key, steps, true)) {
            engine.loss_scale() = {scale.item<double>(), steps.item<std::int64_t>()};
        }
        torch::serialize::InputArchive rng_archive;
        read_archive(resume, "rng.pt", rng_archive);
        device.restore_rng(rng_archive);
    } catch (const c10::Error& e) {
        throw RuntimeFailure(what + "its model or optimizer does not fit this recipe's model (" +
                             e.what_without_backtrace() + ")");
    }
}

} // namespace kakuren::trainer

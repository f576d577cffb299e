#pragma once
// Torch serialization of a checkpoint's files: model.pt (parameters and buffers), optimizer.pt
// (per-parameter state keyed by index), rng.pt (every generator of the device). Private to
// trainer/ (torch).
#include <map>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "checkpoint/state.hpp"
#include "trainer/device.hpp"
#include "trainer/models.hpp"
#include "trainer/step_engine.hpp"

namespace kakuren::trainer {

/// What a checkpoint's platform.txt records: the LibTorch version, the device, the CPU kernel level
/// and the precision, one "key value" line each. Bits are exact only when all of them match.
std::string platform_text(const Device& device);

/// How `resume`'s platform.txt differs from this process's ("libtorch 1.13.0 -> 2.11.0; ..."),
/// or nullopt when it matches or the checkpoint has none (written before it was recorded).
std::optional<std::string> platform_change(const checkpoint::Resume& resume, const Device& device);

/// The files of a checkpoint (model.pt, optimizer.pt, rng.pt, platform.txt), as bytes (tensors on
/// the host, whatever the device: a GPU run's checkpoint opens on any machine). optimizer.pt also
/// holds fp16's loss scale.
std::map<std::string, std::string> save_training_state(StepEngine& engine, const Device& device);

/// Loads what save_training_state wrote into the engine's model and optimizer, built from this
/// recipe on `device`, and the generators; warns (util::log_warning) when the checkpoint was
/// written on another platform (platform_change), as the result is then not bit-identical. Throws
/// RuntimeFailure starting with `what` when a file is missing or does not fit (another model: names
/// and shapes are compared first).
void load_training_state(const checkpoint::Resume& resume, StepEngine& engine, const Device& device,
                         const std::string& what);

} // namespace kakuren::trainer

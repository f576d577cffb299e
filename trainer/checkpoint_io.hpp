#pragma once
// Torch serialization of a checkpoint's files: model.pt (parameters and buffers), optimizer.pt
// (per-parameter state keyed by index), rng.pt (every generator of the device). Private to
// trainer/ (torch).
#include <map>
#include <string>

#include <torch/torch.h>

#include "checkpoint/state.hpp"
#include "trainer/device.hpp"
#include "trainer/models.hpp"
#include "trainer/step_engine.hpp"

namespace kakuren::trainer {

/// The three files of a checkpoint, as bytes (tensors on the host, whatever the device: a GPU
/// run's checkpoint opens on any machine). optimizer.pt also holds fp16's loss scale.
std::map<std::string, std::string> save_training_state(StepEngine& engine, const Device& device);

/// Loads what save_training_state wrote into the engine's model and optimizer, built from this
/// recipe on `device`, and the generators. Throws RuntimeFailure starting with `what` when a file
/// is missing or does not fit (another model: names and shapes are compared first).
void load_training_state(const checkpoint::Resume& resume, StepEngine& engine,
                         const Device& device, const std::string& what);

} // namespace kakuren::trainer

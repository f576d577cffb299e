#pragma once
// The model against the data before anything is recorded (kakuren recipe check, kakuren run and
// its dry run): one forward pass of a zero batch of the data's sample shape. No torch in this
// header.
#include <optional>

#include "trainer/data_tools.hpp"
#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// Builds config.model (a built-in kind, or the TorchScript module of model.path) for the
/// training split's sample shape, taken from the data's headers only (IDX and npy headers, the
/// HDF5 dataset's shape, the first image of an images split, the synthetic stand-in's
/// configured shape; no sample is read), runs one forward pass of a zero batch [2, ...] and
/// checks that the output fits the task ([2, classes] for classification, [2, classes, H, W]
/// for segmentation, [2, K] for regression). Returns the problem found, or nullopt: its key is
/// "model.path" (a TorchScript module), "model.output" (the output model.output picks), or
/// "model.kind" (a built-in model), its message one line that names the module file, the input
/// shape given and the root cause (the last line of a TorchScript error). Throws what reading
/// the data's headers throws (RuntimeFailure naming the file).
std::optional<DataProblem> check_model_fit(const Config& config);

} // namespace kakuren::trainer

#pragma once
// What a model is built for, from the data and the task. Private to trainer/ (torch).
#include "trainer/models.hpp"
#include "trainer/source.hpp"
#include "trainer/task.hpp"

namespace kakuren::trainer {

/// What the model is built for: the data's sample shape, the task's output shape. A built-in
/// model with model.inputs set must get exactly that shape from the data (else RuntimeFailure);
/// the task's own refusals (targets of the wrong shape for it) are thrown as RuntimeFailure.
/// task_kind (config.task.kind) names the task in messages about the output's shape.
ModelShape model_shape(const DataInfo& info, const Task& task, const ModelConfig& model,
                       const std::string& task_kind = {});

/// The part of a TorchScript error worth one line: the last non-empty line of its message (the
/// interpreter's traceback ends with the Python exception that caused it), without its
/// "RuntimeError: " prefix. For other exceptions, the same rule on what() /
/// what_without_backtrace().
std::string root_cause(const std::exception& e);

} // namespace kakuren::trainer

#pragma once
// What is learned: the per-sample loss, and from the model's output the per-sample "correct" and
// "confidence" that hiding reads, and the evaluation metric. Classification is the first task;
// the registry (make_task) names each kind once. Private to trainer/ (torch).
#include <cstdint>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// One batch's per-sample outcome: losses float32 [B] (with the autograd graph when it came from a
/// training forward), correct bool [B] and confidence float32 [B] (never with a graph).
struct Outcome {
    torch::Tensor losses, correct, confidence;
};

/// Sums of one evaluation batch: the per-sample losses and the metric (for classification the
/// number of correct predictions), and the number of samples.
struct EvalSums {
    double loss = 0, metric = 0, count = 0;
};

class Task {
  public:
    virtual ~Task() = default;
    /// The evaluation metric's name in records and output ("accuracy").
    [[nodiscard]] virtual std::string metric_name() const = 0;
    /// Per-sample losses, correct and confidence of `output` (the model's output for `targets`).
    /// Losses keep the graph when output has one.
    virtual Outcome outcome(const torch::Tensor& output, const torch::Tensor& targets) const = 0;
    /// Loss and metric sums of an evaluation batch (inside InferenceMode).
    virtual EvalSums evaluate(const torch::Tensor& output, const torch::Tensor& targets) const = 0;
};

/// The task the trainer runs for config (classification today). `stats` selects the reference
/// quirks of what hiding reads (confidence normalised over the batch).
std::unique_ptr<Task> make_task(const StatsConfig& stats);

} // namespace kakuren::trainer

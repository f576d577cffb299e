#pragma once
// What is learned: the per-sample loss, and from the model's output the per-sample "correct" and
// "confidence" that hiding reads, and the evaluation metric. One file per kind
// (classification.cpp, segmentation.cpp, regression.cpp); the registry (make_task, task.cpp)
// names each kind once. Private to trainer/ (torch).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <torch/torch.h>

#include "trainer/source.hpp"
#include "trainer/trainer.hpp"
#include "util/metrics.hpp"

namespace kakuren::trainer {

/// One batch's per-sample outcome: losses float32 [B] (with the autograd graph when it came from a
/// training forward), correct bool [B] and confidence float32 [B] (never with a graph). The
/// replicator hands back a global batch's (all ranks' samples) the same way, without a graph;
/// an empty batch has no tensors.
struct Outcome {
    torch::Tensor losses, correct, confidence;
    /// B: the number of samples (0 without tensors).
    [[nodiscard]] std::int64_t count() const { return losses.defined() ? losses.numel() : 0; }
};

/// Sums of one evaluation batch: the per-sample losses and the metric (for classification the
/// number of correct predictions, for segmentation the per-sample IoUs, for regression the
/// per-sample MAEs), and the number of samples.
struct EvalSums {
    double loss = 0, metric = 0, count = 0;
};

class Task {
  public:
    virtual ~Task() = default;
    /// The evaluation metric's name in records and output ("accuracy", "IoU", "MAE").
    [[nodiscard]] virtual std::string_view metric_name() const = 0;
    /// Whether a smaller metric is better (util/metrics.hpp: MAE).
    [[nodiscard]] bool lower_is_better() const {
        return util::metrics::lower_is_better(metric_name());
    }
    /// The model's output shape for one sample of data (without the batch dimension):
    /// [classes], [classes, H, W] or [targets]. Throws RuntimeFailure when the data's targets do
    /// not fit the task (e.g. class ids for regression).
    [[nodiscard]] virtual std::vector<std::int64_t> output_shape(const DataInfo& data) const = 0;
    /// Per-sample losses, correct and confidence of `output` (the model's output for `targets`).
    /// Losses keep the graph when output has one.
    virtual Outcome outcome(const torch::Tensor& output, const torch::Tensor& targets) const = 0;
    /// Loss and metric sums of an evaluation batch (inside InferenceMode).
    virtual EvalSums evaluate(const torch::Tensor& output, const torch::Tensor& targets) const = 0;
};

/// The task config.kind names. `stats` selects the reference quirks of what hiding reads
/// (confidence normalised over the batch: classification only). Throws UsageError for an
/// unknown kind or settings the task cannot use.
std::unique_ptr<Task> make_task(const TaskConfig& config, const StatsConfig& stats);

/// The task kinds make_task knows, in registry order.
std::vector<std::string> task_kinds();

// One constructor per kind (its own file).
std::unique_ptr<Task> make_classification(const TaskConfig& config, const StatsConfig& stats);
std::unique_ptr<Task> make_segmentation(const TaskConfig& config, const StatsConfig& stats);
std::unique_ptr<Task> make_regression(const TaskConfig& config, const StatsConfig& stats);

} // namespace kakuren::trainer

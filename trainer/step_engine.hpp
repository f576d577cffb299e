#pragma once
// One training step and one forward-only batch: the only place where forward, task loss and
// backward are written. Owns the model and the optimizer; the task says what the loss is, the
// replicator makes the ranks agree. Private to trainer/ (torch).
#include <cstdint>
#include <memory>

#include <torch/torch.h>

#include "trainer/device.hpp"
#include "trainer/models.hpp"
#include "trainer/replicator.hpp"
#include "trainer/source.hpp"
#include "trainer/task.hpp"

namespace kakuren::trainer {

class StepEngine {
  public:
    /// Builds optim.kind (sgd, adam, adamw). Throws UsageError for an unknown kind or settings
    /// LibTorch refuses. `accumulation_steps` (>= 1): micro-batches per training step
    /// (data.accumulation_steps).
    /// The model must already be on `device`; batches are moved there step by step, the
    /// forward pass runs in the device's precision, the per-sample statistics come back to the
    /// host in fp32.
    StepEngine(std::shared_ptr<Model> model, const OptimConfig& optim, const Task& task,
               Replicator& replicator, const Device& device, int accumulation_steps = 1);

    [[nodiscard]] Model& model() { return *m_model; }
    [[nodiscard]] torch::optim::Optimizer& optimizer() { return *m_optimizer; }
    /// fp16's dynamic loss scale (as torch.amp.GradScaler: x0.5 after a step with non-finite
    /// gradients, which is skipped; x2 after 2000 finite steps). Checkpointed with the optimizer.
    struct LossScale {
        double scale = 65536.0;
        std::int64_t good_steps = 0;
    };
    [[nodiscard]] LossScale& loss_scale() { return m_scale; }
    /// The learning rate of the next steps.
    void set_lr(double lr);

    /// One optimizer step on this rank's part of a global batch (an empty batch when its share
    /// ran out): forward, per-sample losses times `weights` (undefined = all 1; not normalised
    /// by the weights), backward, gradients replicated, optimizer step. Returns the global
    /// batch's outcome. With accumulation_steps k > 1 the batch is split into k micro-batches
    /// of at most ceil(size / k) samples (fewer when the batch is smaller), each run forward and
    /// backward in turn; their gradients add up and only the last backward pass communicates.
    Outcome train_step(const Batch& batch, const torch::Tensor& weights);

    /// Forward only (call inside InferenceMode after prepare_inference): the global batch's
    /// outcome. `train_mode` runs the training forward (the reference's refresh quirk) instead
    /// of the inference path.
    Outcome forward(const Batch& batch, bool train_mode);

    /// Loss and metric sums of one evaluation batch, summed over the ranks (call inside
    /// InferenceMode after prepare_inference, in eval mode). An empty batch adds nothing.
    EvalSums evaluate(const Batch& batch);

  private:
    std::shared_ptr<Model> m_model;
    std::unique_ptr<torch::optim::Optimizer> m_optimizer;
    /// The model's output in fp32 for `inputs` (a host batch), in the device's precision.
    torch::Tensor run_forward(const torch::Tensor& inputs, bool inference);
    /// Unscales fp16's gradients; false (and the scale halved) when some are not finite.
    bool unscale_gradients();

    const Task& m_task;
    Replicator& m_replicator;
    const Device& m_device;
    std::int64_t m_accumulation_steps;
    LossScale m_scale;
};

} // namespace kakuren::trainer

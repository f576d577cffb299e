#include "trainer/step_engine.hpp"

#include <algorithm>
#include <vector>

#include "util/error.hpp"

namespace kakuren::trainer {

namespace {

/// What hiding and the records read, on the host in fp32 (a no-op for a CPU fp32 run).
Outcome on_host(const Outcome& o) {
    return {o.losses.detach().to(torch::kCPU, torch::kFloat32), o.correct.to(torch::kCPU),
            o.confidence.to(torch::kCPU, torch::kFloat32)};
}

} // namespace

StepEngine::StepEngine(std::shared_ptr<Model> model, const OptimConfig& o, const Task& task,
                       Replicator& replicator, const Device& device, int accumulation_steps)
    : m_model(std::move(model)), m_task(task), m_replicator(replicator), m_device(device),
      m_accumulation_steps(accumulation_steps) {
    if (accumulation_steps < 1) {
        throw UsageError("data.accumulation_steps must be >= 1");
    }
    try {
        if (o.kind == "sgd") {
            m_optimizer = std::make_unique<torch::optim::SGD>(m_model->parameters(),
                                                              torch::optim::SGDOptions(o.lr)
                                                                  .momentum(o.momentum)
                                                                  .weight_decay(o.weight_decay)
                                                                  .nesterov(o.nesterov));
        } else if (o.kind == "adam") {
            // L2 weight decay added to the gradient (torch.optim.Adam's weight_decay).
            m_optimizer = std::make_unique<torch::optim::Adam>(m_model->parameters(),
                                                               torch::optim::AdamOptions(o.lr)
                                                                   .betas({o.beta1, o.beta2})
                                                                   .eps(o.eps)
                                                                   .weight_decay(o.weight_decay));
        } else if (o.kind == "adamw") {
            // Decoupled weight decay (torch.optim.AdamW).
            m_optimizer = std::make_unique<torch::optim::AdamW>(m_model->parameters(),
                                                                torch::optim::AdamWOptions(o.lr)
                                                                    .betas({o.beta1, o.beta2})
                                                                    .eps(o.eps)
                                                                    .weight_decay(o.weight_decay));
        } else {
            throw UsageError("unknown optimizer.kind \"" + o.kind +
                             "\"; expected sgd, adam or adamw");
        }
    } catch (const c10::Error& e) {
        throw UsageError(std::string("invalid optimizer settings: ") + e.what_without_backtrace());
    }
}

void StepEngine::set_lr(double lr) {
    m_optimizer->param_groups().front().options().set_lr(lr);
}

torch::Tensor StepEngine::run_forward(const torch::Tensor& inputs, bool inference) {
    const torch::Tensor x = m_device.to_device(inputs);
    torch::Tensor output;
    {
        const Device::Autocast autocast(m_device);
        output = inference ? m_model->forward_inference(x) : m_model->forward(x);
    }
    // The task's losses and statistics in fp32, whatever precision the forward pass ran in.
    return output.scalar_type() == torch::kFloat32 ? output : output.to(torch::kFloat32);
}

bool StepEngine::unscale_gradients() {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> finite;
    for (const torch::Tensor& p : m_model->parameters()) {
        if (p.grad().defined()) {
            p.mutable_grad().mul_(1.0 / m_scale.scale);
            finite.push_back(torch::isfinite(p.grad()).all());
        }
    }
    const bool ok = finite.empty() || torch::stack(finite).all().item<bool>();
    if (!ok) {
        m_scale.scale *= 0.5;
        m_scale.good_steps = 0;
    } else if (++m_scale.good_steps == 2000) {
        m_scale.scale *= 2.0;
        m_scale.good_steps = 0;
    }
    return ok;
}

Outcome StepEngine::train_step(const Batch& batch, const torch::Tensor& host_weights) {
    m_replicator.begin_step(*m_optimizer);
    const std::int64_t n = batch.size();
    const torch::Tensor weights = m_device.to_device(host_weights);
    const torch::Tensor targets = m_device.to_device(batch.targets);
    if (n == 0) {
        m_replicator.start_sync({}, 0); // an empty share still takes part in the collectives
    }
    const std::int64_t micro = (n + m_accumulation_steps - 1) / m_accumulation_steps;
    std::vector<Outcome> parts;
    for (std::int64_t begin = 0; begin < n; begin += micro) {
        const std::int64_t len = std::min(micro, n - begin);
        const bool whole = len == n;
        const torch::Tensor output =
            run_forward(whole ? batch.inputs : batch.inputs.narrow(0, begin, len), false);
        Outcome part = m_task.outcome(output, whole ? targets : targets.narrow(0, begin, len));
        // Weighted: mean of weight * loss, not normalised by the weights (InfoBatch's weights
        // undo the bias of pruning and must not cancel out).
        torch::Tensor loss = m_replicator.batch_loss(
            weights.defined() ? part.losses * (whole ? weights : weights.narrow(0, begin, len))
                              : part.losses,
            n);
        if (m_device.scales_loss()) {
            loss = loss * m_scale.scale;
        }
        if (begin + len == n) {
            // The last micro-batch: the step's outcome is known, its exchange can start and
            // overlap with the backward pass, which starts the gradient buckets.
            if (parts.empty()) {
                m_replicator.start_sync(on_host(part), n);
            } else {
                parts.push_back(part);
                Outcome all;
                torch::NoGradGuard no_grad;
                std::vector<torch::Tensor> losses, correct, confidence;
                for (const Outcome& o : parts) {
                    losses.push_back(o.losses.detach());
                    correct.push_back(o.correct);
                    confidence.push_back(o.confidence);
                }
                all.losses = torch::cat(losses);
                all.correct = torch::cat(correct);
                all.confidence = torch::cat(confidence);
                m_replicator.start_sync(on_host(all), n);
            }
            loss.backward();
        } else {
            loss.backward();
            // Keep the statistics only (the graph goes with the micro-batch).
            part.losses = part.losses.detach();
            parts.push_back(std::move(part));
        }
    }
    Outcome global = m_replicator.end_step();
    if (!m_device.scales_loss() || unscale_gradients()) {
        m_optimizer->step(); // fp16: a step with non-finite gradients is skipped
    }
    return global;
}

Outcome StepEngine::forward(const Batch& batch, bool train_mode) {
    Outcome local;
    if (batch.size() > 0) {
        const torch::Tensor output = run_forward(batch.inputs, !train_mode);
        local = on_host(m_task.outcome(output, m_device.to_device(batch.targets)));
    }
    return m_replicator.end_forward(local, batch.size());
}

EvalSums StepEngine::evaluate(const Batch& batch) {
    EvalSums local;
    if (batch.size() > 0) {
        local = m_task.evaluate(run_forward(batch.inputs, true), m_device.to_device(batch.targets));
    }
    return m_replicator.sum(local);
}

} // namespace kakuren::trainer

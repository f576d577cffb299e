#include "trainer/step_engine.hpp"

#include <algorithm>
#include <vector>

#include "util/error.hpp"

namespace kakuren::trainer {

StepEngine::StepEngine(std::shared_ptr<Model> model, const OptimConfig& o, const Task& task,
                       Replicator& replicator, int accumulation_steps)
    : m_model(std::move(model)), m_task(task), m_replicator(replicator),
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

GlobalOutcome StepEngine::train_step(const Batch& batch, const torch::Tensor& weights) {
    m_replicator.begin_step(*m_optimizer);
    const std::int64_t n = batch.size();
    if (n == 0) {
        m_replicator.start_sync({}, 0); // an empty share still takes part in the collectives
    }
    const std::int64_t micro = (n + m_accumulation_steps - 1) / m_accumulation_steps;
    std::vector<Outcome> parts;
    for (std::int64_t begin = 0; begin < n; begin += micro) {
        const std::int64_t len = std::min(micro, n - begin);
        const bool whole = len == n;
        const torch::Tensor output =
            m_model->forward(whole ? batch.inputs : batch.inputs.narrow(0, begin, len));
        Outcome part =
            m_task.outcome(output, whole ? batch.targets : batch.targets.narrow(0, begin, len));
        // Weighted: mean of weight * loss, not normalised by the weights (InfoBatch's weights
        // undo the bias of pruning and must not cancel out).
        const torch::Tensor loss = m_replicator.batch_loss(
            weights.defined() ? part.losses * (whole ? weights : weights.narrow(0, begin, len))
                              : part.losses,
            n);
        if (begin + len == n) {
            // The last micro-batch: the step's outcome is known, its exchange can start and
            // overlap with the backward pass, which starts the gradient buckets.
            if (parts.empty()) {
                m_replicator.start_sync(part, n);
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
                m_replicator.start_sync(all, n);
            }
            loss.backward();
        } else {
            loss.backward();
            // Keep the statistics only (the graph goes with the micro-batch).
            part.losses = part.losses.detach();
            parts.push_back(std::move(part));
        }
    }
    GlobalOutcome global = m_replicator.end_step();
    m_optimizer->step();
    return global;
}

GlobalOutcome StepEngine::forward(const Batch& batch, bool train_mode) {
    Outcome local;
    if (batch.size() > 0) {
        const torch::Tensor output =
            train_mode ? m_model->forward(batch.inputs) : m_model->forward_inference(batch.inputs);
        local = m_task.outcome(output, batch.targets);
    }
    return m_replicator.end_forward(local, batch.size());
}

EvalSums StepEngine::evaluate(const Batch& batch) {
    EvalSums local;
    if (batch.size() > 0) {
        local = m_task.evaluate(m_model->forward_inference(batch.inputs), batch.targets);
    }
    return m_replicator.sum(local);
}

} // namespace kakuren::trainer

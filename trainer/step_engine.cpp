#include "trainer/step_engine.hpp"

#include "util/error.hpp"

namespace kakuren::trainer {

StepEngine::StepEngine(std::shared_ptr<Model> model, const OptimConfig& o, const Task& task,
                       Replicator& replicator)
    : m_model(std::move(model)), m_task(task), m_replicator(replicator) {
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
    Outcome local;
    if (batch.size() > 0) {
        const torch::Tensor output = m_model->forward(batch.inputs);
        local = m_task.outcome(output, batch.targets);
        // Weighted: mean of weight * loss, not normalised by the weights (InfoBatch's weights
        // undo the bias of pruning and must not cancel out).
        const torch::Tensor loss =
            m_replicator.batch_loss(weights.defined() ? local.losses * weights : local.losses);
        loss.backward();
    }
    GlobalOutcome global = m_replicator.end_step(local, batch.size());
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

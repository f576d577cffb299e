// Classification: cross-entropy per sample; "correct" = argmax equals the label; "confidence" =
// the top class probability (softmax over classes; the reference quirk normalises over the
// batch instead); metric: accuracy.
#include <utility>

#include "trainer/task.hpp"

namespace kakuren::trainer {
namespace {

class Classification final : public Task {
  public:
    explicit Classification(bool confidence_over_batch)
        : m_confidence_over_batch(confidence_over_batch) {}

    [[nodiscard]] std::string metric_name() const override { return "accuracy"; }

    Outcome outcome(const torch::Tensor& logits, const torch::Tensor& labels) const override {
        const torch::Tensor log_probs = torch::log_softmax(logits, 1);
        Outcome out;
        out.losses = torch::nll_loss(log_probs, labels, {}, at::Reduction::None);
        torch::NoGradGuard no_grad;
        // max softmax = exp(max log softmax), read off the log-probabilities already computed.
        auto [max_log_prob, predicted] = log_probs.detach().max(1);
        out.correct = predicted.eq(labels);
        out.confidence = m_confidence_over_batch ? torch::softmax(logits.detach(), 0).amax(1)
                                                 : max_log_prob.exp_();
        return out;
    }

    EvalSums evaluate(const torch::Tensor& logits, const torch::Tensor& labels) const override {
        const torch::Tensor log_probs = torch::log_softmax(logits, 1);
        EvalSums sums;
        sums.loss = torch::nll_loss(log_probs, labels, {}, at::Reduction::None).sum().item<float>();
        sums.metric = static_cast<double>(log_probs.argmax(1).eq(labels).sum().item<std::int64_t>());
        sums.count = static_cast<double>(labels.size(0));
        return sums;
    }

  private:
    bool m_confidence_over_batch;
};

} // namespace

std::unique_ptr<Task> make_task(const StatsConfig& stats) {
    return std::make_unique<Classification>(stats.confidence_over_batch);
}

} // namespace kakuren::trainer

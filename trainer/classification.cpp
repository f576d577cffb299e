// Classification: cross-entropy per sample; "correct" = argmax equals the label; "confidence" =
// the top class probability (softmax over classes; the reference quirk normalises over the
// batch instead); metric: accuracy.
#include <cmath>
#include <cstdint>
#include <utility>

#include "trainer/task.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

/// One pass over the rows of log-probabilities [B, C] (contiguous float32): each row's largest
/// value into `top` and whether its position equals the label into `correct`. The same choice as
/// torch's max(1): the first of equal maxima, and a NaN wins; replaces max + eq (two kernels and
/// two temporaries per step) by one loop over memory already in cache.
void top_of_rows(const torch::Tensor& log_probs, const torch::Tensor& labels, torch::Tensor& top,
                 torch::Tensor& correct) {
    const std::int64_t rows = log_probs.size(0);
    const std::int64_t cols = log_probs.size(1);
    top = torch::empty({rows}, torch::kFloat32);
    correct = torch::empty({rows}, torch::kBool);
    const float* p = log_probs.data_ptr<float>();
    const std::int64_t* y = labels.data_ptr<std::int64_t>();
    float* t = top.data_ptr<float>();
    bool* c = correct.data_ptr<bool>();
    for (std::int64_t r = 0; r < rows; ++r) {
        const float* row = p + r * cols;
        float best = row[0];
        std::int64_t index = 0;
        for (std::int64_t k = 0; k < cols; ++k) {
            const float v = row[k];
            if (!(v <= best)) {
                best = v;
                index = k;
                if (std::isnan(v)) {
                    break;
                }
            }
        }
        t[r] = best;
        c[r] = index == y[r];
    }
}

class Classification final : public Task {
  public:
    explicit Classification(bool confidence_over_batch)
        : m_confidence_over_batch(confidence_over_batch) {}

    [[nodiscard]] std::string_view metric_name() const override {
        return util::metrics::name::accuracy;
    }

    [[nodiscard]] std::vector<std::int64_t> output_shape(const DataInfo& data) const override {
        if (!data.target_shape.empty()) {
            throw RuntimeFailure("task classification needs one class id per sample; the data's "
                                 "targets have shape " +
                                 c10::str(c10::IntArrayRef(data.target_shape)) +
                                 " (set task.kind)");
        }
        return {data.num_classes};
    }

    Outcome outcome(const torch::Tensor& logits, const torch::Tensor& labels) const override {
        const torch::Tensor log_probs = torch::log_softmax(logits, 1);
        Outcome out;
        out.losses = torch::nll_loss(log_probs, labels, {}, at::Reduction::None);
        torch::NoGradGuard no_grad;
        // max softmax = exp(max log softmax), read off the log-probabilities already computed.
        torch::Tensor max_log_prob;
        top_of_rows(log_probs.detach().contiguous(), labels.contiguous(), max_log_prob,
                    out.correct);
        out.confidence = m_confidence_over_batch ? torch::softmax(logits.detach(), 0).amax(1)
                                                 : max_log_prob.exp_();
        return out;
    }

    EvalSums evaluate(const torch::Tensor& logits, const torch::Tensor& labels) const override {
        const torch::Tensor log_probs = torch::log_softmax(logits, 1);
        EvalSums sums;
        sums.loss = torch::nll_loss(log_probs, labels, {}, at::Reduction::None).sum().item<float>();
        sums.metric =
            static_cast<double>(log_probs.argmax(1).eq(labels).sum().item<std::int64_t>());
        sums.count = static_cast<double>(labels.size(0));
        return sums;
    }

  private:
    bool m_confidence_over_batch;
};

} // namespace

std::unique_ptr<Task> make_classification(const TaskConfig& /*config*/, const StatsConfig& stats) {
    return std::make_unique<Classification>(stats.confidence_over_batch);
}

} // namespace kakuren::trainer

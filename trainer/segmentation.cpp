// Segmentation (DeepCAM): per-pixel cross-entropy with class weights; a sample's loss is the mean
// over its pixels of weight[label] x -log p(label). Metric: the sample's IoU averaged over the
// classes, a class whose union is empty (neither predicted nor present) counting as 1, as
// DeepCAM's metric does; averaged over samples. For hiding: "correct" = IoU >= task.iou_threshold,
// "confidence" = the mean over pixels of the top class probability (softmax over classes).
#include <cstdint>

#include "trainer/task.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

class Segmentation final : public Task {
  public:
    explicit Segmentation(const TaskConfig& config) : m_iou_threshold(config.iou_threshold) {
        if (!config.class_weights.empty()) {
            m_weights = torch::tensor(
                std::vector<float>(config.class_weights.begin(), config.class_weights.end()),
                torch::kFloat32);
        }
    }

    [[nodiscard]] std::string_view metric_name() const override { return util::metrics::name::iou; }

    [[nodiscard]] std::vector<std::int64_t> output_shape(const DataInfo& data) const override {
        if (data.target_shape.size() != 2) {
            throw RuntimeFailure("task segmentation needs a class id per pixel (targets of shape "
                                 "[H, W]); the data's targets have shape " +
                                 c10::str(c10::IntArrayRef(data.target_shape)));
        }
        if (m_weights.defined() && m_weights.size(0) != data.num_classes) {
            throw RuntimeFailure("task.class_weights has " + std::to_string(m_weights.size(0)) +
                                 " entries; the data has " + std::to_string(data.num_classes) +
                                 " classes");
        }
        return {data.num_classes, data.target_shape[0], data.target_shape[1]};
    }

    Outcome outcome(const torch::Tensor& logits, const torch::Tensor& labels) const override {
        const torch::Tensor log_probs = torch::log_softmax(logits, 1);
        Outcome out;
        out.losses = pixel_losses(log_probs, labels).mean({1, 2});
        torch::NoGradGuard no_grad;
        const torch::Tensor detached = log_probs.detach();
        const auto [top, predicted] = detached.max(1);
        out.confidence = top.exp().mean({1, 2});
        out.correct = iou(predicted, labels, logits.size(1)).ge(m_iou_threshold);
        return out;
    }

    EvalSums evaluate(const torch::Tensor& logits, const torch::Tensor& labels) const override {
        const torch::Tensor log_probs = torch::log_softmax(logits, 1);
        EvalSums sums;
        sums.loss = pixel_losses(log_probs, labels).mean({1, 2}).sum().item<float>();
        sums.metric = iou(log_probs.argmax(1), labels, logits.size(1)).sum().item<double>();
        sums.count = static_cast<double>(labels.size(0));
        return sums;
    }

  private:
    /// weight[label] x -log p(label) per pixel: [B, H, W].
    [[nodiscard]] torch::Tensor pixel_losses(const torch::Tensor& log_probs,
                                             const torch::Tensor& labels) const {
        torch::Tensor nll = torch::nll_loss2d(log_probs, labels, {}, at::Reduction::None);
        if (m_weights.defined()) {
            nll = nll * m_weights.to(nll.device()).index({labels});
        }
        return nll;
    }

    /// Per-sample IoU averaged over classes, float32 [B].
    static torch::Tensor iou(const torch::Tensor& predicted, const torch::Tensor& labels,
                             std::int64_t classes) {
        const torch::Tensor p = predicted.flatten(1);
        const torch::Tensor y = labels.flatten(1);
        torch::Tensor total = torch::zeros({p.size(0)}, torch::kFloat32).to(p.device());
        for (std::int64_t c = 0; c < classes; ++c) {
            const torch::Tensor pc = p.eq(c);
            const torch::Tensor yc = y.eq(c);
            const torch::Tensor inter = pc.logical_and(yc).sum(1).to(torch::kFloat32);
            const torch::Tensor uni = pc.logical_or(yc).sum(1).to(torch::kFloat32);
            total += torch::where(uni.gt(0), inter / uni.clamp_min(1), torch::ones_like(uni));
        }
        return total / static_cast<float>(classes);
    }

    double m_iou_threshold;
    torch::Tensor m_weights; ///< undefined = all 1
};

} // namespace

std::unique_ptr<Task> make_segmentation(const TaskConfig& config, const StatsConfig& /*stats*/) {
    return std::make_unique<Segmentation>(config);
}

} // namespace kakuren::trainer

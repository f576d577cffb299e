// Regression (CosmoFlow): a sample's loss is the mean squared error over its targets; the metric
// its mean absolute error (MAE; its direction: util/metrics.hpp). For hiding: "correct" = MAE <=
// task.tolerance. A regression output has no class probability, so "confidence" is defined as
// max(0, 1 - MAE / tolerance): 1 for an exact prediction, 0 at the tolerance and beyond. Strategies
// that read confidence (kakurenbo, rotate: confidence >= tau) thereby hide a correct sample only
// when its MAE <= (1 - tau) x tolerance.
#include <cstdint>

#include "trainer/task.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

class Regression final : public Task {
  public:
    explicit Regression(const TaskConfig& config) : m_tolerance(config.tolerance) {
        if (!(m_tolerance > 0)) {
            throw UsageError("task.tolerance must be > 0 for task.kind = \"regression\"");
        }
    }

    [[nodiscard]] std::string_view metric_name() const override { return util::metrics::name::mae; }

    [[nodiscard]] std::vector<std::int64_t> output_shape(const DataInfo& data) const override {
        if (data.target_shape.size() != 1) {
            throw RuntimeFailure("task regression needs a vector of targets per sample ([K]); "
                                 "the data's targets have shape " +
                                 c10::str(c10::IntArrayRef(data.target_shape)));
        }
        return data.target_shape;
    }

    Outcome outcome(const torch::Tensor& output, const torch::Tensor& targets) const override {
        Outcome out;
        const torch::Tensor diff = output - targets;
        out.losses = diff.square().mean(1);
        torch::NoGradGuard no_grad;
        const torch::Tensor mae = diff.detach().abs().mean(1);
        out.correct = mae.le(m_tolerance);
        out.confidence = (1.0 - mae / m_tolerance).clamp_min(0.0);
        return out;
    }

    EvalSums evaluate(const torch::Tensor& output, const torch::Tensor& targets) const override {
        const torch::Tensor diff = output - targets;
        EvalSums sums;
        sums.loss = diff.square().mean(1).sum().item<float>();
        sums.metric = diff.abs().mean(1).sum().item<double>();
        sums.count = static_cast<double>(targets.size(0));
        return sums;
    }

  private:
    double m_tolerance;
};

} // namespace

std::unique_ptr<Task> make_regression(const TaskConfig& config, const StatsConfig& /*stats*/) {
    return std::make_unique<Regression>(config);
}

} // namespace kakuren::trainer

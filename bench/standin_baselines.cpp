// Trivial predictors on the CosmoFlow and DeepCAM stand-ins: how far a model that learns nothing
// of the structure gets, against the MLPerf HPC quality targets (MAE <= 0.124, IoU >= 0.82).
// - CosmoFlow: least squares from the 4 per-channel means of log(1 + counts) (plus a constant)
//   to the 4 targets, fitted on the training split, MAE on the test split; and the constant 0.
// - DeepCAM: every pixel predicted background (the majority class), per-sample IoU averaged
//   over the 3 classes (an empty union counts as 1), as the segmentation task measures it.
// Also times the generators (samples per second).
//
// Usage: kakuren_bench_standin_baselines [--cosmoflow-size S] [--deepcam-size S] [--train N]
//        [--test N]
// Prints a table and one JSON object on the last line.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <torch/torch.h>

#include "trainer/data.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

} // namespace

int main(int argc, char** argv) {
    using namespace kakuren::trainer;
    std::int64_t cosmo_size = 16, deepcam_size = 32, train = 1024, test = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view flag = argv[i];
        const std::int64_t value = std::atoll(argv[i + 1]);
        if (flag == "--cosmoflow-size") {
            cosmo_size = value;
        } else if (flag == "--deepcam-size") {
            deepcam_size = value;
        } else if (flag == "--train") {
            train = value;
        } else if (flag == "--test") {
            test = value;
        } else {
            std::fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    torch::set_num_threads(1);
    DataConfig config;
    config.dataset = "synthetic";
    config.synthetic_train = train;
    config.synthetic_test = test;
    config.normalize = false;

    config.synthetic_kind = "cosmoflow";
    config.synthetic_size = static_cast<int>(cosmo_size);
    auto start = Clock::now();
    const DataSplits cosmo = load_data(config);
    const double cosmo_s = seconds_since(start);
    const auto features = [](const torch::Tensor& x) {
        const torch::Tensor means = x.mean({2, 3, 4});
        return torch::cat({means, torch::ones({x.size(0), 1})}, 1).to(torch::kFloat64);
    };
    const torch::Tensor w = std::get<0>(
        torch::linalg_lstsq(features(cosmo.train.images), cosmo.train.labels.to(torch::kFloat64)));
    const double linear_mae =
        (features(cosmo.test.images).matmul(w) - cosmo.test.labels).abs().mean().item<double>();
    const double zero_mae = cosmo.test.labels.abs().mean().item<double>();

    config.synthetic_kind = "deepcam";
    config.synthetic_size = static_cast<int>(deepcam_size);
    start = Clock::now();
    const DataSplits deepcam = load_data(config);
    const double deepcam_s = seconds_since(start);
    const torch::Tensor y = deepcam.test.labels.flatten(1);
    torch::Tensor iou = torch::zeros({y.size(0)}, torch::kFloat64);
    for (std::int64_t c = 0; c < 3; ++c) {
        const torch::Tensor yc = y.eq(c);
        const torch::Tensor pc = torch::full_like(yc, c == 0);
        const torch::Tensor inter = pc.logical_and(yc).sum(1).to(torch::kFloat64);
        const torch::Tensor uni = pc.logical_or(yc).sum(1).to(torch::kFloat64);
        iou += torch::where(uni.gt(0), inter / uni.clamp_min(1), torch::ones_like(uni));
    }
    const double majority_iou = (iou / 3).mean().item<double>();
    const double background = y.eq(0).to(torch::kFloat64).mean().item<double>();

    std::printf("%-10s %-44s %10s %10s\n", "workload", "trivial predictor", "value", "target");
    std::printf("%-10s %-44s %10.4f %10s\n", "cosmoflow", "constant 0 (MAE)", zero_mae, "<= 0.124");
    std::printf("%-10s %-44s %10.4f %10s\n", "cosmoflow", "linear fit on per-channel means (MAE)",
                linear_mae, "<= 0.124");
    std::printf("%-10s %-44s %10.4f %10s\n", "deepcam", "majority class per pixel (IoU)",
                majority_iou, ">= 0.82");
    std::printf("generation: cosmoflow %lldx4x%lld^3 %.0f samples/s, deepcam %lldx%lldx16 %.0f "
                "samples/s (1 thread); deepcam background share %.3f\n",
                static_cast<long long>(train + test), static_cast<long long>(cosmo_size),
                static_cast<double>(train + test) / cosmo_s, static_cast<long long>(deepcam_size),
                static_cast<long long>(deepcam_size), static_cast<double>(train + test) / deepcam_s,
                background);
    std::printf(
        "{\"cosmoflow_size\": %lld, \"deepcam_size\": %lld, \"train\": %lld, \"test\": %lld, "
        "\"cosmoflow_zero_mae\": %.6f, \"cosmoflow_linear_mae\": %.6f, "
        "\"deepcam_majority_iou\": %.6f, \"deepcam_background_share\": %.6f, "
        "\"cosmoflow_samples_per_s\": %.1f, \"deepcam_samples_per_s\": %.1f}\n",
        static_cast<long long>(cosmo_size), static_cast<long long>(deepcam_size),
        static_cast<long long>(train), static_cast<long long>(test), zero_mae, linear_mae,
        majority_iou, background, static_cast<double>(train + test) / cosmo_s,
        static_cast<double>(train + test) / deepcam_s);
    return 0;
}

// run.device, run.precision and run.memory_format. The CPU tests run everywhere; the CUDA tests
// (label gpu, scripts/gpu-check.sh) skip with a message on a machine without a GPU or with a
// CPU-only LibTorch.
#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/trainer/dist_common.hpp"
#include "trainer/checkpoint_io.hpp"
#include "trainer/device.hpp"
#include "trainer/trainer.hpp"
#include "util/error.hpp"
#include "util/mllog.hpp"

#include <torch/torch.h>

namespace kakuren::trainer {
namespace {

using checkpoint::Resume;
using checkpoint::Snapshot;

Config small_config() {
    Config c = dist_test_config();
    c.data.synthetic_noise = DataConfig{}.synthetic_noise;
    c.checkpoint.reset();
    return c;
}

/// A CNN on 16x16 images: the convolutional path (channels-last, autocast of convolutions).
Config conv_config() {
    Config c = small_config();
    c.data.synthetic_size = 16;
    c.model.kind = "cnn";
    c.model.channels = {8, 16};
    c.model.fc = 32;
    return c;
}

std::string usage_error(const Config& c) {
    try {
        check_model(c);
    } catch (const UsageError& e) {
        return e.what();
    }
    return "(no usage error)";
}

bool has_gpu() {
    return torch::cuda::is_available();
}

#define REQUIRE_GPU()                                                                              \
    do {                                                                                           \
        if (!has_gpu()) {                                                                          \
            GTEST_SKIP() << "no GPU visible to this LibTorch (" << (torch::cuda::device_count())   \
                         << " devices): the CUDA path is checked by scripts/gpu-check.sh on a "    \
                            "GPU machine";                                                         \
        }                                                                                          \
    } while (0)

class Collect : public Observer {
  public:
    void on_epoch(const EpochResult& r) override {
        accuracy.push_back(r.test_accuracy);
        loss.assign(r.stats.loss.begin(), r.stats.loss.end());
        hidden.push_back(r.hidden);
    }
    void on_checkpoint(const Snapshot& s) override {
        checkpoints.push_back(to_resume(s));
        if (stop_after_checkpoints > 0 &&
            static_cast<int>(checkpoints.size()) == stop_after_checkpoints) {
            stop.store(true);
        }
    }
    std::vector<double> accuracy;
    std::vector<float> loss;
    std::vector<std::int64_t> hidden;
    std::vector<Resume> checkpoints;
    int stop_after_checkpoints = 0;
    std::atomic<bool> stop{false};
};

Summary train_with(const Config& c, Collect& collect, const Resume* resume = nullptr) {
    util::MlLog none;
    return train(c, collect, none, &collect.stop, resume);
}

TEST(Device, CudaWithoutAGpuIsRefusedNamingWhy) {
    if (has_gpu()) {
        GTEST_SKIP() << "this machine has a GPU: the refusal needs one without";
    }
    for (const std::string device : {"cuda", "cuda:0", "cuda:3"}) {
        Config c = small_config();
        c.device.device = device;
        const std::string error = usage_error(c);
        EXPECT_EQ(error.rfind("run.device = \"" + device + "\": ", 0), 0U) << error;
        // Either reason, named: a CPU-only LibTorch, or a CUDA LibTorch that finds no GPU.
        const bool cpu_only = error.find("without CUDA") != std::string::npos;
        const bool no_gpu = error.find("no GPU is visible") != std::string::npos;
        EXPECT_TRUE(cpu_only != no_gpu) << error;
        EXPECT_EQ(cpu_only, !build_info().torch_cuda) << error;
    }
}

TEST(Device, Fp16WithoutAGpuIsRefused) {
    if (has_gpu()) {
        GTEST_SKIP() << "this machine has a GPU";
    }
    Config c = small_config();
    c.device.precision = "fp16";
    EXPECT_EQ(usage_error(c).rfind("run.precision = \"fp16\" needs a GPU", 0), 0U)
        << usage_error(c);
}

TEST(Device, AutoTrainsOnTheCpuWithoutAGpuExactlyAsCpu) {
    if (has_gpu()) {
        GTEST_SKIP() << "this machine has a GPU: auto picks it";
    }
    Config a = small_config();
    a.device.device = "auto";
    Config b = small_config();
    b.device.device = "cpu";
    Collect ca, cb;
    const Summary sa = train_with(a, ca);
    const Summary sb = train_with(b, cb);
    EXPECT_EQ(sa.model_digest, sb.model_digest);
    EXPECT_EQ(ca.accuracy, cb.accuracy);
}

TEST(Device, Bf16OnTheCpuLearnsAndKeepsStatisticsInFp32) {
    Config c = conv_config();
    c.device.device = "cpu";
    c.device.precision = "bf16";
    Collect bf16;
    const Summary s = train_with(c, bf16);
    c.device.precision = "fp32";
    Collect fp32;
    const Summary s32 = train_with(c, fp32);
    EXPECT_NE(s.model_digest, s32.model_digest) << "bf16 autocast changed nothing";
    // The synthetic problem is easy: both learn it (4 classes, chance 0.25).
    EXPECT_GT(bf16.accuracy.back(), 0.8);
    EXPECT_NEAR(bf16.accuracy.back(), fp32.accuracy.back(), 0.1);
    ASSERT_FALSE(bf16.loss.empty());
    // fp32 statistics: a bf16 loss has only 8 significant bits; fp32 ones carry more.
    int finer = 0;
    for (const float l : bf16.loss) {
        const float rounded =
            torch::tensor(l).to(torch::kBFloat16).to(torch::kFloat32).item<float>();
        finer += rounded != l ? 1 : 0;
    }
    EXPECT_GT(finer, 0) << "per-sample losses look rounded to bf16";
}

TEST(Device, ChannelsLastTrainsTheSameModelWithinRounding) {
    Config c = conv_config();
    c.device.device = "cpu";
    c.device.memory_format = "contiguous";
    Collect dense;
    train_with(c, dense);
    c.device.memory_format = "channels_last";
    Collect last;
    train_with(c, last);
    ASSERT_EQ(dense.accuracy.size(), last.accuracy.size());
    EXPECT_NEAR(dense.accuracy.back(), last.accuracy.back(), 0.05);
}

TEST(Device, ACheckpointFromAnotherPlatformIsNamedOnResume) {
    const Device device(DeviceConfig{"cpu", "fp32", "auto", false}, 1);
    Resume same;
    same.files["platform.txt"] = platform_text(device);
    EXPECT_FALSE(platform_change(same, device).has_value());
    Resume none; // written before platforms were recorded
    EXPECT_FALSE(platform_change(none, device).has_value());
    Resume other;
    const BuildInfo build = build_info();
    other.files["platform.txt"] = "libtorch 0.9.9\ndevice cuda:0 (NVIDIA H100)\ncpu " +
                                  build.cpu_capability + "\nprecision bf16\n";
    EXPECT_EQ(platform_change(other, device),
              "libtorch 0.9.9 -> " + build.torch_version +
                  "; device cuda:0 (NVIDIA H100) -> cpu; precision bf16 -> fp32");
}

// --- CUDA (label gpu): skipped without a GPU --------------------------------------------------

TEST(Gpu, TrainsOnCudaAsOnTheCpuWithinNoise) {
    REQUIRE_GPU();
    Config c = conv_config();
    c.device.device = "cpu";
    Collect cpu;
    train_with(c, cpu);
    c.device.device = "cuda";
    Collect gpu;
    const Summary s = train_with(c, gpu);
    EXPECT_EQ(s.epochs_done, c.schedule.epochs);
    EXPECT_NEAR(gpu.accuracy.back(), cpu.accuracy.back(), 0.05);
}

TEST(Gpu, KilledAndResumedOnCudaEndsBitIdenticalWithDeterministicAlgorithms) {
    REQUIRE_GPU();
    Config c = conv_config();
    c.device.device = "cuda";
    c.device.deterministic = true;
    checkpoint::Config k;
    k.every_steps = 5;
    c.checkpoint = k;
    Collect whole;
    train_with(c, whole);
    ASSERT_FALSE(whole.checkpoints.empty());
    Collect first;
    first.stop_after_checkpoints = 3;
    ASSERT_TRUE(train_with(c, first).interrupted);
    const Resume from = first.checkpoints.back();
    Collect second;
    train_with(c, second, &from);
    const Resume& a = whole.checkpoints.back();
    const Resume& b = second.checkpoints.back();
    for (const auto& [name, bytes] : a.files) {
        EXPECT_TRUE(b.files.at(name) == bytes) << name << " differs";
    }
    EXPECT_TRUE(std::ranges::equal(a.stats.loss(), b.stats.loss()));
    EXPECT_EQ(a.hidden_ids, b.hidden_ids);
}

TEST(Gpu, Bf16AndFp16TrainOnCuda) {
    REQUIRE_GPU();
    for (const std::string precision : {"bf16", "fp16"}) {
        Config c = conv_config();
        c.device.device = "cuda";
        c.device.precision = precision;
        Collect collect;
        const Summary s = train_with(c, collect);
        EXPECT_EQ(s.epochs_done, c.schedule.epochs) << precision;
        EXPECT_GT(collect.accuracy.back(), 0.8) << precision;
    }
}

} // namespace
} // namespace kakuren::trainer

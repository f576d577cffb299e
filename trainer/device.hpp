#pragma once
// Where tensors live and how the process computes: the CPU or one GPU (run.device), the
// precision of the forward pass (run.precision: autocast), the memory format of image batches
// (run.memory_format), deterministic algorithms, thread pools, allocator tuning and every
// random-number generator a checkpoint must carry. No other file of the trainer touches thread
// pools, autocast, CUDA or generator state. Private to trainer/ (torch).
#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// What this build of the trainer runs on, for records and checks.
struct BuildInfo {
    std::string torch_version;  ///< "1.13.1", "2.11.0"
    bool torch_cuda = false;    ///< the LibTorch was built with CUDA
    std::string cuda_version;   ///< of the LibTorch's CUDA build; empty without
    int gpus = 0;               ///< GPUs visible to this process
    std::string cpu_capability; ///< ATen's kernel level: "DEFAULT", "AVX2", "AVX512"
};
BuildInfo build_info();
/// "1.13", "2.11": the LibTorch release, for messages.
std::string torch_release();

class Device {
  public:
    /// Resolves config.device (auto: the GPU of local_rank when this LibTorch has CUDA and one is
    /// visible, else the CPU) and sets up the process: `threads` intra-op threads (<= 0: the CPUs
    /// of the allocation), deterministic algorithms, glibc malloc's mmap/trim thresholds (once).
    /// Throws UsageError (exit 2) for cuda without a GPU, or on a LibTorch built without CUDA,
    /// naming which; for a precision the device cannot run (fp16 on the CPU).
    Device(const DeviceConfig& config, int threads, int local_rank = 0);

    [[nodiscard]] torch::Device torch_device() const { return m_device; }
    [[nodiscard]] bool is_cuda() const { return m_device.is_cuda(); }
    [[nodiscard]] int threads() const { return m_threads; }
    /// "cpu" or "cuda:0 (NVIDIA H100 80GB HBM3)" for records and output.
    [[nodiscard]] const std::string& name() const { return m_name; }
    /// "<nodes>xCPU-<threads>c" or "<nodes>x<GPU name>" for the MLPerf platform record.
    [[nodiscard]] std::string platform(int num_nodes) const;
    [[nodiscard]] const std::string& precision() const { return m_config.precision; }
    /// fp16: the loss is scaled before backward (a dynamic loss scale, as torch.amp.GradScaler).
    [[nodiscard]] bool scales_loss() const { return m_config.precision == "fp16"; }
    /// Whether 4-D input batches go channels-last (run.memory_format; auto: see device.cpp).
    [[nodiscard]] bool channels_last() const { return m_channels_last; }

    /// A host batch on the device, in the run's memory format: non-blocking from pinned memory.
    [[nodiscard]] torch::Tensor to_device(const torch::Tensor& host) const;
    /// Whether batches should be read into pinned host memory (a GPU run).
    [[nodiscard]] bool pin_batches() const { return m_device.is_cuda(); }

    /// Autocast to the run's precision while alive (nothing for fp32). Thread-local.
    class Autocast {
      public:
        explicit Autocast(const Device& device);
        ~Autocast();
        Autocast(const Autocast&) = delete;
        Autocast& operator=(const Autocast&) = delete;

      private:
        bool m_on = false;
        c10::DeviceType m_type = c10::DeviceType::CPU;
        bool m_was_enabled = false;
        c10::ScalarType m_was_dtype = c10::ScalarType::Float;
    };

    /// Seeds every generator the trainer draws from (initialisation, dropout, augmentation).
    static void seed(std::uint64_t seed);
    /// Every generator's state (the CPU's and this device's GPU's), for a checkpoint (rng.pt);
    /// restore_rng puts it back.
    void save_rng(torch::serialize::OutputArchive& out) const;
    /// Throws c10::Error when the archive has no generator state of this device.
    void restore_rng(torch::serialize::InputArchive& in) const;

  private:
    DeviceConfig m_config;
    torch::Device m_device = torch::kCPU;
    std::string m_name = "cpu";
    int m_threads = 1;
    bool m_channels_last = false;
};

} // namespace kakuren::trainer

#pragma once
// Where tensors live and how the process computes: CPU today. The one place that will know
// CUDA, the dtype policy and every random-number generator a checkpoint must carry; no other
// file of the trainer touches thread pools, allocator tuning or generator state. Private to
// trainer/ (torch).
#include <cstdint>
#include <string>

#include <torch/torch.h>

namespace kakuren::trainer {

class Device {
  public:
    /// The CPU with `threads` intra-op threads (<= 0: the CPUs of the allocation). Process-wide
    /// effects: sets LibTorch's thread counts, and fixes glibc malloc's mmap/trim thresholds once
    /// (32 MiB / 1 GiB) so that each step's activations reuse heap memory.
    explicit Device(int threads);

    [[nodiscard]] torch::Device torch_device() const { return torch::kCPU; }
    [[nodiscard]] int threads() const { return m_threads; }
    /// "CPU-<threads>c" for the MLPerf platform record.
    [[nodiscard]] std::string platform(int num_nodes) const;

    /// Seeds every generator the trainer draws from (initialisation, dropout, augmentation).
    static void seed(std::uint64_t seed);
    /// Every generator's state, for a checkpoint (rng.pt); restore_rng puts it back.
    void save_rng(torch::serialize::OutputArchive& out) const;
    /// Throws c10::Error when the archive has no generator state of this device.
    void restore_rng(torch::serialize::InputArchive& in) const;

  private:
    int m_threads = 1;
};

} // namespace kakuren::trainer

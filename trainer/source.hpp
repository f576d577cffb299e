#pragma once
// Where samples come from. A SampleSource knows how many samples a split has, their shapes, and
// reads any list of sample ids into a batch; the training loop asks only for the ids it trains
// (a hidden sample is never read). A Prefetcher walks one pass's visiting order batch by batch.
// Private to trainer/ (torch).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// A batch of samples: inputs [B, sample shape...] (float32) and targets [B, target shape...]
/// (int64 class ids for classification), in host memory (pinned when training on a GPU); the
/// step engine moves them to the device.
struct Batch {
    torch::Tensor inputs, targets;
    [[nodiscard]] std::int64_t size() const { return targets.defined() ? targets.size(0) : 0; }
};

/// Memory that successive reads may reuse instead of allocating (one per reading site).
struct BatchBuffer {
    torch::Tensor inputs = torch::empty({0}, torch::kFloat32);
    torch::Tensor targets = torch::empty({0}, torch::kInt64);
    /// A GPU run's buffers: page-locked host memory, so that the copy to the device can be
    /// non-blocking. The Prefetcher's reader threads pin the batches they read for it too.
    static BatchBuffer pinned() {
        const auto pin = torch::TensorOptions().pinned_memory(true);
        return {torch::empty({0}, pin.dtype(torch::kFloat32)),
                torch::empty({0}, pin.dtype(torch::kInt64))};
    }
    [[nodiscard]] bool is_pinned() const { return inputs.is_pinned(); }
};

class SampleSource {
  public:
    virtual ~SampleSource() = default;
    /// Number of samples.
    [[nodiscard]] virtual std::int64_t size() const = 0;
    /// Shape of one sample's input ([C, H, W] for images) and target ({} for a class id).
    [[nodiscard]] virtual std::vector<std::int64_t> sample_shape() const = 0;
    [[nodiscard]] virtual std::vector<std::int64_t> target_shape() const = 0;
    /// Reads the samples `ids` (int64 [B], any order, repeats allowed). The batch may view
    /// `buffer`: it stays valid until the next read into the same buffer. Throws RuntimeFailure
    /// naming the file and sample when a sample cannot be read.
    virtual Batch read(const torch::Tensor& ids, BatchBuffer& buffer) const = 0;
    /// read() for the training pass of `epoch`: with the source's training augmentation, if it
    /// has one (images: data.random_crop, data.hflip), drawn from (seed, epoch, sample id).
    virtual Batch read_for_training(const torch::Tensor& ids, BatchBuffer& buffer,
                                    std::int64_t /*epoch*/) const {
        return read(ids, buffer);
    }
    /// Reads samples [begin, begin + count) in order; the batch may view the source's memory.
    virtual Batch read_range(std::int64_t begin, std::int64_t count) const = 0;
    /// Threads a Prefetcher may use to read batches ahead of the step (0: read when asked, as
    /// in-memory sources do), and how many batches ahead at most.
    [[nodiscard]] virtual int reader_threads() const { return 0; }
    [[nodiscard]] virtual int prefetch_batches() const { return 0; }
    /// Bytes read from storage since the source was opened by this process (0 for a source held
    /// in memory: it read its files once when opened). Safe to call while readers run.
    [[nodiscard]] virtual std::uint64_t bytes_read() const { return 0; }
    /// Whether samples are read from storage as they are asked for (bytes_read() counts them).
    [[nodiscard]] virtual bool streams() const { return false; }
};

/// What the model and the MLPerf records need to know of a data set.
struct DataInfo {
    std::int64_t num_classes = 0; ///< classes of class ids (per sample or per pixel); 0 = none
    std::int64_t channels = 0, height = 0, width = 0;
    double mean = 0.0, std = 1.0; ///< normalisation applied to both splits (0 / 1 when off)
    /// One sample's input ([C, H, W], [C, D, H, W]) and target ({} for a class id, [H, W] for a
    /// mask, [K] for regression targets) shapes.
    std::vector<std::int64_t> sample_shape, target_shape;
};

struct Sources {
    std::unique_ptr<SampleSource> train, test;
    DataInfo info;
};

/// Opens config.dataset's two splits (registry: fashion-mnist and idx: IDX files in memory;
/// synthetic: the generated problem; npy and hdf5: streamed from disk, trainer/stream.hpp). Throws
/// RuntimeFailure (files, shapes), UsageError for an unknown data set.
Sources open_sources(const DataConfig& config);

/// Reads one pass over `ids` (this rank's share of a phase's visiting order) in batches of
/// `batch_size` entries. With a source that has reader threads, they read the batches in the
/// pass's order ahead of the step, at most source.prefetch_batches() ahead of the last batch
/// asked for (a bounded queue), starting at the first step read() is asked for (a resumed pass
/// starts mid-way); only the ids of the pass are read. A read that failed throws from read() of
/// that step. Otherwise reads synchronously into `buffer`. `train_epoch` set: the pass trains in
/// that epoch and reads with the training augmentation (SampleSource::read_for_training).
class Prefetcher {
  public:
    Prefetcher(const SampleSource& source, std::span<const std::int64_t> ids,
               std::int64_t batch_size, BatchBuffer& buffer,
               std::optional<std::int64_t> train_epoch = std::nullopt);
    ~Prefetcher();
    Prefetcher(const Prefetcher&) = delete;
    Prefetcher& operator=(const Prefetcher&) = delete;
    /// Entries of batch `step` (0 once the share ran out: a rank with a shorter share).
    [[nodiscard]] std::int64_t length(std::int64_t step) const;
    /// The ids of batch `step` (a view of the list).
    [[nodiscard]] torch::Tensor ids(std::int64_t step) const;
    /// Batch `step`; an empty Batch when length(step) == 0. Valid until the next read.
    Batch read(std::int64_t step);

  private:
    Batch fetch(const torch::Tensor& ids, BatchBuffer& buffer) const;
    struct Pool;
    const SampleSource& m_source;
    torch::Tensor m_ids;
    std::int64_t m_batch_size;
    BatchBuffer& m_buffer;
    std::optional<std::int64_t> m_train_epoch;
    std::unique_ptr<Pool> m_pool; ///< the reader threads, started by the first read()
};

} // namespace kakuren::trainer

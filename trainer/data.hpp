#pragma once
// Data sets for the trainer: IDX files (gzipped or raw) and a synthetic classification problem.
// Private to trainer/ (includes torch); other modules see only trainer/trainer.hpp.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// One split in memory: images float32 [N, C, H, W] (contiguous), labels int64 [N].
struct Dataset {
    torch::Tensor images;
    torch::Tensor labels;
    std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

struct DataSplits {
    Dataset train, test;
    std::int64_t num_classes = 0;
    std::int64_t channels = 0, height = 0, width = 0;
    double mean = 0.0, std = 1.0; ///< normalisation applied to both splits (0 / 1 when off)
};

/// Raw IDX content: pixels as bytes [count, rows, cols] or labels [count].
struct IdxImages {
    std::int64_t total = 0;                     ///< count in the file's header
    std::int64_t count = 0, rows = 0, cols = 0; ///< count: images read (limit applied)
    std::vector<std::uint8_t> pixels;
};
struct IdxLabels {
    std::int64_t total = 0; ///< count in the file's header
    std::int64_t count = 0; ///< labels read (limit applied)
    std::vector<std::uint8_t> labels;
};

/// Reads an IDX3 ubyte image file (magic 2051), gzipped or raw. Reads only the first `limit`
/// images when limit > 0. Throws RuntimeFailure "cannot read <file>: <why>" or
/// "<file>: not an IDX image file (magic ...)".
IdxImages read_idx_images(const std::filesystem::path& file, std::int64_t limit = 0);
/// Reads an IDX1 ubyte label file (magic 2049); same conventions as read_idx_images.
IdxLabels read_idx_labels(const std::filesystem::path& file, std::int64_t limit = 0);

/// Loads config.dataset ("fashion-mnist" / "idx": the four files; "synthetic": generated),
/// applies the limits and the normalisation. Throws RuntimeFailure.
DataSplits load_data(const DataConfig& config);

/// The synthetic problem alone (deterministic, independent of any run seed), unnormalised.
DataSplits make_synthetic(const DataConfig& config);

} // namespace kakuren::trainer

#pragma once
// Streaming sources: data sets read from disk sample by sample as the passes visit them, never
// loaded whole (data.dataset npy and hdf5). A format supplies a RawReader (where sample i's
// bytes are, and how to copy them out); StreamSource turns raw samples into batches (the cast
// to float, data.transform, the normalisation) and counts the bytes it read. Private to
// trainer/ (torch).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trainer/source.hpp"
#include "util/npy.hpp"

namespace kakuren::trainer {

/// The on-disk layout of one sample of a split.
struct RawLayout {
    util::NpyType input_type = util::NpyType::u8, target_type = util::NpyType::u8;
    std::vector<std::int64_t> input_shape, target_shape; ///< per sample, as stored
    bool channels_last = false; ///< input stored [H, W, C]; batches are [C, H, W]
    [[nodiscard]] std::size_t input_bytes() const;
    [[nodiscard]] std::size_t target_bytes() const;
};

/// One split of a data set on disk, in its format.
class RawReader {
  public:
    virtual ~RawReader() = default;
    /// Samples in the split.
    [[nodiscard]] virtual std::int64_t size() const = 0;
    [[nodiscard]] virtual const RawLayout& layout() const = 0;
    /// Copies sample `id`'s input (layout().input_bytes()) to `input` and its target to
    /// `target`, as stored (element type of the layout, C order). Returns the bytes read from
    /// storage for it. Safe to call from several threads at once. Throws RuntimeFailure naming
    /// the file and the sample id when the sample cannot be read or does not match the layout.
    virtual std::uint64_t read(std::int64_t id, std::byte* input, std::byte* target) const = 0;
    /// Reads samples ids[0], ..., ids[count - 1] (in range; repeats allowed) into consecutive
    /// slots of `inputs` and `targets`, as read() would one by one, and returns the bytes read.
    /// Same threading and errors as read(). This default calls read() per sample; a format with
    /// a cheaper way to read many samples at once overrides it.
    virtual std::uint64_t read_batch(const std::int64_t* ids, std::int64_t count, std::byte* inputs,
                                     std::byte* targets) const {
        const std::size_t in = layout().input_bytes(), tg = layout().target_bytes();
        std::uint64_t bytes = 0;
        for (std::int64_t i = 0; i < count; ++i) {
            const auto at = static_cast<std::size_t>(i);
            bytes += read(ids[i], inputs + at * in, targets + at * tg);
        }
        return bytes;
    }
    /// "data.train" or "/path/to/file": the split, for messages.
    [[nodiscard]] virtual std::string name() const = 0;
};

/// How raw inputs become the model's float32 inputs: cast (uint8 pixels are divided by 255, as
/// the IDX reader and torchvision do; other types keep their values), then transform
/// ("none" | "log1p"), then normalisation: (x - shift) * scale with one value for all channels
/// (shift.size() == 1) or one per channel.
struct Decoding {
    std::string transform = "none";
    std::vector<double> shift, scale; ///< empty = no normalisation
};

/// A SampleSource over a RawReader: reads only the ids it is asked for, counts the bytes, and
/// lets the Prefetcher read ahead with `reader_threads` threads, `prefetch_batches` deep.
class StreamSource final : public SampleSource {
  public:
    StreamSource(std::unique_ptr<RawReader> reader, std::int64_t limit, Decoding decoding,
                 int reader_threads, int prefetch_batches);
    [[nodiscard]] std::int64_t size() const override { return m_size; }
    [[nodiscard]] std::vector<std::int64_t> sample_shape() const override;
    [[nodiscard]] std::vector<std::int64_t> target_shape() const override;
    Batch read(const torch::Tensor& ids, BatchBuffer& buffer) const override;
    Batch read_range(std::int64_t begin, std::int64_t count) const override;
    [[nodiscard]] int reader_threads() const override { return m_reader_threads; }
    [[nodiscard]] int prefetch_batches() const override { return m_prefetch_batches; }
    [[nodiscard]] std::uint64_t bytes_read() const override { return m_bytes.load(); }
    [[nodiscard]] bool streams() const override { return true; }

    [[nodiscard]] const RawReader& reader() const { return *m_reader; }
    void set_decoding(Decoding decoding) { m_decoding = std::move(decoding); }
    /// Raw inputs of samples [begin, begin + count) as stored, without counting the bytes
    /// (normalisation statistics, checks).
    [[nodiscard]] torch::Tensor read_raw_inputs(std::int64_t begin, std::int64_t count) const;
    /// Targets of samples [begin, begin + count) as stored (class counts), not counted.
    [[nodiscard]] torch::Tensor read_raw_targets(std::int64_t begin, std::int64_t count) const;

  private:
    /// Reads ids into raw tensors of the stored types; returns the bytes read.
    std::uint64_t read_raw(const std::int64_t* ids, std::int64_t count, torch::Tensor& inputs,
                           torch::Tensor& targets) const;
    [[nodiscard]] torch::Tensor decode(const torch::Tensor& raw) const;

    std::unique_ptr<RawReader> m_reader;
    std::int64_t m_size;
    Decoding m_decoding;
    int m_reader_threads, m_prefetch_batches;
    mutable std::atomic<std::uint64_t> m_bytes{0};
};

/// torch's element type for a stored type.
torch::ScalarType torch_type(util::NpyType type);

/// data.dataset = "npy": data.train / data.test are folders holding data.npy + targets.npy
/// (one array per split) or files_data.lst + files_label.lst (one .npy per sample). Throws
/// RuntimeFailure naming the file.
std::unique_ptr<RawReader> open_npy_split(const std::string& folder, const std::string& key);

/// data.dataset = "hdf5": a .h5 file with datasets data_key / target_key [N, ...], or a folder
/// of per-sample DeepCAM files (climate/data, climate/labels_0; stats.h5 beside or above).
std::unique_ptr<RawReader> open_hdf5_split(const std::string& path, const std::string& key,
                                           const std::string& data_key,
                                           const std::string& target_key);
/// The DeepCAM per-channel normalisation of a per-sample HDF5 folder: shift = minval, scale =
/// 1 / (maxval - minval) from its stats.h5 (as the MLPerf HPC reference normalises); nullopt for
/// a single-file split.
std::optional<Decoding> hdf5_split_normalisation(const std::string& path);

/// Writes an HDF5 file with the datasets "data" (uint8, `shape`) and "targets" (uint8
/// [shape[0]]) (kakuren data convert). Throws RuntimeFailure naming the file.
void write_hdf5_arrays(const std::filesystem::path& file, const std::vector<std::int64_t>& shape,
                       const std::vector<std::uint8_t>& data,
                       const std::vector<std::uint8_t>& targets);

/// Opens one split of config's format (npy or hdf5) at path: its headers only, no sample is
/// read. `key` ("data.train") names it in messages. Throws RuntimeFailure naming the file.
std::unique_ptr<RawReader> open_stream_split(const DataConfig& config, const std::string& path,
                                             const std::string& key);
/// Throws RuntimeFailure naming both files unless train's and test's samples and targets have
/// the same shapes and layout, and both have class ids or both values as targets.
void check_splits_agree(const RawReader& train, const RawReader& test);
/// A streaming split's shapes as the model sees them, reading no sample: num_classes is 3 for a
/// DeepCAM folder (`deepcam`), 2 (the least; open_stream_sources counts the real number) for
/// other integer targets, 0 for value targets; no normalisation.
DataInfo stream_shapes(const StreamSource& train, bool deepcam);

/// Opens config's two streaming splits (npy, hdf5) as Sources.
Sources open_stream_sources(const DataConfig& config);

} // namespace kakuren::trainer

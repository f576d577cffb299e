#pragma once
// Streaming sources: data sets read from disk sample by sample as the passes visit them, never
// loaded whole (data.dataset npy, hdf5 and images). A format supplies a RawReader (where sample i's
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

#include "trainer/image_decode.hpp"
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
    /// Copies the targets alone of samples [begin, begin + count) (in range) to consecutive
    /// slots of `targets` (layout().target_bytes() each): class counts and checks read no
    /// input. Same threading and errors as read(). This default reads each whole sample; a
    /// format that can read targets alone overrides it.
    virtual void read_targets(std::int64_t begin, std::int64_t count, std::byte* targets) const;
    /// "data.train" or "/path/to/file": the split, for messages.
    [[nodiscard]] virtual std::string name() const = 0;
    /// Where sample `id`'s target is stored, for messages ("/path/targets.npy", "/path/y3.npy",
    /// "/path/train.h5:/targets"): name() unless the format knows better.
    [[nodiscard]] virtual std::string target_name(std::int64_t /*id*/) const { return name(); }
    /// The file that holds sample `id` alone (an image, a per-sample .npy), for listings such
    /// as `kakuren hidden`; "" when samples share a file (an array file, an HDF5 file).
    [[nodiscard]] virtual std::string sample_file(std::int64_t /*id*/) const { return ""; }
    /// Classes known without reading the samples (images: the class folders); 0 = count them
    /// from the targets.
    [[nodiscard]] virtual std::int64_t num_classes() const { return 0; }
};

/// Training-time augmentation of raw image samples (uint8 [H, W, C], channels last), drawn from
/// (seed, epoch, sample id) alone: every rank, and a resumed run, draws the same for a sample.
/// `pad` > 0: torchvision's RandomCrop(size, padding=pad): pad every side with `pad` zero
/// pixels, then crop H x W back at a random offset. `hflip`: mirror left-right with probability
/// 0.5 (after the crop, as RandomCrop then RandomHorizontalFlip).
struct Augmentation {
    int pad = 0;
    bool hflip = false;
    std::uint64_t seed = 1;
    [[nodiscard]] bool active() const { return pad > 0 || hflip; }
};

/// One sample's draws: the crop's offsets into the padded image (0..2 pad) and the flip.
struct AugmentDraw {
    int dy = 0, dx = 0;
    bool flip = false;
};
AugmentDraw augment_draw(const Augmentation& augmentation, std::int64_t epoch, std::int64_t id);

/// Applies the draws to `count` raw uint8 samples [count, H, W, C] (channels last) in place.
void augment_raw(const Augmentation& augmentation, std::int64_t epoch, const std::int64_t* ids,
                 std::int64_t count, std::int64_t height, std::int64_t width, std::int64_t channels,
                 std::uint8_t* pixels);

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
    Batch read_for_training(const torch::Tensor& ids, BatchBuffer& buffer,
                            std::int64_t epoch) const override;
    Batch read_range(std::int64_t begin, std::int64_t count) const override;
    [[nodiscard]] int reader_threads() const override { return m_reader_threads; }
    [[nodiscard]] int prefetch_batches() const override { return m_prefetch_batches; }
    [[nodiscard]] std::uint64_t bytes_read() const override { return m_bytes.load(); }
    [[nodiscard]] bool streams() const override { return true; }

    [[nodiscard]] const RawReader& reader() const { return *m_reader; }
    void set_decoding(Decoding decoding) { m_decoding = std::move(decoding); }
    /// The augmentation read_for_training() applies (images only: uint8 channels-last samples).
    void set_augmentation(const Augmentation& augmentation) { m_augmentation = augmentation; }
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
    Batch read_ids(const torch::Tensor& ids, std::optional<std::int64_t> epoch) const;

    std::unique_ptr<RawReader> m_reader;
    std::int64_t m_size;
    Decoding m_decoding;
    Augmentation m_augmentation;
    int m_reader_threads, m_prefetch_batches;
    mutable std::atomic<std::uint64_t> m_bytes{0};
};

/// The most classes a classification data set may have: class ids are 0 .. k_max_classes - 1.
/// Far above any label set in use (ImageNet-21k has 21,841), and a classifier's output layer
/// of that width still fits in memory: a larger id is a corrupt or foreign target file (an id
/// of 10^12 asked LibTorch for 64 TB). The error that refuses one states the limit.
inline constexpr std::int64_t k_max_classes = 100'000;

/// Largest class id + 1 in `targets` (integer, one row per sample: samples first, first + 1,
/// ... of `reader`); 0 when empty. Throws RuntimeFailure naming reader.target_name() and the
/// first sample with a negative class id or one of k_max_classes or more.
std::int64_t count_class_ids(const torch::Tensor& targets, std::int64_t first,
                             const RawReader& reader);

/// count_class_ids over the targets of samples [0, count) of `reader`, read with read_targets()
/// (no input is read), in chunks. Throws as count_class_ids, or as read_targets.
std::int64_t count_classes(const RawReader& reader, std::int64_t count);

/// torch's element type for a stored type.
torch::ScalarType torch_type(util::NpyType type);

/// data.dataset = "npy": data.train / data.test are folders holding data.npy + targets.npy
/// (one array per split) or files_data.lst + files_label.lst (one .npy per sample), or an
/// array file whose targets file is `targets` (data.train_targets; "" for a folder). Throws
/// RuntimeFailure naming the file.
std::unique_ptr<RawReader> open_npy_split(const std::string& folder, const std::string& key,
                                          const std::string& targets = "");

/// data.dataset = "hdf5": a .h5 file with datasets data_key / target_key [N, ...], a folder
/// of per-sample DeepCAM files (climate/data, climate/labels_0; stats.h5 beside or above), or
/// a dataset "FILE:/DATASET" whose targets are the dataset `targets` ("FILE:/DATASET",
/// data.train_targets; "" otherwise). Throws RuntimeFailure naming the file; a missing
/// dataset's message lists the datasets the file holds.
std::unique_ptr<RawReader> open_hdf5_split(const std::string& path, const std::string& key,
                                           const std::string& data_key,
                                           const std::string& target_key,
                                           const std::string& targets = "");
/// The DeepCAM per-channel normalisation of a per-sample HDF5 folder: shift = minval, scale =
/// 1 / (maxval - minval) from its stats.h5 (as the MLPerf HPC reference normalises); nullopt for
/// a single-file split.
std::optional<Decoding> hdf5_split_normalisation(const std::string& path);

/// Writes an HDF5 file with the datasets "data" (uint8, `shape`) and "targets" (uint8
/// [shape[0]]) (kakuren data convert). Throws RuntimeFailure naming the file.
void write_hdf5_arrays(const std::filesystem::path& file, const std::vector<std::int64_t>& shape,
                       const std::vector<std::uint8_t>& data,
                       const std::vector<std::uint8_t>& targets);

/// data.dataset = "images": how every image of a split becomes a sample. height / width 0: the
/// first image's size, which every other must have; else each image is resized to it
/// (bilinear). channels 0: the first image's (1 grey, 3 RGB); 1 or 3: converted to it.
struct ImageOptions {
    std::int64_t height = 0, width = 0;
    std::int64_t channels = 0;
};

/// data.image_size / data.image_channels as ImageOptions (default ones for other data sets).
/// Throws UsageError for a size that is not [height, width] >= 1 or channels not 0, 1 or 3.
ImageOptions image_options(const DataConfig& config);

/// An images split may hold this list of CLASS/FILE paths (one a line): it then sets the order
/// of the samples (kakuren data convert writes the IDX file's order), instead of ImageFolder's
/// (class folders sorted, then the files of each, sorted).
inline constexpr const char* k_image_list = "files.lst";

/// The class folders of an images split, sorted (the class ids, as torchvision's ImageFolder).
/// Throws RuntimeFailure naming `key` and the folder when it is missing or has none.
std::vector<std::string> image_class_folders(const std::string& folder, const std::string& key);

/// data.dataset = "images": `folder` holds a sub-folder per class of .jpg / .jpeg / .png files
/// (other files are ignored); sample targets are indices into `classes` (the training split's
/// class folders). Samples are uint8 [H, W, C]. Throws RuntimeFailure naming the file (and the
/// sample) for a missing folder, an empty class folder, a class the training split lacks, or a
/// first image that cannot be decoded; a bad image later throws when it is read.
std::unique_ptr<RawReader> open_images_split(const std::string& folder, const std::string& key,
                                             const std::vector<std::string>& classes,
                                             const ImageOptions& options);

/// Sample `id` of an images split as stored, before any resize (kakuren data inspect): its
/// height, width and channels (1 grey, 3 colour). Decodes it; throws RuntimeFailure naming the
/// file and the sample as read() does, or when `reader` is not an images split.
struct StoredImage {
    std::int64_t height = 0, width = 0, channels = 0;
};
StoredImage stored_image(const RawReader& reader, std::int64_t id);

/// Opens one split of config's format (npy, hdf5 or images) at path: its headers (images: the
/// file list and the first image) and, for integer targets of npy and single-file hdf5 splits,
/// every target within the split's limit (count_classes: a class id out of range is refused
/// here, before a run is recorded); no input is read. `key` ("data.train") names it in
/// messages; `image` says how images become samples. Throws RuntimeFailure naming the file.
std::unique_ptr<RawReader> open_stream_split(const DataConfig& config, const std::string& path,
                                             const std::string& key,
                                             const ImageOptions& image = {});
/// Throws RuntimeFailure naming both files unless train's and test's samples and targets have
/// the same shapes and layout, and both have class ids or both values as targets.
void check_splits_agree(const RawReader& train, const RawReader& test);
/// A streaming split's shapes as the model sees them, reading no sample: num_classes is 3 for a
/// DeepCAM folder (`deepcam`), the reader's own when it knows it (images: the class folders), 2
/// (the least; open_stream_sources counts the real number) for other integer targets, 0 for
/// value targets; no normalisation.
DataInfo stream_shapes(const StreamSource& train, bool deepcam);

/// Opens config's two streaming splits (npy, hdf5, images) as Sources.
Sources open_stream_sources(const DataConfig& config);

} // namespace kakuren::trainer

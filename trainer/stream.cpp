// StreamSource (raw samples -> batches) and the npy / hdf5 entry of the source registry: opening
// both splits, checking that they agree, the class count and the normalisation statistics.
#include "trainer/stream.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "trainer/data_paths.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/stop.hpp"

namespace kakuren::trainer {
namespace {

std::int64_t product(const std::vector<std::int64_t>& shape) {
    return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
}

std::vector<std::int64_t> with_batch(std::int64_t batch, const std::vector<std::int64_t>& shape) {
    std::vector<std::int64_t> out{batch};
    out.insert(out.end(), shape.begin(), shape.end());
    return out;
}

/// Samples read per chunk when a whole split is scanned at open time (statistics, classes).
constexpr std::int64_t k_scan_chunk = 1024;

} // namespace

std::size_t RawLayout::input_bytes() const {
    return static_cast<std::size_t>(product(input_shape)) * util::npy_type_bytes(input_type);
}

std::size_t RawLayout::target_bytes() const {
    return static_cast<std::size_t>(product(target_shape)) * util::npy_type_bytes(target_type);
}

torch::ScalarType torch_type(util::NpyType type) {
    switch (type) {
    case util::NpyType::i8:
        return torch::kInt8;
    case util::NpyType::u8:
        return torch::kUInt8;
    case util::NpyType::i16:
        return torch::kInt16;
    case util::NpyType::i32:
        return torch::kInt32;
    case util::NpyType::i64:
        return torch::kInt64;
    case util::NpyType::f16:
        return torch::kFloat16;
    case util::NpyType::f32:
        return torch::kFloat32;
    case util::NpyType::f64:
        return torch::kFloat64;
    }
    return torch::kUInt8;
}

StreamSource::StreamSource(std::unique_ptr<RawReader> reader, std::int64_t limit, Decoding decoding,
                           int reader_threads, int prefetch_batches)
    : m_reader(std::move(reader)),
      m_size(limit > 0 ? std::min(limit, m_reader->size()) : m_reader->size()),
      m_decoding(std::move(decoding)), m_reader_threads(std::max(0, reader_threads)),
      m_prefetch_batches(std::max(1, prefetch_batches)) {}

std::vector<std::int64_t> StreamSource::sample_shape() const {
    const RawLayout& l = m_reader->layout();
    const auto& s = l.input_shape;
    if (l.channels_last && s.size() == 3) {
        return {s[2], s[0], s[1]};
    }
    if (s.size() == 2) {
        return {1, s[0], s[1]}; // a grey image: one channel
    }
    return s;
}

std::vector<std::int64_t> StreamSource::target_shape() const {
    return m_reader->layout().target_shape;
}

std::uint64_t StreamSource::read_raw(const std::int64_t* ids, std::int64_t count,
                                     torch::Tensor& inputs, torch::Tensor& targets) const {
    const RawLayout& l = m_reader->layout();
    inputs = torch::empty(with_batch(count, l.input_shape), torch_type(l.input_type));
    targets = torch::empty(with_batch(count, l.target_shape), torch_type(l.target_type));
    auto* in = static_cast<std::byte*>(inputs.data_ptr());
    auto* tg = static_cast<std::byte*>(targets.data_ptr());
    for (std::int64_t i = 0; i < count; ++i) {
        const std::int64_t id = ids[i];
        if (id < 0 || id >= m_size) {
            throw RuntimeFailure(m_reader->name() + ": sample id " + std::to_string(id) +
                                 " is out of range (" + std::to_string(m_size) + " samples)");
        }
    }
    // Straight into the batch's memory: no per-sample tensors, one call per batch.
    return m_reader->read_batch(ids, count, in, tg);
}

torch::Tensor StreamSource::decode(const torch::Tensor& raw) const {
    const RawLayout& l = m_reader->layout();
    // The same operations, in the same order, as the IDX loader applies to the whole split:
    // the batches come out bit-identical to the in-memory ones.
    torch::Tensor x = raw.to(torch::kFloat32);
    if (l.input_type == util::NpyType::u8) {
        x.div_(255.0);
    }
    if (m_decoding.transform == "log1p") {
        x.log1p_();
    }
    if (l.channels_last && x.dim() == 4) {
        x = x.permute({0, 3, 1, 2}).contiguous();
    }
    if (x.dim() == 3 && !l.channels_last && l.input_shape.size() == 2) {
        x = x.unsqueeze(1);
    }
    const auto& shift = m_decoding.shift;
    const auto& scale = m_decoding.scale;
    if (shift.size() == 1 && !(shift[0] == 0.0 && scale[0] == 1.0)) {
        x.sub_(shift[0]).mul_(scale[0]);
    } else if (shift.size() > 1) {
        const auto c = static_cast<std::int64_t>(shift.size());
        std::vector<std::int64_t> shape(static_cast<std::size_t>(x.dim()), 1);
        shape[1] = c;
        const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
        const torch::Tensor s = torch::tensor(shift, opts).to(torch::kFloat32).view(shape);
        const torch::Tensor k = torch::tensor(scale, opts).to(torch::kFloat32).view(shape);
        x.sub_(s).mul_(k);
    }
    return x;
}

AugmentDraw augment_draw(const Augmentation& augmentation, std::int64_t epoch, std::int64_t id) {
    // splitmix64 over (seed, epoch, id): a pure function of the three, cheap, well mixed.
    const auto mix = [](std::uint64_t x) { return util::splitmix64_mix(x); };
    std::uint64_t h = mix(augmentation.seed ^ 0x6B616B7572656E00ULL); // "kakuren"
    h = mix(h ^ static_cast<std::uint64_t>(epoch));
    h = mix(h ^ static_cast<std::uint64_t>(id));
    AugmentDraw d;
    const auto span = static_cast<std::uint64_t>(2 * augmentation.pad + 1);
    if (augmentation.pad > 0) {
        d.dy = static_cast<int>(mix(h ^ 1U) % span);
        d.dx = static_cast<int>(mix(h ^ 2U) % span);
    } else {
        d.dy = d.dx = 0;
    }
    d.flip = augmentation.hflip && (mix(h ^ 3U) >> 63U) != 0U;
    return d;
}

void augment_raw(const Augmentation& augmentation, std::int64_t epoch, const std::int64_t* ids,
                 std::int64_t count, std::int64_t height, std::int64_t width, std::int64_t channels,
                 std::uint8_t* pixels) {
    const auto sample_bytes = static_cast<std::size_t>(height * width * channels);
    std::vector<std::uint8_t> in(sample_bytes);
    for (std::int64_t i = 0; i < count; ++i) {
        const AugmentDraw d = augment_draw(augmentation, epoch, ids[i]);
        std::uint8_t* out = pixels + static_cast<std::size_t>(i) * sample_bytes;
        if (d.dy == augmentation.pad && d.dx == augmentation.pad && !d.flip) {
            continue; // the crop at the centre of the padding, unflipped: the image itself
        }
        std::copy(out, out + sample_bytes, in.begin());
        for (std::int64_t y = 0; y < height; ++y) {
            const std::int64_t sy = y + d.dy - augmentation.pad;
            for (std::int64_t x = 0; x < width; ++x) {
                const std::int64_t cx = d.flip ? width - 1 - x : x; // flip after the crop
                const std::int64_t sx = cx + d.dx - augmentation.pad;
                std::uint8_t* o = out + (y * width + x) * channels;
                if (sy < 0 || sy >= height || sx < 0 || sx >= width) {
                    std::fill(o, o + channels, std::uint8_t{0}); // the zero padding
                } else {
                    const std::uint8_t* s = in.data() + (sy * width + sx) * channels;
                    std::copy(s, s + channels, o);
                }
            }
        }
    }
}

Batch StreamSource::read(const torch::Tensor& ids, BatchBuffer& /*buffer*/) const {
    return read_ids(ids, std::nullopt);
}

Batch StreamSource::read_for_training(const torch::Tensor& ids, BatchBuffer& /*buffer*/,
                                      std::int64_t epoch) const {
    return read_ids(ids, epoch);
}

Batch StreamSource::read_ids(const torch::Tensor& ids, std::optional<std::int64_t> epoch) const {
    const torch::Tensor contiguous = ids.to(torch::kInt64).contiguous();
    torch::Tensor raw_inputs, raw_targets;
    m_bytes +=
        read_raw(contiguous.data_ptr<std::int64_t>(), contiguous.size(0), raw_inputs, raw_targets);
    const RawLayout& layout = m_reader->layout();
    if (epoch && m_augmentation.active() && layout.input_type == util::NpyType::u8 &&
        layout.channels_last && layout.input_shape.size() == 3) {
        // On the raw pixels, as torchvision crops and flips the decoded image before ToTensor
        // and Normalize: the padding is pixel 0.
        augment_raw(m_augmentation, *epoch, contiguous.data_ptr<std::int64_t>(), contiguous.size(0),
                    layout.input_shape[0], layout.input_shape[1], layout.input_shape[2],
                    raw_inputs.data_ptr<std::uint8_t>());
    }
    const bool integer = util::npy_type_is_integer(m_reader->layout().target_type);
    // Pinned memory and a non_blocking copy to the device would go here on a GPU.
    return {decode(raw_inputs), raw_targets.to(integer ? torch::kInt64 : torch::kFloat32)};
}

Batch StreamSource::read_range(std::int64_t begin, std::int64_t count) const {
    BatchBuffer unused;
    return read(torch::arange(begin, begin + count, torch::kInt64), unused);
}

torch::Tensor StreamSource::read_raw_inputs(std::int64_t begin, std::int64_t count) const {
    const torch::Tensor ids = torch::arange(begin, begin + count, torch::kInt64);
    torch::Tensor inputs, targets;
    read_raw(ids.data_ptr<std::int64_t>(), count, inputs, targets);
    return inputs;
}

void RawReader::read_targets(std::int64_t begin, std::int64_t count, std::byte* targets) const {
    std::vector<std::byte> input(layout().input_bytes());
    const std::size_t bytes = layout().target_bytes();
    for (std::int64_t i = 0; i < count; ++i) {
        util::throw_if_stop_requested(); // a sample a file: thousands of opens
        read(begin + i, input.data(), targets + static_cast<std::size_t>(i) * bytes);
    }
}

std::int64_t count_class_ids(const torch::Tensor& targets, std::int64_t first,
                             const RawReader& reader) {
    const std::int64_t count = targets.size(0);
    if (count == 0 || targets.numel() == 0) {
        return 0;
    }
    const torch::Tensor t = targets.to(torch::kInt64).reshape({count, -1});
    const torch::Tensor lowest = std::get<0>(t.min(1)).contiguous();
    const torch::Tensor highest = std::get<0>(t.max(1)).contiguous();
    const auto* lo = lowest.data_ptr<std::int64_t>();
    const auto* hi = highest.data_ptr<std::int64_t>();
    std::int64_t classes = 0;
    for (std::int64_t i = 0; i < count; ++i) {
        const std::int64_t id = first + i;
        if (lo[i] < 0) {
            throw RuntimeFailure(reader.target_name(id) + ": sample " + std::to_string(id) +
                                 " has the negative class id " + std::to_string(lo[i]) +
                                 "; class ids are 0, 1, ... (one per class)");
        }
        if (hi[i] >= k_max_classes) {
            throw RuntimeFailure(reader.target_name(id) + ": sample " + std::to_string(id) +
                                 " has the class id " + std::to_string(hi[i]) +
                                 ", beyond kakuren's limit of " + std::to_string(k_max_classes) +
                                 " classes (ids 0 to " + std::to_string(k_max_classes - 1) +
                                 "); is this the right targets file?");
        }
        classes = std::max(classes, hi[i] + 1);
    }
    return classes;
}

std::int64_t count_classes(const RawReader& reader, std::int64_t count) {
    const RawLayout& l = reader.layout();
    std::vector<std::int64_t> shape{0};
    shape.insert(shape.end(), l.target_shape.begin(), l.target_shape.end());
    std::int64_t classes = 0;
    for (std::int64_t begin = 0; begin < count; begin += k_scan_chunk) {
        util::throw_if_stop_requested();
        const std::int64_t n = std::min(k_scan_chunk, count - begin);
        shape[0] = n;
        torch::Tensor t = torch::empty(shape, torch_type(l.target_type));
        reader.read_targets(begin, n, static_cast<std::byte*>(t.data_ptr()));
        classes = std::max(classes, count_class_ids(t, begin, reader));
    }
    return classes;
}

torch::Tensor StreamSource::read_raw_targets(std::int64_t begin, std::int64_t count) const {
    const torch::Tensor ids = torch::arange(begin, begin + count, torch::kInt64);
    torch::Tensor inputs, targets;
    read_raw(ids.data_ptr<std::int64_t>(), count, inputs, targets);
    return targets;
}

namespace {

/// Mean and standard deviation of the training split's inputs after the cast and the
/// transform, over the whole split (one pass at open time). uint8 pixels without a transform
/// use exact integer sums, as the IDX loader does, so both give the same constants.
std::pair<double, double> split_moments(const StreamSource& source, const Decoding& decoding) {
    const RawLayout& l = source.reader().layout();
    const std::int64_t n = source.size();
    if (l.input_type == util::NpyType::u8 && decoding.transform == "none") {
        std::uint64_t sum = 0, sum_sq = 0, count = 0;
        for (std::int64_t begin = 0; begin < n; begin += k_scan_chunk) {
            util::throw_if_stop_requested();
            const torch::Tensor raw =
                source.read_raw_inputs(begin, std::min(k_scan_chunk, n - begin));
            util::pause_point("normalise");
            const auto* p = raw.data_ptr<std::uint8_t>();
            const std::int64_t m = raw.numel();
            for (std::int64_t i = 0; i < m; ++i) {
                sum += p[i];
                sum_sq += std::uint64_t{p[i]} * p[i];
            }
            count += static_cast<std::uint64_t>(m);
        }
        util::throw_if_stop_requested();
        const double c = std::max<double>(1.0, static_cast<double>(count));
        const double mean = static_cast<double>(sum) / c;
        const double var = std::max(0.0, static_cast<double>(sum_sq) / c - mean * mean);
        return {mean / 255.0, std::sqrt(var) / 255.0};
    }
    double sum = 0.0, sum_sq = 0.0, count = 0.0;
    for (std::int64_t begin = 0; begin < n; begin += k_scan_chunk) {
        util::throw_if_stop_requested();
        torch::Tensor x =
            source.read_raw_inputs(begin, std::min(k_scan_chunk, n - begin)).to(torch::kFloat32);
        util::pause_point("normalise");
        if (decoding.transform == "log1p") {
            x.log1p_();
        }
        x = x.contiguous();
        const auto* p = x.data_ptr<float>();
        const std::int64_t m = x.numel();
        for (std::int64_t i = 0; i < m; ++i) {
            sum += p[i];
            sum_sq += static_cast<double>(p[i]) * p[i];
        }
        count += static_cast<double>(m);
    }
    util::throw_if_stop_requested();
    count = std::max(1.0, count);
    const double mean = sum / count;
    return {mean, std::sqrt(std::max(0.0, sum_sq / count - mean * mean))};
}

/// Largest class id + 1 over a split's integer targets (within its limit), each checked.
std::int64_t max_class(const StreamSource& source) {
    return count_classes(source.reader(), source.size());
}

} // namespace

ImageOptions image_options(const DataConfig& config) {
    ImageOptions image;
    if (config.dataset != "images") {
        return image;
    }
    if (!config.image_size.empty() &&
        (config.image_size.size() != 2 || config.image_size[0] < 1 || config.image_size[1] < 1)) {
        throw UsageError("data.image_size must be [height, width] with both >= 1");
    }
    if (config.image_channels != 0 && config.image_channels != 1 && config.image_channels != 3) {
        throw UsageError("data.image_channels must be 0 (the first image's), 1 or 3");
    }
    if (!config.image_size.empty()) {
        image.height = config.image_size[0];
        image.width = config.image_size[1];
    }
    image.channels = config.image_channels;
    return image;
}

std::unique_ptr<RawReader> open_stream_split(const DataConfig& config, const std::string& path,
                                             const std::string& key, const ImageOptions& image) {
    if (path.empty()) {
        throw RuntimeFailure("dataset " + config.dataset + ": " + key + " is not set");
    }
    if (config.dataset == "images") {
        // Class ids come from the training split's folders, for both splits.
        return open_images_split(path, key, image_class_folders(config.train_path, "data.train"),
                                 image);
    }
    std::unique_ptr<RawReader> reader = open_array_split(config, path, key);
    // Class ids out of range are refused at open (the data check runs before a run is
    // recorded), not by LibTorch building the model. DeepCAM folders: per-pixel classes, 3.
    std::error_code ec;
    const bool deepcam = config.dataset == "hdf5" && std::filesystem::is_directory(path, ec);
    if (!deepcam && util::npy_type_is_integer(reader->layout().target_type)) {
        const std::int64_t limit = key == "data.test" ? config.test_limit : config.train_limit;
        count_classes(*reader, limit > 0 ? std::min(limit, reader->size()) : reader->size());
    }
    return reader;
}

void check_splits_agree(const RawReader& train, const RawReader& test) {
    const RawLayout& a = train.layout();
    const RawLayout& b = test.layout();
    if (a.input_shape != b.input_shape || a.target_shape != b.target_shape ||
        a.channels_last != b.channels_last) {
        throw RuntimeFailure(test.name() + ": samples are " + util::shape_text(b.input_shape) +
                             " with targets " + util::shape_text(b.target_shape) + ", but " +
                             train.name() + " has " + util::shape_text(a.input_shape) +
                             " with targets " + util::shape_text(a.target_shape));
    }
    if (util::npy_type_is_integer(a.target_type) != util::npy_type_is_integer(b.target_type)) {
        throw RuntimeFailure(
            test.name() + ": targets are " + std::string(util::npy_type_name(b.target_type)) +
            " but " + train.name() + " has " + std::string(util::npy_type_name(a.target_type)));
    }
}

DataInfo stream_shapes(const StreamSource& train, bool deepcam) {
    DataInfo info;
    info.sample_shape = train.sample_shape();
    info.target_shape = train.target_shape();
    const auto& s = info.sample_shape;
    info.channels = s.empty() ? 1 : s[0];
    info.height = s.size() >= 2 ? s[1] : 1;
    info.width = s.size() >= 3 ? product({s.begin() + 2, s.end()}) : 1;
    if (deepcam) {
        info.num_classes = 3; // background, tropical cyclone, atmospheric river
    } else if (train.reader().num_classes() > 0) {
        info.num_classes = train.reader().num_classes(); // known: no pass over the data
    } else if (util::npy_type_is_integer(train.reader().layout().target_type)) {
        info.num_classes = 2; // at least; open_stream_sources counts them
    }
    return info;
}

Sources open_stream_sources(const DataConfig& config) {
    if (config.transform != "none" && config.transform != "log1p") {
        throw UsageError("unknown data.transform \"" + config.transform +
                         "\"; expected none or log1p");
    }
    const bool images = config.dataset == "images";
    if (!images && (config.random_crop > 0 || config.hflip)) {
        throw UsageError("data.random_crop and data.hflip augment data.dataset = \"images\" only");
    }
    ImageOptions image = image_options(config);
    std::unique_ptr<RawReader> train =
        open_stream_split(config, config.train_path, "data.train", image);
    if (images) {
        // The test split's images get the training split's channels; their size is
        // data.image_size, or else its first image's, which must be the training split's (the
        // shapes are compared below).
        image.channels = train->layout().input_shape[2];
    }
    std::unique_ptr<RawReader> test =
        open_stream_split(config, config.test_path, "data.test", image);
    check_splits_agree(*train, *test);
    Decoding decoding;
    decoding.transform = config.transform;
    const std::optional<Decoding> per_channel =
        config.dataset == "hdf5" ? hdf5_split_normalisation(config.train_path) : std::nullopt;
    const bool deepcam = per_channel.has_value();
    auto train_source =
        std::make_unique<StreamSource>(std::move(train), config.train_limit, decoding,
                                       config.reader_threads, config.prefetch_batches);
    auto test_source =
        std::make_unique<StreamSource>(std::move(test), config.test_limit, decoding,
                                       config.reader_threads, config.prefetch_batches);
    if (train_source->size() == 0) {
        throw RuntimeFailure(train_source->reader().name() + ": no training samples");
    }
    Sources out;
    out.info = stream_shapes(*train_source, deepcam);
    DataInfo& info = out.info;
    if (!deepcam && train_source->reader().num_classes() == 0 && info.num_classes > 0) {
        info.num_classes =
            std::max<std::int64_t>(2, std::max(max_class(*train_source), max_class(*test_source)));
    }
    if (config.normalize) {
        if (deepcam && !config.mean && !config.std) {
            decoding.shift = per_channel->shift;
            decoding.scale = per_channel->scale;
        } else {
            double mean = 0.0, sd = 1.0;
            if (!config.mean || !config.std) {
                std::tie(mean, sd) = split_moments(*train_source, decoding);
            }
            info.mean = config.mean.value_or(mean);
            info.std = config.std.value_or(sd);
            decoding.shift = {info.mean};
            decoding.scale = {1.0 / (info.std > 0.0 ? info.std : 1.0)};
        }
        train_source->set_decoding(decoding);
        test_source->set_decoding(decoding);
    }
    Augmentation augmentation;
    augmentation.pad = config.random_crop;
    augmentation.hflip = config.hflip;
    augmentation.seed = config.augment_seed;
    train_source->set_augmentation(augmentation); // the training split only
    out.train = std::move(train_source);
    out.test = std::move(test_source);
    return out;
}

} // namespace kakuren::trainer

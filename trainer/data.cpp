#include "trainer/data.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>

#include "trainer/standins.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"

namespace kakuren::trainer {
namespace {

constexpr std::uint32_t k_image_magic = 2051; // 0x00000803: ubyte, 3 dimensions
constexpr std::uint32_t k_label_magic = 2049; // 0x00000801: ubyte, 1 dimension
constexpr std::int64_t k_max_side = 1 << 16;

struct GzClose {
    void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzClose>;

[[noreturn]] void fail_read(const std::filesystem::path& file, const std::string& why) {
    throw RuntimeFailure("cannot read " + file.string() + ": " + why);
}

GzFile open_gz(const std::filesystem::path& file) {
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) {
        fail_read(file, "is a directory");
    }
    errno = 0;
    // gzopen reads gzip streams and passes other files through unchanged.
    GzFile f(gzopen(file.c_str(), "rb"));
    if (!f) {
        fail_read(file, errno != 0 ? std::strerror(errno) : "cannot open");
    }
    gzbuffer(f.get(), 1 << 20);
    return f;
}

/// After a complete read: reads on to the end of the stream so that zlib checks the gzip CRC
/// and length (a corrupt stream can otherwise decode to wrong pixels without an error).
void check_stream_end(gzFile_s* f, const std::filesystem::path& file) {
    std::array<unsigned char, 4096> probe{};
    while (true) {
        const int got = gzread(f, probe.data(), static_cast<unsigned>(probe.size()));
        if (got < 0) {
            int code = 0;
            const char* msg = gzerror(f, &code);
            fail_read(file, code == Z_ERRNO ? std::strerror(errno)
                                            : std::string("corrupt gzip data (") + msg + ")");
        }
        if (got == 0) {
            return; // trailing bytes after the data are tolerated
        }
    }
}

/// Reads exactly n bytes or throws; `what` names the part for the truncation message.
/// `before` and `total` describe the whole part when this read is one chunk of it (messages).
void read_exact(gzFile_s* f, const std::filesystem::path& file, void* out, std::size_t n,
                const char* what, std::uint64_t before = 0, std::uint64_t total = 0) {
    auto* dst = static_cast<unsigned char*>(out);
    std::size_t done = 0;
    while (done < n) {
        const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1U << 30));
        const int got = gzread(f, dst + done, chunk);
        if (got < 0) {
            int code = 0;
            const char* msg = gzerror(f, &code);
            fail_read(file, code == Z_ERRNO ? std::strerror(errno)
                                            : std::string("corrupt gzip data (") + msg + ")");
        }
        if (got == 0) {
            // gzread hides a truncated gzip stream as end of file; say what was missing.
            int code = 0;
            const char* msg = gzerror(f, &code);
            std::string why = "file ends early: " + std::string(what) + " needs " +
                              std::to_string(total > 0 ? total : n) + " bytes, found " +
                              std::to_string(before + done);
            if (code != Z_OK && code != Z_STREAM_END) {
                why += std::string(" (") + msg + ")";
            }
            fail_read(file, why);
        }
        done += static_cast<std::size_t>(got);
    }
}

/// Reads exactly n bytes into out (resized to n), growing it only as the bytes arrive: a header
/// that claims more data than the file holds costs no more memory than the file's real content.
/// For an uncompressed file the claim is checked against the file's size before reading.
void read_claimed(gzFile_s* f, const std::filesystem::path& file, std::vector<std::uint8_t>& out,
                  std::uint64_t n, std::uint64_t header_bytes, const char* what) {
    if (gzdirect(f) != 0) {
        std::error_code ec;
        const std::uintmax_t size = std::filesystem::file_size(file, ec);
        if (!ec && header_bytes + n > size) {
            fail_read(file, "file ends early: " + std::string(what) + " needs " +
                                std::to_string(n) + " bytes after the " +
                                std::to_string(header_bytes) + "-byte header, the file holds " +
                                std::to_string(size) + " bytes in all");
        }
    }
    constexpr std::uint64_t k_chunk = 64ULL << 20;
    out.clear();
    std::uint64_t done = 0;
    while (done < n) {
        const std::uint64_t chunk = std::min(k_chunk, n - done);
        out.resize(static_cast<std::size_t>(done + chunk));
        read_exact(f, file, out.data() + done, static_cast<std::size_t>(chunk), what, done, n);
        done += chunk;
    }
}

std::uint32_t big_endian(const unsigned char* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

std::string hex(std::uint32_t v) {
    std::array<char, 16> buf{};
    std::snprintf(buf.data(), buf.size(), "0x%08x", v);
    return buf.data();
}

void check_magic(const std::filesystem::path& file, std::uint32_t magic, std::uint32_t expected,
                 const char* kind) {
    if (magic != expected) {
        throw RuntimeFailure(file.string() + ": not an IDX " + kind + " file (magic " +
                             std::to_string(magic) + " = " + hex(magic) + ", expected " +
                             std::to_string(expected) + " = " + hex(expected) + ")");
    }
}

constexpr auto mix64 = util::splitmix64_mix; // the same on every platform (std:: is not)

class Normal {
  public:
    explicit Normal(std::uint64_t seed) : m_state(mix64(seed)) {}
    double next() {
        if (m_has_spare) {
            m_has_spare = false;
            return m_spare;
        }
        const double u1 = 1.0 - uniform(); // (0, 1]: log is finite
        const double u2 = uniform();
        const double r = std::sqrt(-2.0 * std::log(u1));
        const double t = 2.0 * 3.14159265358979323846 * u2;
        m_spare = r * std::sin(t);
        m_has_spare = true;
        return r * std::cos(t);
    }

  private:
    double uniform() {
        m_state += 0x9e3779b97f4a7c15ULL; // and mix64 adds it once more: the golden digests' draws
        return static_cast<double>(mix64(m_state) >> 11) * 0x1.0p-53;
    }
    std::uint64_t m_state;
    double m_spare = 0.0;
    bool m_has_spare = false;
};

std::uint64_t combine(std::uint64_t a, std::uint64_t b) {
    return mix64(a ^ mix64(b));
}

/// Exact mean and standard deviation of bytes / 255 (integer sums: no rounding, no threads).
std::pair<double, double> byte_moments(const std::vector<std::uint8_t>& bytes) {
    std::uint64_t sum = 0, sum_sq = 0;
    for (std::uint8_t b : bytes) {
        sum += b;
        sum_sq += std::uint64_t{b} * b;
    }
    const double n = std::max<double>(1.0, static_cast<double>(bytes.size()));
    const double mean = static_cast<double>(sum) / n;
    const double var = std::max(0.0, static_cast<double>(sum_sq) / n - mean * mean);
    return {mean / 255.0, std::sqrt(var) / 255.0};
}

std::pair<double, double> float_moments(const torch::Tensor& t) {
    const auto* p = t.data_ptr<float>();
    const std::int64_t n = t.numel();
    double sum = 0.0, sum_sq = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
        sum += p[i];
        sum_sq += static_cast<double>(p[i]) * p[i];
    }
    const double count = std::max<double>(1.0, static_cast<double>(n));
    const double mean = sum / count;
    return {mean, std::sqrt(std::max(0.0, sum_sq / count - mean * mean))};
}

torch::Tensor bytes_to_images(IdxImages& idx) {
    auto bytes =
        torch::from_blob(idx.pixels.data(), {idx.count, 1, idx.rows, idx.cols}, torch::kUInt8);
    return bytes.to(torch::kFloat32).div_(255.0);
}

torch::Tensor bytes_to_labels(IdxLabels& idx) {
    return torch::from_blob(idx.labels.data(), {idx.count}, torch::kUInt8).to(torch::kInt64);
}

std::string with_hint(const DataConfig& config, const std::string& file) {
    if (config.dataset == "fashion-mnist" && !std::filesystem::exists(file)) {
        return " (install the Debian package dataset-fashion-mnist, or set data.path)";
    }
    return "";
}

/// Fashion-MNIST has 10 classes: a label outside 0-9 is an error naming the file and the first
/// such sample. Any other IDX set has as many classes as its largest label + 1 (at least 2).
std::int64_t count_classes(const DataConfig& config, const IdxLabels& train,
                           const IdxLabels& test) {
    const std::array<std::pair<const IdxLabels*, const std::string*>, 2> splits = {
        {{&train, &config.train_labels}, {&test, &config.test_labels}}};
    if (config.dataset == "fashion-mnist") {
        for (const auto& [labels, file] : splits) {
            for (std::size_t i = 0; i < labels->labels.size(); ++i) {
                if (labels->labels[i] >= 10) {
                    throw RuntimeFailure(*file + ": label " + std::to_string(labels->labels[i]) +
                                         " of sample " + std::to_string(i) +
                                         " is outside the 10 classes of fashion-mnist (0-9)");
                }
            }
        }
        return 10;
    }
    std::int64_t classes = 0;
    for (const auto& [labels, file] : splits) {
        for (const std::uint8_t v : labels->labels) {
            classes = std::max<std::int64_t>(classes, std::int64_t{v} + 1);
        }
    }
    if (classes < 2) {
        throw RuntimeFailure(config.train_labels + ": every label is 0; a classifier needs at "
                                                   "least 2 classes");
    }
    return classes;
}

DataSplits load_idx(const DataConfig& config) {
    const std::array<std::pair<const char*, const std::string*>, 4> files = {
        {{"train_images", &config.train_images},
         {"train_labels", &config.train_labels},
         {"test_images", &config.test_images},
         {"test_labels", &config.test_labels}}};
    for (const auto& [key, path] : files) {
        if (path->empty()) {
            throw RuntimeFailure("dataset " + config.dataset + ": data." + key + " is not set");
        }
        if (!std::filesystem::exists(*path)) {
            throw RuntimeFailure("cannot read " + *path + ": No such file or directory" +
                                 with_hint(config, *path));
        }
    }
    IdxImages train_x = read_idx_images(config.train_images, config.train_limit);
    IdxLabels train_y = read_idx_labels(config.train_labels, config.train_limit);
    IdxImages test_x = read_idx_images(config.test_images, config.test_limit);
    IdxLabels test_y = read_idx_labels(config.test_labels, config.test_limit);
    const auto check_pair = [](const IdxImages& x, const IdxLabels& y, const std::string& xf,
                               const std::string& yf) {
        if (x.total != y.total) {
            throw RuntimeFailure(xf + " holds " + std::to_string(x.total) + " images but " + yf +
                                 " holds " + std::to_string(y.total) + " labels");
        }
    };
    check_pair(train_x, train_y, config.train_images, config.train_labels);
    check_pair(test_x, test_y, config.test_images, config.test_labels);
    if (train_x.rows != test_x.rows || train_x.cols != test_x.cols) {
        throw RuntimeFailure(config.test_images + ": images are " + std::to_string(test_x.rows) +
                             "x" + std::to_string(test_x.cols) + " but the training images are " +
                             std::to_string(train_x.rows) + "x" + std::to_string(train_x.cols));
    }
    if (train_x.count == 0) {
        throw RuntimeFailure(config.train_images + ": no training images");
    }
    DataSplits out;
    out.channels = 1;
    out.height = train_x.rows;
    out.width = train_x.cols;
    out.num_classes = count_classes(config, train_y, test_y);
    if (config.normalize) {
        const auto [mean, sd] = byte_moments(train_x.pixels);
        out.mean = config.mean.value_or(mean);
        out.std = config.std.value_or(sd);
    }
    out.train = {bytes_to_images(train_x), bytes_to_labels(train_y)};
    out.test = {bytes_to_images(test_x), bytes_to_labels(test_y)};
    return out;
}

void normalize(DataSplits& data) {
    if (data.mean == 0.0 && data.std == 1.0) {
        return;
    }
    const double scale = 1.0 / (data.std > 0.0 ? data.std : 1.0);
    for (Dataset* d : {&data.train, &data.test}) {
        d->images.sub_(data.mean).mul_(scale);
    }
}

} // namespace

IdxImages read_idx_images(const std::filesystem::path& file, std::int64_t limit) {
    GzFile f = open_gz(file);
    std::array<unsigned char, 16> header{};
    read_exact(f.get(), file, header.data(), 4, "the IDX magic number");
    check_magic(file, big_endian(header.data()), k_image_magic, "image");
    read_exact(f.get(), file, header.data() + 4, 12, "the IDX image header");
    IdxImages out;
    out.total = big_endian(header.data() + 4);
    out.rows = big_endian(header.data() + 8);
    out.cols = big_endian(header.data() + 12);
    if (out.rows <= 0 || out.cols <= 0 || out.rows > k_max_side || out.cols > k_max_side) {
        throw RuntimeFailure(file.string() + ": implausible image size " +
                             std::to_string(out.rows) + "x" + std::to_string(out.cols));
    }
    out.count = limit > 0 ? std::min(limit, out.total) : out.total;
    // count < 2^32 and sides <= 2^16: the product fits in 64 bits only below 2^64; check first.
    const auto per_image = static_cast<std::uint64_t>(out.rows * out.cols);
    if (static_cast<std::uint64_t>(out.count) > (std::uint64_t{1} << 40) / per_image) {
        throw RuntimeFailure(file.string() + ": implausible header: " + std::to_string(out.total) +
                             " images of " + std::to_string(out.rows) + "x" +
                             std::to_string(out.cols) + " would be over 1 TiB");
    }
    read_claimed(f.get(), file, out.pixels, static_cast<std::uint64_t>(out.count) * per_image, 16,
                 "the pixel data");
    if (out.count == out.total) {
        check_stream_end(f.get(), file);
    }
    return out;
}

IdxLabels read_idx_labels(const std::filesystem::path& file, std::int64_t limit) {
    GzFile f = open_gz(file);
    std::array<unsigned char, 8> header{};
    read_exact(f.get(), file, header.data(), 4, "the IDX magic number");
    check_magic(file, big_endian(header.data()), k_label_magic, "label");
    read_exact(f.get(), file, header.data() + 4, 4, "the IDX label header");
    IdxLabels out;
    out.total = big_endian(header.data() + 4);
    out.count = limit > 0 ? std::min(limit, out.total) : out.total;
    read_claimed(f.get(), file, out.labels, static_cast<std::uint64_t>(out.count), 8,
                 "the label data");
    if (out.count == out.total) {
        check_stream_end(f.get(), file);
    }
    return out;
}

DataSplits make_synthetic(const DataConfig& config) {
    const std::int64_t classes = config.synthetic_classes;
    const std::int64_t channels = config.synthetic_channels;
    const std::int64_t side = config.synthetic_size;
    if (classes < 2 || channels < 1 || side < 1 || config.synthetic_train < 1 ||
        config.synthetic_test < 1) {
        throw RuntimeFailure("synthetic data needs >= 2 classes, >= 1 channel, size >= 1 and "
                             ">= 1 train and test sample");
    }
    const std::int64_t dim = channels * side * side;
    // The problem depends only on its shape and data.synthetic_seed, never on the run seed, so
    // runs with different seeds train on the same data.
    const std::uint64_t seed =
        combine(combine(combine(config.synthetic_seed, static_cast<std::uint64_t>(classes)),
                        static_cast<std::uint64_t>(channels)),
                static_cast<std::uint64_t>(side));
    std::vector<float> prototypes(static_cast<std::size_t>(classes * dim));
    Normal proto_rng(combine(seed, 0));
    for (float& v : prototypes) {
        v = static_cast<float>(proto_rng.next());
    }
    const auto generate = [&](std::int64_t n, std::uint64_t split) {
        Dataset d;
        d.images = torch::empty({n, channels, side, side}, torch::kFloat32);
        d.labels = torch::empty({n}, torch::kInt64);
        auto* x = d.images.data_ptr<float>();
        auto* y = d.labels.data_ptr<std::int64_t>();
        for (std::int64_t i = 0; i < n; ++i) {
            // Sample i depends only on (split, i): a smaller set is a prefix of a larger one.
            Normal rng(combine(combine(seed, split), static_cast<std::uint64_t>(i)));
            const std::int64_t label = i % classes; // balanced
            y[i] = label;
            const float* proto = prototypes.data() + label * dim;
            float* row = x + i * dim;
            for (std::int64_t j = 0; j < dim; ++j) {
                row[j] = proto[j] + static_cast<float>(config.synthetic_noise * rng.next());
            }
        }
        return d;
    };
    DataSplits out;
    out.channels = channels;
    out.height = side;
    out.width = side;
    out.num_classes = classes;
    out.train =
        generate(config.train_limit > 0 ? std::min(config.train_limit, config.synthetic_train)
                                        : config.synthetic_train,
                 1);
    out.test = generate(config.test_limit > 0 ? std::min(config.test_limit, config.synthetic_test)
                                              : config.synthetic_test,
                        2);
    return out;
}

namespace {

std::int64_t limited(std::int64_t n, std::int64_t limit) {
    return limit > 0 ? std::min(limit, n) : n;
}

/// The CosmoFlow stand-in as a data set: log(1 + counts) (the reference's apply_log), targets
/// float32 [N, 4]; normalised with one mean and std like the other data sets.
DataSplits cosmoflow_splits(const DataConfig& config) {
    DataSplits out;
    const std::int64_t side = config.synthetic_size;
    const auto split = [&](std::int64_t n, std::uint64_t which) {
        CosmoflowSamples s = make_cosmoflow(n, side, config.synthetic_seed, which);
        return Dataset{s.counts.to(torch::kFloat32).log1p_(), s.targets};
    };
    out.train = split(limited(config.synthetic_train, config.train_limit), 1);
    out.test = split(limited(config.synthetic_test, config.test_limit), 2);
    out.channels = k_cosmoflow_channels;
    out.height = side;
    out.width = side;
    return out;
}

/// The DeepCAM stand-in as a data set: inputs [N, 16, H, W], each channel normalised by the
/// training split's per-channel mean and std (what the reference reads from stats.h5), labels
/// int64 [N, H, W].
DataSplits deepcam_splits(const DataConfig& config) {
    DataSplits out;
    const std::int64_t side = config.synthetic_size;
    const DeepcamDifficulty difficulty = deepcam_difficulty(config.synthetic_difficulty);
    DeepcamSamples train = make_deepcam(limited(config.synthetic_train, config.train_limit), side,
                                        side, config.synthetic_seed, 1, difficulty);
    DeepcamSamples test = make_deepcam(limited(config.synthetic_test, config.test_limit), side,
                                       side, config.synthetic_seed, 2, difficulty);
    const torch::Tensor mean = train.data.mean({0, 1, 2});
    const torch::Tensor sd = train.data.std({0, 1, 2}).clamp_min(1e-6);
    const auto to_inputs = [&](const torch::Tensor& data) {
        return ((data - mean) / sd).permute({0, 3, 1, 2}).contiguous();
    };
    out.train = {to_inputs(train.data), train.labels};
    out.test = {to_inputs(test.data), test.labels};
    out.num_classes = 3;
    out.channels = k_deepcam_channels;
    out.height = side;
    out.width = side;
    return out;
}

} // namespace

DataSplits load_data(const DataConfig& config) {
    DataSplits data;
    if (config.dataset == "synthetic" && config.synthetic_kind != "blobs") {
        if (config.synthetic_kind == "cosmoflow") {
            data = cosmoflow_splits(config);
        } else if (config.synthetic_kind == "deepcam") {
            return deepcam_splits(config); // normalised per channel already
        } else {
            throw RuntimeFailure("unknown data.synthetic_kind \"" + config.synthetic_kind +
                                 "\"; expected blobs, cosmoflow or deepcam");
        }
        if (config.normalize) {
            const auto [mean, sd] = float_moments(data.train.images);
            data.mean = config.mean.value_or(mean);
            data.std = config.std.value_or(sd);
        }
    } else if (config.dataset == "synthetic") {
        data = make_synthetic(config);
        if (config.normalize) {
            const auto [mean, sd] = float_moments(data.train.images);
            data.mean = config.mean.value_or(mean);
            data.std = config.std.value_or(sd);
        }
    } else if (config.dataset == "fashion-mnist" || config.dataset == "idx") {
        data = load_idx(config);
    } else {
        throw RuntimeFailure("unknown dataset \"" + config.dataset +
                             "\"; expected fashion-mnist, idx or synthetic");
    }
    if (config.normalize) {
        normalize(data);
    }
    return data;
}

} // namespace kakuren::trainer

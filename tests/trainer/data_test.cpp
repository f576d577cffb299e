#include "trainer/data.hpp"

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "support/errors.hpp"
#include "support/temp_dir.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;

const fs::path k_fashion = "/usr/share/datasets/fashion-mnist";

using kakuren::testing::TempDir;

std::vector<unsigned char> idx_bytes(std::uint32_t magic, const std::vector<std::uint32_t>& dims,
                                     const std::vector<std::uint8_t>& data) {
    std::vector<unsigned char> out;
    const auto put = [&](std::uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            out.push_back(static_cast<unsigned char>(v >> shift));
        }
    };
    put(magic);
    for (std::uint32_t d : dims) {
        put(d);
    }
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

void write_file(const fs::path& path, const std::vector<unsigned char>& bytes, bool gzip) {
    if (gzip) {
        gzFile f = gzopen(path.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
                  static_cast<int>(bytes.size()));
        ASSERT_EQ(gzclose(f), Z_OK);
    } else {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()),
                  static_cast<std::streamsize>(bytes.size()));
    }
}

std::vector<std::uint8_t> pixels(std::size_t n) {
    std::vector<std::uint8_t> p(n);
    for (std::size_t i = 0; i < n; ++i) {
        p[i] = static_cast<std::uint8_t>((i * 37 + 11) % 256);
    }
    return p;
}

/// The message of the RuntimeFailure that f throws (data errors are RuntimeFailures).
template <class F> std::string error_of(F&& f) {
    return kakuren::testing::error_of<RuntimeFailure>(std::forward<F>(f));
}

/// Five 3x4 training images with labels 0..4 and two test images, gz or raw.
DataConfig tiny_idx(const TempDir& dir, bool gzip) {
    const std::string ext = gzip ? ".gz" : "";
    write_file(dir / ("train-images" + ext), idx_bytes(2051, {5, 3, 4}, pixels(60)), gzip);
    write_file(dir / ("train-labels" + ext), idx_bytes(2049, {5}, {0, 1, 2, 3, 4}), gzip);
    write_file(dir / ("test-images" + ext), idx_bytes(2051, {2, 3, 4}, pixels(24)), gzip);
    write_file(dir / ("test-labels" + ext), idx_bytes(2049, {2}, {4, 0}), gzip);
    DataConfig config;
    config.dataset = "idx";
    config.train_images = dir / ("train-images" + ext);
    config.train_labels = dir / ("train-labels" + ext);
    config.test_images = dir / ("test-images" + ext);
    config.test_labels = dir / ("test-labels" + ext);
    return config;
}

TEST(Idx, ReadsRawAndGzippedFiles) {
    TempDir dir;
    for (const bool gzip : {false, true}) {
        DataConfig config = tiny_idx(dir, gzip);
        const IdxImages images = read_idx_images(config.train_images);
        EXPECT_EQ(images.total, 5);
        EXPECT_EQ(images.count, 5);
        EXPECT_EQ(images.rows, 3);
        EXPECT_EQ(images.cols, 4);
        EXPECT_EQ(images.pixels, pixels(60));
        const IdxLabels first = read_idx_labels(config.train_labels, 2);
        EXPECT_EQ(first.total, 5);
        EXPECT_EQ(first.labels, (std::vector<std::uint8_t>{0, 1}));

        config.normalize = false;
        config.train_limit = 3;
        const DataSplits data = load_data(config);
        EXPECT_EQ(data.train.images.sizes(), (std::vector<std::int64_t>{3, 1, 3, 4}));
        EXPECT_EQ(data.test.images.sizes(), (std::vector<std::int64_t>{2, 1, 3, 4}));
        EXPECT_EQ(data.num_classes, 5);
        EXPECT_FLOAT_EQ(data.train.images[0][0][0][1].item<float>(), 48.0F / 255.0F);
        EXPECT_EQ(data.test.labels[0].item<std::int64_t>(), 4);
    }
}

TEST(Idx, NormalisesBothSplitsWithTheTrainingStatistics) {
    TempDir dir;
    DataConfig config = tiny_idx(dir, true);
    const DataSplits data = load_data(config);
    EXPECT_NEAR(data.train.images.mean().item<double>(), 0.0, 1e-5);
    EXPECT_NEAR(data.train.images.std(false).item<double>(), 1.0, 1e-5);
    const auto raw = pixels(24);
    EXPECT_NEAR(data.test.images[0][0][0][0].item<float>(), (raw[0] / 255.0 - data.mean) / data.std,
                1e-5);

    config.mean = 0.5;
    config.std = 0.25;
    const DataSplits fixed = load_data(config);
    EXPECT_EQ(fixed.mean, 0.5);
    EXPECT_NEAR(fixed.test.images[0][0][0][0].item<float>(), (raw[0] / 255.0 - 0.5) / 0.25, 1e-5);
}

TEST(Idx, ReportsBadFilesClearly) {
    TempDir dir;
    DataConfig config = tiny_idx(dir, false);
    const std::string labels = config.train_labels;
    EXPECT_EQ(error_of([&] { read_idx_images(labels); }),
              labels + ": not an IDX image file (magic 2049 = 0x00000801, expected 2051 = "
                       "0x00000803)");
    EXPECT_EQ(error_of([&] { read_idx_labels(config.train_images); }),
              config.train_images + ": not an IDX label file (magic 2051 = 0x00000803, expected "
                                    "2049 = 0x00000801)");

    const fs::path missing = dir / "missing";
    EXPECT_EQ(error_of([&] { read_idx_images(missing); }),
              "cannot read " + missing.string() + ": No such file or directory");

    const fs::path truncated = dir / "truncated";
    write_file(truncated, idx_bytes(2051, {10, 3, 4}, pixels(24)), false);
    EXPECT_EQ(error_of([&] { read_idx_images(truncated); }),
              "cannot read " + truncated.string() +
                  ": file ends early: the pixel data needs 120 bytes after the 16-byte header, "
                  "the file holds 40 bytes in all");

    const fs::path empty = dir / "empty";
    write_file(empty, {}, false);
    EXPECT_EQ(error_of([&] { read_idx_labels(empty); }),
              "cannot read " + empty.string() +
                  ": file ends early: the IDX magic number needs 4 bytes, found 0");

    // A gzip stream cut in half, and one with its compressed bytes overwritten.
    const fs::path gz = dir / "big.gz";
    std::vector<std::uint8_t> noise(std::size_t{200} * 256);
    std::uint32_t state = 12345;
    for (auto& b : noise) {
        state = state * 1664525U + 1013904223U; // incompressible enough to give a long stream
        b = static_cast<std::uint8_t>(state >> 24);
    }
    write_file(gz, idx_bytes(2051, {200, 16, 16}, noise), true);
    std::vector<char> bytes(fs::file_size(gz));
    std::ifstream(gz, std::ios::binary)
        .read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const fs::path cut = dir / "cut.gz";
    std::ofstream(cut, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
    EXPECT_EQ(
        error_of([&] { read_idx_images(cut); }).rfind("cannot read " + cut.string() + ": ", 0), 0U)
        << error_of([&] { read_idx_images(cut); });
    for (std::size_t i = bytes.size() / 3; i < bytes.size() - 8; ++i) {
        bytes[i] = static_cast<char>(0xA5 ^ i);
    }
    const fs::path corrupt = dir / "corrupt.gz";
    std::ofstream(corrupt, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    EXPECT_EQ(error_of([&] {
                  read_idx_images(corrupt);
              }).rfind("cannot read " + corrupt.string() + ": corrupt gzip data", 0),
              0U)
        << error_of([&] { read_idx_images(corrupt); });
}

TEST(Idx, ImageAndLabelCountsMustMatch) {
    TempDir dir;
    DataConfig config = tiny_idx(dir, false);
    write_file(config.train_labels, idx_bytes(2049, {4}, {0, 1, 2, 3}), false);
    EXPECT_EQ(error_of([&] { load_data(config); }), config.train_images + " holds 5 images but " +
                                                        config.train_labels + " holds 4 labels");
}

TEST(FashionMnist, LoadsTheDebianPackageFiles) {
    const fs::path train_images = k_fashion / "train-images-idx3-ubyte.gz";
    ASSERT_TRUE(fs::exists(train_images))
        << train_images << " is missing: install the Debian package dataset-fashion-mnist "
        << "(apt-get install dataset-fashion-mnist)";
    DataConfig config;
    config.dataset = "fashion-mnist";
    config.train_images = train_images;
    config.train_labels = k_fashion / "train-labels-idx1-ubyte.gz";
    config.test_images = k_fashion / "t10k-images-idx3-ubyte.gz";
    config.test_labels = k_fashion / "t10k-labels-idx1-ubyte.gz";
    const DataSplits data = load_data(config);
    EXPECT_EQ(data.train.size(), 60000);
    EXPECT_EQ(data.test.size(), 10000);
    EXPECT_EQ(data.train.images.sizes(), (std::vector<std::int64_t>{60000, 1, 28, 28}));
    EXPECT_EQ(data.test.images.sizes(), (std::vector<std::int64_t>{10000, 1, 28, 28}));
    EXPECT_EQ(data.num_classes, 10);
    for (const Dataset* d : {&data.train, &data.test}) {
        EXPECT_EQ(d->labels.min().item<std::int64_t>(), 0);
        EXPECT_EQ(d->labels.max().item<std::int64_t>(), 9);
        // Balanced: every class has a tenth of the samples.
        EXPECT_EQ(torch::bincount(d->labels).min().item<std::int64_t>(), d->size() / 10);
    }
    EXPECT_NEAR(data.mean, 0.2860, 1e-3);
    EXPECT_NEAR(data.std, 0.3530, 1e-3);
}

TEST(Synthetic, IsDeterministicBalancedAndAPrefixOfLargerSets) {
    DataConfig config;
    config.dataset = "synthetic";
    config.synthetic_train = 100;
    config.synthetic_test = 40;
    config.synthetic_classes = 4;
    config.synthetic_channels = 3;
    config.synthetic_size = 6;
    const DataSplits a = make_synthetic(config);
    const DataSplits b = make_synthetic(config);
    EXPECT_EQ(a.train.images.sizes(), (std::vector<std::int64_t>{100, 3, 6, 6}));
    EXPECT_TRUE(torch::equal(a.train.images, b.train.images));
    EXPECT_TRUE(torch::equal(a.test.images, b.test.images));
    EXPECT_FALSE(torch::equal(a.train.images.narrow(0, 0, 40), a.test.images));
    EXPECT_EQ(torch::bincount(a.train.labels).min().item<std::int64_t>(), 25);

    config.synthetic_train = 200;
    const DataSplits larger = make_synthetic(config);
    EXPECT_TRUE(torch::equal(larger.train.images.narrow(0, 0, 100), a.train.images));

    const DataSplits normalised = load_data(config);
    EXPECT_NEAR(normalised.train.images.mean().item<double>(), 0.0, 1e-4);
    EXPECT_NEAR(normalised.train.images.std(false).item<double>(), 1.0, 1e-4);
}

TEST(Data, UnknownDatasetIsAnError) {
    DataConfig config;
    config.dataset = "imagenet";
    EXPECT_EQ(error_of([&] { load_data(config); }),
              "unknown dataset \"imagenet\"; expected fashion-mnist, idx or synthetic");
}

} // namespace
} // namespace kakuren::trainer

namespace kakuren::trainer {
namespace {

TEST(IdxHostile, AHeaderClaimingMoreThanTheFileHoldsFailsBeforeAllocating) {
    const TempDir dir;
    // 17 bytes claiming 65536 images of 256x256: named, and no 4 GB allocation first.
    write_file(dir / "claims", idx_bytes(2051, {65536, 256, 256}, {7}), false);
    EXPECT_EQ(error_of([&] { read_idx_images(dir / "claims"); }),
              "cannot read " + (dir / "claims").string() +
                  ": file ends early: the pixel data needs 4294967296 bytes after the "
                  "16-byte header, the file holds 17 bytes in all");
    // Gzipped, the size is unknown until read: the buffer grows only with the data that comes.
    write_file(dir / "claims.gz", idx_bytes(2049, {2147483648U}, {1, 2, 3}), true);
    EXPECT_EQ(error_of([&] { read_idx_labels(dir / "claims.gz"); }),
              "cannot read " + (dir / "claims.gz").string() +
                  ": file ends early: the label data needs 2147483648 bytes, found 3");
    // Sizes whose product is over 1 TiB are refused outright.
    write_file(dir / "huge", idx_bytes(2051, {4000000000U, 65536, 65536}, {}), false);
    EXPECT_NE(error_of([&] { read_idx_images(dir / "huge"); }).find("implausible header"),
              std::string::npos);
}

TEST(IdxHostile, LabelsOutsideTheClassesAreErrorsNamingTheFileAndSample) {
    const TempDir dir;
    // Fashion-MNIST: exactly ten classes.
    DataConfig config = tiny_idx(dir, false);
    config.dataset = "fashion-mnist";
    write_file(dir / "train-labels", idx_bytes(2049, {5}, {0, 1, 255, 3, 4}), false);
    EXPECT_EQ(error_of([&] { load_data(config); }),
              config.train_labels +
                  ": label 255 of sample 2 is outside the 10 classes of fashion-mnist (0-9)");
    // One class is no classification problem.
    config = tiny_idx(dir, false);
    write_file(dir / "train-labels", idx_bytes(2049, {5}, {0, 0, 0, 0, 0}), false);
    write_file(dir / "test-labels", idx_bytes(2049, {2}, {0, 0}), false);
    EXPECT_EQ(error_of([&] { load_data(config); }),
              config.train_labels + ": every label is 0; a classifier needs at least 2 classes");
}

} // namespace
} // namespace kakuren::trainer

// The CosmoFlow / DeepCAM stand-in generators: seeded, a prefix of a larger set, targets in range;
// the files they write hold the in-memory samples in the references' layouts (read back by the
// real numpy and h5py), and an unwritable folder is named.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "trainer/standins.hpp"
#include "trainer/trainer.hpp"
#include "util/error.hpp"
#include "util/system.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;
using kakuren::testing::TempDir;

TEST(Standins, CosmoflowIsSeededAPrefixAndTargetsAreInRange) {
    const CosmoflowSamples a = make_cosmoflow(6, 8, 11, 1);
    const CosmoflowSamples b = make_cosmoflow(4, 8, 11, 1);
    const CosmoflowSamples other = make_cosmoflow(4, 8, 12, 1);
    EXPECT_EQ(a.counts.sizes(), (std::vector<std::int64_t>{6, 4, 8, 8, 8}));
    EXPECT_EQ(a.counts.scalar_type(), torch::kInt16);
    EXPECT_TRUE(torch::equal(a.counts.narrow(0, 0, 4), b.counts));
    EXPECT_TRUE(torch::equal(a.targets.narrow(0, 0, 4), b.targets));
    EXPECT_FALSE(torch::equal(other.counts, b.counts));
    EXPECT_LE(a.targets.abs().max().item<float>(), 1.0F);
    EXPECT_GE(a.counts.min().item<std::int16_t>(), 0);
}

TEST(Standins, CosmoflowMeanCountsFollowTheDensityTargetAlone) {
    // Only t2 moves the mean: mean counts = 4 exp(0.5 t2) up to the field's sampling noise.
    const CosmoflowSamples s = make_cosmoflow(64, 16, 3, 1);
    const torch::Tensor log_mean = s.counts.to(torch::kFloat32).mean({1, 2, 3, 4}).log();
    const auto correlation = [&](std::int64_t target) {
        return torch::corrcoef(torch::stack({log_mean, s.targets.select(1, target)}))[0][1]
            .item<float>();
    };
    EXPECT_GT(correlation(2), 0.9F);
    EXPECT_NEAR((log_mean - 0.5 * s.targets.select(1, 2)).mean().item<float>(), std::log(4.0F),
                0.1F);
    for (const std::int64_t other : {0, 1, 3}) {
        EXPECT_LT(std::abs(correlation(other)), 0.5F) << "target " << other;
    }
}

TEST(Standins, DeepcamIsMostlyBackgroundWithBothStructuresInEverySample) {
    const DeepcamSamples s = make_deepcam(8, 48, 64, 5, 1);
    EXPECT_EQ(s.data.sizes(), (std::vector<std::int64_t>{8, 48, 64, 16}));
    EXPECT_EQ(s.labels.sizes(), (std::vector<std::int64_t>{8, 48, 64}));
    const double background = s.labels.eq(0).to(torch::kFloat32).mean().item<double>();
    EXPECT_GT(background, 0.75);
    EXPECT_LT(background, 0.97);
    for (std::int64_t i = 0; i < 8; ++i) {
        EXPECT_GT(s.labels[i].eq(1).sum().item<std::int64_t>(), 0) << i;
        EXPECT_GT(s.labels[i].eq(2).sum().item<std::int64_t>(), 0) << i;
    }
    EXPECT_TRUE(torch::equal(make_deepcam(3, 48, 64, 5, 1).data, s.data.narrow(0, 0, 3)));
    EXPECT_FALSE(torch::equal(make_deepcam(3, 48, 64, 5, 2).data, s.data.narrow(0, 0, 3)));
}

/// sha256 of a tensor's bytes (contiguous, native little-endian: what numpy's tobytes() gives).
std::string digest(const torch::Tensor& t) {
    const torch::Tensor c = t.contiguous();
    return util::sha256_hex(
        std::string_view(static_cast<const char*>(c.data_ptr()),
                         static_cast<std::size_t>(c.numel() * c.element_size())));
}

/// Runs a Python snippet with the real numpy / h5py; returns its stdout lines.
std::vector<std::string> python_lines(const std::string& code, const fs::path& dir) {
    const fs::path script = dir / "check.py";
    std::ofstream(script) << code;
    const kakuren::testing::Output out =
        kakuren::testing::run({{"/usr/bin/python3", script.string(), dir.string()}}, dir);
    EXPECT_EQ(out.code, 0) << out.err;
    std::vector<std::string> lines;
    std::istringstream in(out.out);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

TEST(StandinFiles, CosmoflowFilesHoldTheInMemorySamplesInNvidiasNumpyLayout) {
    const TempDir dir;
    SynthConfig c;
    c.kind = "cosmoflow";
    c.train = 5;
    c.validation = 2;
    c.size = 8;
    c.out = (dir.path() / "cf").string();
    const SynthResult r = write_standin(c);
    EXPECT_EQ(r.files, 2 * 7 + 4);
    const std::vector<std::string> lines = python_lines(R"py(
import hashlib, os, sys
import numpy as np
for split in ("train", "validation"):
    d = os.path.join(sys.argv[1], "cf", split)
    data = [np.load(os.path.join(d, f.strip())) for f in open(os.path.join(d, "files_data.lst"))]
    label = [np.load(os.path.join(d, f.strip())) for f in open(os.path.join(d, "files_label.lst"))]
    assert data[0].dtype == np.int16 and data[0].shape == (4, 8, 8, 8), (data[0].dtype, data[0].shape)
    assert label[0].dtype == np.float32 and label[0].shape == (4,)
    print(split, len(data), hashlib.sha256(np.stack(data).tobytes()).hexdigest(),
          hashlib.sha256(np.stack(label).tobytes()).hexdigest())
)py",
                                                        dir.path());
    ASSERT_EQ(lines.size(), 2U);
    const CosmoflowSamples train = make_cosmoflow(5, 8, c.seed, 1);
    const CosmoflowSamples validation = make_cosmoflow(2, 8, c.seed, 2);
    EXPECT_EQ(lines[0], "train 5 " + digest(train.counts) + " " + digest(train.targets));
    EXPECT_EQ(lines[1],
              "validation 2 " + digest(validation.counts) + " " + digest(validation.targets));
}

TEST(StandinFiles, DeepcamFilesHoldTheInMemorySamplesInTheReferenceHdf5Layout) {
    const TempDir dir;
    SynthConfig c;
    c.kind = "deepcam";
    c.train = 3;
    c.validation = 1;
    c.height = 16;
    c.width = 24;
    c.out = (dir.path() / "dc").string();
    write_standin(c);
    const std::vector<std::string> lines = python_lines(R"py(
import glob, hashlib, os, sys
import h5py, numpy as np
root = os.path.join(sys.argv[1], "dc")
for split in ("train", "validation"):
    files = sorted(glob.glob(os.path.join(root, split, "*.h5")))
    data, labels = [], []
    for name in files:
        with h5py.File(name, "r") as f:
            data.append(f["climate/data"][...])
            labels.append(f["climate/labels_0"][...])
    assert data[0].dtype == np.float32 and data[0].shape == (16, 24, 16), data[0].shape
    assert labels[0].dtype == np.uint8 and labels[0].shape == (16, 24)
    print(split, len(files), hashlib.sha256(np.stack(data).tobytes()).hexdigest(),
          hashlib.sha256(np.stack(labels).tobytes()).hexdigest())
with h5py.File(os.path.join(root, "stats.h5"), "r") as f:
    print("stats", " ".join(sorted(f["climate"].keys())), f["climate/mean"].shape[0])
)py",
                                                        dir.path());
    ASSERT_EQ(lines.size(), 3U);
    const DeepcamSamples train = make_deepcam(3, 16, 24, c.seed, 1);
    const DeepcamSamples validation = make_deepcam(1, 16, 24, c.seed, 2);
    EXPECT_EQ(lines[0],
              "train 3 " + digest(train.data) + " " + digest(train.labels.to(torch::kUInt8)));
    EXPECT_EQ(lines[1], "validation 1 " + digest(validation.data) + " " +
                            digest(validation.labels.to(torch::kUInt8)));
    EXPECT_EQ(lines[2], "stats maxval mean minval std 16");
}

TEST(StandinFiles, AnUnwritableFolderIsNamed) {
    SynthConfig c;
    c.kind = "cosmoflow";
    c.train = 1;
    c.validation = 1;
    c.size = 4;
    c.out = "/proc/kakuren-cannot-write-here";
    try {
        write_standin(c);
        ADD_FAILURE() << "wrote into /proc";
    } catch (const RuntimeFailure& e) {
        EXPECT_NE(std::string(e.what()).find("cannot write /proc/kakuren-cannot-write-here"),
                  std::string::npos)
            << e.what();
    }
}

} // namespace
} // namespace kakuren::trainer

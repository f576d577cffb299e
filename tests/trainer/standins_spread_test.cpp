// The DeepCAM stand-in's spread mode (data.synthetic_difficulty = "spread",
// trainer/standins_spread.cpp): seeded per (seed, split, sample) like the uniform mode, and really
// spread: about a quarter of the samples hold no event pixel, and the others' event sizes and
// contrasts span several fold (the bounds below, which trainer/standins.hpp documents).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
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

constexpr auto k_spread = DeepcamDifficulty::spread;

/// The q-quantile (0..1) of values (sorted copy, nearest rank).
double quantile(std::vector<double> values, double q) {
    std::sort(values.begin(), values.end());
    const auto at = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
    return values.at(at);
}

/// Per sample with events: its event pixel count and its contrast, the mean squared norm (over
/// the 16 channels) of its event pixels over that of its background pixels.
struct EventStats {
    std::int64_t quiet = 0; ///< samples without an event pixel
    std::vector<double> pixels, contrast;
};

EventStats event_stats(const DeepcamSamples& s) {
    EventStats out;
    const torch::Tensor energy = s.data.square().sum(-1); // [N, H, W]
    for (std::int64_t i = 0; i < s.labels.size(0); ++i) {
        const torch::Tensor event = s.labels[i].ne(0);
        const std::int64_t n = event.sum().item<std::int64_t>();
        if (n == 0) {
            ++out.quiet;
            continue;
        }
        const double inside = energy[i].masked_select(event).mean().item<double>();
        const double outside = energy[i].masked_select(event.logical_not()).mean().item<double>();
        out.pixels.push_back(static_cast<double>(n));
        out.contrast.push_back(inside / outside);
    }
    return out;
}

TEST(StandinsSpread, IsSeededPerSampleAndDiffersFromTheUniformMode) {
    const DeepcamSamples a = make_deepcam(12, 32, 32, 7, 1, k_spread);
    const DeepcamSamples b = make_deepcam(12, 32, 32, 7, 1, k_spread);
    EXPECT_TRUE(torch::equal(a.data, b.data));
    EXPECT_TRUE(torch::equal(a.labels, b.labels));
    // Sample i depends on (seed, split, i) alone: a smaller set is a prefix.
    const DeepcamSamples prefix = make_deepcam(5, 32, 32, 7, 1, k_spread);
    EXPECT_TRUE(torch::equal(prefix.data, a.data.narrow(0, 0, 5)));
    EXPECT_TRUE(torch::equal(prefix.labels, a.labels.narrow(0, 0, 5)));
    EXPECT_FALSE(torch::equal(make_deepcam(12, 32, 32, 8, 1, k_spread).data, a.data));
    EXPECT_FALSE(torch::equal(make_deepcam(12, 32, 32, 7, 2, k_spread).data, a.data));
    EXPECT_FALSE(torch::equal(make_deepcam(12, 32, 32, 7, 1).data, a.data));
}

TEST(StandinsSpread, HasQuietSamplesAndEventsOfVeryDifferentSizesAndContrasts) {
    const std::int64_t n = 400;
    const EventStats spread = event_stats(make_deepcam(n, 32, 32, 3, 1, k_spread));
    // A quarter of the samples are quiet (binomial sd 0.022 at n = 400).
    const double quiet_share = static_cast<double>(spread.quiet) / static_cast<double>(n);
    EXPECT_GT(quiet_share, 0.17);
    EXPECT_LT(quiet_share, 0.33);
    const double pixels_ratio = quantile(spread.pixels, 0.9) / quantile(spread.pixels, 0.1);
    const double contrast_ratio =
        (quantile(spread.contrast, 0.9) - 1) / (quantile(spread.contrast, 0.1) - 1);
    // The uniform mode, for scale: every sample has events, of similar size and contrast.
    const EventStats uniform = event_stats(make_deepcam(n, 32, 32, 3, 1));
    EXPECT_EQ(uniform.quiet, 0);
    const double uniform_pixels_ratio =
        quantile(uniform.pixels, 0.9) / quantile(uniform.pixels, 0.1);
    const double uniform_contrast_ratio =
        (quantile(uniform.contrast, 0.9) - 1) / (quantile(uniform.contrast, 0.1) - 1);
    // Measured (seed 3): quiet 0.27; event pixels p90 / p10 5.2 (uniform 2.8); contrast above 1,
    // p90 / p10 14 (uniform 1.8).
    EXPECT_GT(pixels_ratio, 4.0);
    EXPECT_GT(contrast_ratio, 8.0);
    EXPECT_GT(pixels_ratio, 1.5 * uniform_pixels_ratio);
    EXPECT_GT(contrast_ratio, 2.0 * uniform_contrast_ratio);
}

TEST(StandinsSpread, DifficultyNamesAreTheRecipes) {
    EXPECT_EQ(deepcam_difficulty("uniform"), DeepcamDifficulty::uniform);
    EXPECT_EQ(deepcam_difficulty("spread"), k_spread);
    try {
        deepcam_difficulty("hard");
        ADD_FAILURE() << "no error";
    } catch (const UsageError& e) {
        EXPECT_STREQ(e.what(),
                     "unknown deepcam stand-in difficulty \"hard\"; expected uniform or spread");
    }
}

/// sha256 of a tensor's bytes (contiguous, native little-endian: what numpy's tobytes() gives).
std::string digest(const torch::Tensor& t) {
    const torch::Tensor c = t.contiguous();
    return util::sha256_hex(
        std::string_view(static_cast<const char*>(c.data_ptr()),
                         static_cast<std::size_t>(c.numel() * c.element_size())));
}

/// `kakuren data synth KIND --difficulty spread` of `train` + 1 samples into out.
SynthConfig spread_synth(const std::string& kind, std::int64_t train, const std::string& out) {
    SynthConfig c;
    c.kind = kind;
    c.difficulty = "spread";
    c.train = train;
    c.validation = 1;
    c.out = out;
    return c;
}

TEST(StandinsSpread, DataSynthWritesTheSpreadSamples) {
    const kakuren::testing::TempDir dir;
    const SynthConfig c = spread_synth("deepcam", 6, (dir.path() / "dc").string());
    write_standin(c);
    const std::filesystem::path script = dir.path() / "check.py";
    std::ofstream(script) << R"py(
import glob, hashlib, os, sys
import h5py, numpy as np
files = sorted(glob.glob(os.path.join(sys.argv[1], "dc", "train", "*.h5")))
data = [h5py.File(f, "r")["climate/data"][...] for f in files]
labels = [h5py.File(f, "r")["climate/labels_0"][...] for f in files]
print(len(files), hashlib.sha256(np.stack(data).tobytes()).hexdigest(),
      hashlib.sha256(np.stack(labels).tobytes()).hexdigest())
)py";
    const kakuren::testing::Output out = kakuren::testing::run(
        {{"/usr/bin/python3", script.string(), dir.path().string()}}, dir.path());
    ASSERT_EQ(out.code, 0) << out.err;
    const DeepcamSamples train = make_deepcam(6, 32, 32, c.seed, 1, k_spread);
    EXPECT_EQ(out.out,
              "6 " + digest(train.data) + " " + digest(train.labels.to(torch::kUInt8)) + "\n");
}

TEST(StandinsSpread, DataSynthRefusesASpreadCosmoflowBeforeWriting) {
    const kakuren::testing::TempDir dir;
    SynthConfig c = spread_synth("cosmoflow", 1, (dir.path() / "cf").string());
    c.size = 4;
    try {
        write_standin(c);
        ADD_FAILURE() << "wrote a spread cosmoflow";
    } catch (const UsageError& e) {
        EXPECT_STREQ(
            e.what(),
            "data synth: --difficulty spread is for deepcam; cosmoflow has one difficulty");
    }
    EXPECT_FALSE(std::filesystem::exists(c.out));
}

} // namespace
} // namespace kakuren::trainer

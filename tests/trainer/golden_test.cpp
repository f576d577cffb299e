// Golden digests: every hiding strategy on the shipped recipes ends with the same final weights,
// per-sample statistics and hidden sets, bit for bit, as when the digests were recorded. A change
// to the trainer that is meant to leave training alone (a refactor, a faster kernel path) must
// pass this unchanged; a change that alters training on purpose updates the file:
//
//   KAKUREN_UPDATE_GOLDEN=1 ctest --test-dir build -R Golden
//
// and says why in its commit. The runs use one intra-op thread and fixed CPU kernel levels
// (ATen AVX2, OpenBLAS Haswell, oneDNN AVX2, set by CTest: tests/trainer/CMakeLists.txt) so that
// the bits do not depend on the machine's core count or its widest vector unit.
// KAKUREN_GOLDEN_FULL=1 runs the shipped Fashion-MNIST recipe on the whole data set (two epochs,
// about 10 minutes); the suite runs it on its first 6000 training and 2000 test samples.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/config_map.hpp"
#include "recipes/recipe.hpp"
#include "trainer/device.hpp"
#include "trainer/trainer.hpp"
#include "util/hash.hpp"
#include "util/mllog.hpp"

namespace kakuren::trainer {
namespace {

const std::filesystem::path k_source = KAKUREN_SOURCE_DIR;
const std::vector<std::string> k_strategies = {"none", "kakurenbo",          "random", "infobatch",
                                               "iswr", "selective_backprop", "rotate"};

/// 64-bit FNV-1a over bytes (util/hash.hpp).
class Digest {
  public:
    void add(const void* data, std::size_t size) { m_hash.add(data, size); }
    template <class T> void add(std::span<const T> values) {
        add(values.data(), values.size_bytes());
    }
    [[nodiscard]] std::string hex() const {
        std::ostringstream out;
        out << std::hex << m_hash.value();
        return out.str();
    }

  private:
    util::Fnv1a m_hash;
};

class Recorder : public Observer {
  public:
    void on_epoch(const EpochResult& r) override {
        hidden.add(std::span<const std::int64_t>(r.hidden_ids));
        const auto size = static_cast<std::int64_t>(r.hidden_ids.size());
        hidden.add(&size, sizeof size);
        stats = Digest{};
        stats.add(r.stats.loss);
        stats.add(r.stats.correct);
        stats.add(r.stats.confidence);
        const double accuracy = r.test_accuracy;
        curve.add(&accuracy, sizeof accuracy);
        curve.add(&r.train_loss, sizeof r.train_loss);
    }
    Digest hidden, stats, curve;
};

/// Bits are exact per LibTorch release (and device and CPU kernel level, pinned by CTest): each
/// release has its own file; LibTorch 1.13's keep their original names.
std::string golden_file() {
    const std::string release = torch_release();
    const std::string suffix = release == "1.13" ? "" : "-" + release;
    return (k_source / "tests/trainer/golden" /
            ((std::getenv("KAKUREN_GOLDEN_FULL") != nullptr ? "digests_full" : "digests") + suffix +
             ".txt"))
        .string();
}

std::map<std::string, std::string> read_golden() {
    std::map<std::string, std::string> out;
    std::ifstream in(golden_file());
    std::string key, value;
    while (in >> key) {
        std::getline(in >> std::ws, value);
        out[key] = value;
    }
    return out;
}

struct Case {
    std::string recipe;
    std::vector<std::string> overrides;
};

/// "model=… stats=… hidden=… curve=…" of one run.
std::string run_digests(const Case& c, const std::string& strategy) {
    std::vector<std::string> overrides = c.overrides;
    overrides.push_back("hiding.strategy=" + strategy);
    overrides.emplace_back("run.threads=1");
    const recipes::Recipe recipe = recipes::load(k_source / "recipes" / c.recipe, overrides);
    Config config = cli::trainer_config(recipe);
    config.checkpoint.reset();
    Recorder recorder;
    util::MlLog no_log;
    const Summary summary = train(config, recorder, no_log);
    std::ostringstream out;
    out << "model=" << std::hex << summary.model_digest << " stats=" << recorder.stats.hex()
        << " hidden=" << recorder.hidden.hex() << " curve=" << recorder.curve.hex();
    return out.str();
}

void check(const std::string& name, const Case& c) {
    const bool update = std::getenv("KAKUREN_UPDATE_GOLDEN") != nullptr;
    if (!update && !std::filesystem::exists(golden_file())) {
        // A LibTorch the project does not build itself (both flavours have their files).
        GTEST_SKIP() << "no golden digests recorded for LibTorch " << torch_release() << " ("
                     << golden_file() << "); KAKUREN_UPDATE_GOLDEN=1 records them";
    }
    std::map<std::string, std::string> golden = read_golden();
    for (const std::string& strategy : k_strategies) {
        std::string key = name;
        key += "/";
        key += strategy;
        const std::string actual = run_digests(c, strategy);
        if (update) {
            golden[key] = actual;
        } else {
            ASSERT_TRUE(golden.count(key))
                << "no golden digests for " << key << " in " << golden_file()
                << " (KAKUREN_UPDATE_GOLDEN=1 records them)";
            EXPECT_EQ(actual, golden[key]) << key;
        }
    }
    if (update) {
        std::ofstream out(golden_file(), std::ios::trunc);
        for (const auto& [key, value] : golden) {
            out << key << " " << value << "\n";
        }
    }
}

TEST(Golden, SyntheticTinyEveryStrategy) {
    check("synthetic_tiny", {"synthetic_tiny.toml", {}});
}

TEST(Golden, ShippedFashionMnistTwoEpochsEveryStrategy) {
    std::vector<std::string> overrides = {"schedule.epochs=2", "schedule.milestones=[1]"};
    if (std::getenv("KAKUREN_GOLDEN_FULL") == nullptr) {
        overrides.emplace_back("data.train_limit=6000");
        overrides.emplace_back("data.test_limit=2000");
    }
    check("fashion_mnist_cnn", {"fashion_mnist_cnn.toml", overrides});
}

} // namespace
} // namespace kakuren::trainer

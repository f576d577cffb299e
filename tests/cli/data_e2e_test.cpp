// kakuren data convert / inspect and kakuren run on npy and hdf5 data: the real binary, data
// written by kakuren data convert or by the real numpy (/usr/bin/python3) inside the test.
#include <filesystem>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "support/files.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace {

namespace fs = std::filesystem;
using kakuren::testing::quoted;
using kakuren::testing::TempDir;

class DataE2E : public ::testing::Test {
  protected:
    kakuren::testing::Output kakuren(const std::string& args) {
        return kakuren::testing::run_shell("cd " + quoted(m_dir.path().string()) +
                                               " && '" KAKUREN_BIN "' " + args + " --workspace " +
                                               quoted((m_dir / "ws").string()),
                                           m_dir.path());
    }
    kakuren::testing::Output plain(const std::string& args) {
        return kakuren::testing::run_shell(
            "cd " + quoted(m_dir.path().string()) + " && '" KAKUREN_BIN "' " + args, m_dir.path());
    }
    TempDir m_dir{"kakuren-data-e2e"};
};

TEST_F(DataE2E, ConvertInspectAndTrainEveryFormat) {
    for (const char* to : {"npy", "hdf5"}) {
        const auto r = plain(std::string("data convert --to ") + to + " fm-" + to);
        ASSERT_EQ(r.code, 0) << r.out << r.err;
    }
    EXPECT_TRUE(fs::exists(m_dir / "fm-npy/train/data.npy"));
    EXPECT_TRUE(fs::exists(m_dir / "fm-hdf5/test.h5"));

    const auto inspected = kakuren("data inspect fm-npy --format json");
    ASSERT_EQ(inspected.code, 0) << inspected.out << inspected.err;
    EXPECT_NE(inspected.out.find("\"samples\": 60000"), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"samples\": 10000"), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"classes\": 10"), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"problems_found\": 0"), std::string::npos) << inspected.out;
    const auto text = kakuren("data inspect fm-hdf5");
    ASSERT_EQ(text.code, 0) << text.out << text.err;
    EXPECT_NE(text.out.find("uint8 [1, 28, 28]"), std::string::npos) << text.out;

    // A recipe beside the data, relative paths; 1,000 samples, two epochs, kakurenbo.
    kakuren::testing::write_file(m_dir / "npy.toml", R"(
[run]
name = "npy"
threads = 1
[data]
dataset = "npy"
train = "fm-npy/train"
test = "fm-npy/test"
train_limit = 1000
test_limit = 200
[model]
channels = [4, 8]
fc = 16
[schedule]
epochs = 2
milestones = []
[hiding]
strategy = "none"
)");
    const auto run = kakuren("run npy.toml --quiet --format json");
    ASSERT_TRUE(run.code == 0 || run.code == 3) << run.out << run.err;
    const auto show = kakuren("show npy --format json");
    ASSERT_EQ(show.code, 0) << show.out << show.err;
    EXPECT_NE(show.out.find("\"bytes_read\": 785000"), std::string::npos) << show.out;
    const auto table = kakuren("show npy");
    EXPECT_NE(table.out.find("READ MB"), std::string::npos) << table.out;
}

TEST_F(DataE2E, TwoRanksEachReadTheirOwnShard) {
    ASSERT_EQ(plain("data convert --to hdf5 fm").code, 0);
    kakuren::testing::write_file(m_dir / "two.toml", R"(
[run]
name = "two"
threads = 1
[data]
dataset = "hdf5"
train = "fm/train.h5"
test = "fm/test.h5"
train_limit = 2000
test_limit = 400
[model]
channels = [4, 8]
fc = 16
[schedule]
epochs = 2
milestones = []
[hiding]
strategy = "none"
[slurm]
ntasks_per_node = 2
[launcher]
backend = "local"
)");
    fs::create_directories(m_dir / "ws");
    const auto submitted = kakuren("submit two.toml");
    ASSERT_EQ(submitted.code, 0) << submitted.out << submitted.err;
    // A deadline against a hang only; the job ends on its own.
    std::string status;
    EXPECT_TRUE(kakuren::testing::wait_until(
        [&] {
            status = kakuren("status").out;
            return status.find("completed") != std::string::npos ||
                   status.find("failed") != std::string::npos;
        },
        600))
        << status;
    ASSERT_NE(status.find("completed"), std::string::npos) << status;
    const auto show = kakuren("show two --format json");
    // Rank 0 read its half of the 2,000 samples (785 bytes each) in every epoch, no more.
    EXPECT_EQ(show.out.find("\"bytes_read\": 1570000"), std::string::npos) << show.out;
    std::size_t at = 0, count = 0;
    while ((at = show.out.find("\"bytes_read\": 785000", at)) != std::string::npos) {
        ++count;
        ++at;
    }
    EXPECT_EQ(count, 2U) << show.out;
}

TEST_F(DataE2E, ConvertInspectAndTrainImages) {
    const auto r = plain("data convert --to images fm-img");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(fs::exists(m_dir / "fm-img/train/9"));
    EXPECT_TRUE(fs::exists(m_dir / "fm-img/test/files.lst"));

    const auto inspected = kakuren("data inspect fm-img --format json");
    ASSERT_EQ(inspected.code, 0) << inspected.out << inspected.err;
    EXPECT_NE(inspected.out.find("\"format\": \"images\""), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"samples\": 60000"), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"samples\": 10000"), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"classes\": 10"), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"image_sizes\": \"28x28, grey\""), std::string::npos)
        << inspected.out;
    EXPECT_NE(inspected.out.find("\"problems_found\": 0"), std::string::npos) << inspected.out;

    // With the augmentation: 1,000 samples, two epochs, no hiding: each epoch reads the first
    // 1,000 files of files.lst (the IDX order), their encoded bytes.
    kakuren::testing::write_file(m_dir / "img.toml", R"(
[run]
name = "img"
threads = 1
[data]
dataset = "images"
train = "fm-img/train"
test = "fm-img/test"
train_limit = 1000
test_limit = 200
random_crop = 2
hflip = true
[model]
channels = [4, 8]
fc = 16
[schedule]
epochs = 2
milestones = []
[hiding]
strategy = "none"
)");
    const auto check = plain("recipe check img.toml");
    ASSERT_EQ(check.code, 0) << check.out << check.err;
    const auto run = kakuren("run img.toml --quiet --format json");
    ASSERT_TRUE(run.code == 0 || run.code == 3) << run.out << run.err;
    std::uintmax_t bytes = 0;
    std::istringstream list(kakuren::testing::slurp(m_dir / "fm-img/train/files.lst"));
    std::string line;
    for (int i = 0; i < 1000 && std::getline(list, line); ++i) {
        bytes += fs::file_size(m_dir / "fm-img/train" / line);
    }
    const auto show = kakuren("show img --format json");
    ASSERT_EQ(show.code, 0) << show.out << show.err;
    EXPECT_NE(show.out.find("\"bytes_read\": " + std::to_string(bytes)), std::string::npos)
        << bytes << "\n"
        << show.out;
}

TEST_F(DataE2E, InspectNamesBadImagesAndExitsOne) {
    kakuren::testing::write_file(m_dir / "make.py", R"(
import numpy as np, os
from PIL import Image
os.makedirs('bad/shirt')
for i in range(4):
    Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save('bad/shirt/%d.png' % i)
with open('bad/shirt/2.png', 'r+b') as f: f.truncate(40)
)");
    const auto made = kakuren::testing::run_shell(
        "cd " + quoted(m_dir.path().string()) + " && /usr/bin/python3 make.py", m_dir.path());
    ASSERT_EQ(made.code, 0) << made.err;
    const auto r = kakuren("data inspect bad");
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find((m_dir / "bad/shirt/2.png").string() + " (sample 2): corrupt PNG"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("problems found: 1"), std::string::npos) << r.out;
}

TEST_F(DataE2E, InspectNamesBadSamplesAndExitsOne) {
    kakuren::testing::write_file(m_dir / "make.py", R"(
import numpy as np, os
os.makedirs('bad')
for i in range(6):
    np.save('bad/x%d.npy' % i, np.zeros((1, 4, 4), np.uint8))
    np.save('bad/y%d.npy' % i, np.int64(i % 2))
with open('bad/x3.npy', 'r+b') as f: f.truncate(130)
open('bad/files_data.lst', 'w').writelines('x%d.npy\n' % i for i in range(6))
open('bad/files_label.lst', 'w').writelines('y%d.npy\n' % i for i in range(6))
)");
    const auto made = kakuren::testing::run_shell(
        "cd " + quoted(m_dir.path().string()) + " && /usr/bin/python3 make.py", m_dir.path());
    ASSERT_EQ(made.code, 0) << made.err;
    const auto r = kakuren("data inspect bad");
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find((m_dir / "bad/x3.npy").string() + " (sample 3): file ends early"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("problems found: 1"), std::string::npos) << r.out;
}

TEST_F(DataE2E, RecipeCheckWantsBothSplits) {
    kakuren::testing::write_file(
        m_dir / "r.toml",
        "[data]\ndataset = \"hdf5\"\ntrain = \"nope.h5\"\nstage = \"node-local\"\n");
    const auto r = plain("recipe check r.toml");
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("r.toml:3:9: error: data.train: " + (m_dir / "nope.h5").string() +
                         " does not exist"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("needs data.train and data.test; missing data.test"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("data.stage = \"node-local\" stages the IDX files only"),
              std::string::npos)
        << r.err;
}

} // namespace

namespace {

// The shipped file-based mini recipes (recipes/cosmoflow_mini.toml, deepcam_mini.toml) read what
// `kakuren data synth` writes, where their comments say to write it (../data/<name> beside the
// recipes folder): a short run of each trains from the files and records its metric and the bytes
// it read. (The in-memory variants reach the MLPerf targets in science_recipes_test.)
class ScienceFilesE2E : public DataE2E {
  protected:
    void copy_recipe(const std::string& name) {
        fs::create_directories(m_dir / "recipes");
        fs::copy_file(fs::path(KAKUREN_SOURCE_DIR) / "recipes" / name, m_dir / "recipes" / name,
                      fs::copy_options::overwrite_existing);
    }
};

TEST_F(ScienceFilesE2E, CosmoflowMiniTrainsFromTheSynthNpyFiles) {
    const auto synth = plain("data synth cosmoflow --size 16 --samples 96 --validation-samples 32 "
                             "-o data/cosmoflow-standin");
    ASSERT_EQ(synth.code, 0) << synth.out << synth.err;
    EXPECT_TRUE(fs::exists(m_dir / "data/cosmoflow-standin/train/files_data.lst"));
    copy_recipe("cosmoflow_mini.toml");
    const auto check = plain("recipe check recipes/cosmoflow_mini.toml");
    ASSERT_EQ(check.code, 0) << check.out << check.err;
    const auto run = kakuren("run recipes/cosmoflow_mini.toml --quiet --set schedule.epochs=2 "
                             "--set hiding.strategy=kakurenbo");
    // 2 epochs on 96 samples do not reach MAE 0.124: exit 3 (target missed) is the expected end.
    ASSERT_EQ(run.code, 3) << run.out << run.err;
    const auto show = kakuren("show cosmoflow-standin-mini --format json");
    ASSERT_EQ(show.code, 0) << show.out << show.err;
    EXPECT_NE(show.out.find("\"metric\": \"MAE\""), std::string::npos) << show.out;
    // Epoch 1 hides nothing and reads all 96 samples: each a data file (128-byte header + int16
    // [4, 16, 16, 16]) and a label file (128-byte header + 4 float32).
    const int per_sample = (128 + 4 * 16 * 16 * 16 * 2) + (128 + 4 * 4);
    EXPECT_NE(show.out.find("\"bytes_read\": " + std::to_string(96 * per_sample)),
              std::string::npos)
        << show.out;
}

TEST_F(ScienceFilesE2E, DeepcamMiniTrainsFromTheSynthHdf5Files) {
    const auto synth = plain("data synth deepcam --height 32 --width 32 --samples 64 "
                             "--validation-samples 16 -o data/deepcam-standin");
    ASSERT_EQ(synth.code, 0) << synth.out << synth.err;
    EXPECT_TRUE(fs::exists(m_dir / "data/deepcam-standin/stats.h5"));
    copy_recipe("deepcam_mini.toml");
    const auto run = kakuren("run recipes/deepcam_mini.toml --quiet --set schedule.epochs=2");
    ASSERT_TRUE(run.code == 0 || run.code == 3) << run.out << run.err;
    const auto show = kakuren("show deepcam-standin-mini --format json");
    ASSERT_EQ(show.code, 0) << show.out << show.err;
    EXPECT_NE(show.out.find("\"metric\": \"IoU\""), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("\"bytes_read\""), std::string::npos) << show.out;
}

} // namespace

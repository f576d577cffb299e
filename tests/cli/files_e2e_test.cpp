// A new user's own image folder, end to end with the real binary and real PNG files written by
// Pillow: a data set's root given where a split belongs is refused before anything is recorded,
// and `kakuren hidden` names the image file of each hidden sample.
#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/files.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using kakuren::testing::quoted;

// Two classes of 8x8 RGB images, 40 training and 10 test images each, told apart by brightness.
const char* k_make_images = R"(
import numpy as np, os
from PIL import Image
rng = np.random.default_rng(3)
for split, n in (('train', 40), ('test', 10)):
    for c, name in enumerate(('cat', 'dog')):
        os.makedirs('pets/%s/%s' % (split, name))
        for i in range(n):
            px = np.clip(rng.normal(70 + 110 * c, 50, (8, 8, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(px).save('pets/%s/%s/img_%02d.png' % (split, name, i))
)";

const char* k_recipe = R"([run]
name = "pets"
threads = 1
[data]
dataset = "images"
train = "%TRAIN%"
test = "pets/test"
batch_size = 16
[model]
channels = [4, 8]
fc = 16
[schedule]
epochs = 3
[hiding]
strategy = "random"    # hides 30 % every epoch, whatever the model learned
fraction = 0.3
)";

class FilesE2E : public ::testing::Test {
  protected:
    void SetUp() override {
        kakuren::testing::write_file(m_dir / "make.py", k_make_images);
        const auto made = kakuren::testing::run_shell(
            "cd " + quoted(m_dir.path().string()) + " && /usr/bin/python3 make.py", m_dir.path());
        ASSERT_EQ(made.code, 0) << made.err;
    }
    void write_recipe(const std::string& train) const {
        std::string text = k_recipe;
        text.replace(text.find("%TRAIN%"), 7, train);
        kakuren::testing::write_file(m_dir / "r.toml", text);
    }
    kakuren::testing::Output kakuren(const std::string& args) {
        return plain(args + " --workspace " + quoted((m_dir / "ws").string()));
    }
    kakuren::testing::Output plain(const std::string& args) {
        return kakuren::testing::run_shell("cd " + quoted(m_dir.path().string()) + " && '" +
                                               KAKUREN_BIN + "' " + args,
                                           m_dir.path());
    }
    kakuren::testing::TempDir m_dir{"kakuren-files-e2e"};
};

} // namespace

TEST_F(FilesE2E, ADataSetRootAsTheTrainingSplitIsRefusedBeforeAnythingIsRecorded) {
    write_recipe("pets");
    const std::string wanted = "r.toml:6:9: error: data.train: " + (m_dir / "pets").string() +
                               " is a data set's root, not a split; did you mean " +
                               (m_dir / "pets/train").string() + "?";
    for (const auto& r : {plain("recipe check r.toml"), kakuren("run r.toml --quiet")}) {
        EXPECT_EQ(r.code, 2) << r.out << r.err;
        EXPECT_NE(r.err.find(wanted), std::string::npos) << r.err;
    }
    EXPECT_FALSE(fs::exists(m_dir / "ws" / "runs")) << "a run was recorded";
}

// ImageFolder's order: class folders sorted, then each one's files sorted.
TEST_F(FilesE2E, HiddenNamesTheImageFileOfEachHiddenSample) {
    write_recipe("pets/train");
    const auto run = kakuren("run r.toml --quiet --format json");
    ASSERT_EQ(run.code, 0) << run.out << run.err;
    const std::string id_key = "\"run_id\": \"";
    const auto at = run.out.find(id_key);
    ASSERT_NE(at, std::string::npos) << run.out;
    const std::string run_id = run.out.substr(
        at + id_key.size(), run.out.find('"', at + id_key.size()) - at - id_key.size());

    std::vector<std::string> expected;
    for (const char* name : {"cat", "dog"}) {
        for (int i = 0; i < 40; ++i) {
            char file[32];
            std::snprintf(file, sizeof file, "%s/img_%02d.png", name, i);
            expected.emplace_back(file);
        }
    }
    const auto hidden = kakuren("hidden " + run_id + " --epoch 3");
    ASSERT_EQ(hidden.code, 0) << hidden.out << hidden.err;
    std::istringstream lines(hidden.out);
    std::string line;
    std::getline(lines, line); // "epoch 3: N of 80 samples hidden (P)"
    std::getline(lines, line);
    EXPECT_EQ("sample  file (in " + (m_dir / "pets/train").string() + ")", line);
    int listed = 0;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        long id = -1;
        std::string file;
        words >> id >> file;
        ASSERT_TRUE(id >= 0 && id < 80) << line;
        EXPECT_EQ(expected[static_cast<std::size_t>(id)], file) << line;
        ++listed;
    }
    EXPECT_GT(listed, 0) << "nothing hidden in epoch 3:\n" << hidden.out;

    const auto json = kakuren("hidden " + run_id + " --epoch 3 --format json");
    ASSERT_EQ(json.code, 0) << json.err;
    EXPECT_NE(json.out.find("\"files\":[\"" + (m_dir / "pets/train").string() + "/"),
              std::string::npos)
        << json.out;

    const auto one = kakuren("hidden " + run_id + " --sample 45");
    ASSERT_EQ(one.code, 0) << one.err;
    EXPECT_EQ(0U, one.out.find("sample 45 (" + (m_dir / "pets/train/dog/img_05.png").string() +
                               ") was hidden in "))
        << one.out;
}

// The user's data as it is (issue 24): npy arrays under their own names with their targets
// files (data.train_targets), HDF5 datasets named per split in one file ("all.h5:/train/images")
// and channels-last arrays (data.layout = "nhwc") train bit-identically to the standard layout
// (folders of data.npy + targets.npy), through the real kakuren binary; files written by the
// real numpy and h5py (/usr/bin/python3) inside the test. Each mistake is a located recipe
// error (exit 2) before anything is recorded.
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/files.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using kakuren::testing::quoted;
using kakuren::testing::TempDir;

/// The same samples in every layout: 3 x 16 x 16 uint8 images, 4 classes (int64 labels).
const char* const k_make = R"py(
import numpy as np, h5py, os
rng = np.random.default_rng(7)
splits = {}
for name, n in (('train', 240), ('test', 80)):
    y = rng.integers(0, 4, n).astype(np.int64)
    x = rng.integers(0, 200, (n, 3, 16, 16)).astype(np.uint8)
    x[np.arange(n), y % 3] += 55   # a learnable class signal
    splits[name] = (x, y)
os.makedirs('mine', exist_ok=True)
for name, (x, y) in splits.items():
    os.makedirs('std/' + name, exist_ok=True)
    np.save('std/%s/data.npy' % name, x)
    np.save('std/%s/targets.npy' % name, y)
    np.save('mine/x_%s.npy' % name, x)
    np.save('mine/labels_%s.npy' % name, y)
    np.save('mine/x_%s_nhwc.npy' % name, np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
with h5py.File('all.h5', 'w') as f:
    for name, (x, y) in splits.items():
        f[name + '/images'] = x
        f[name + '/labels'] = y
        f[name + '/images_nhwc'] = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
)py";

class UserDataE2E : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        s_dir = new TempDir("kakuren-user-data");
        kakuren::testing::write_file(s_dir->path() / "make.py", k_make);
        const auto made = kakuren::testing::run_shell(
            "cd " + quoted(s_dir->path().string()) + " && /usr/bin/python3 make.py", s_dir->path());
        ASSERT_EQ(made.code, 0) << made.out << made.err;
    }
    static void TearDownTestSuite() {
        delete s_dir;
        s_dir = nullptr;
    }

    static kakuren::testing::Output kakuren(const std::string& args) {
        return kakuren::testing::run_shell("cd " + quoted(s_dir->path().string()) +
                                               " && '" KAKUREN_BIN "' " + args + " --workspace " +
                                               quoted((s_dir->path() / "ws").string()),
                                           s_dir->path());
    }
    static kakuren::testing::Output plain(const std::string& args) {
        return kakuren::testing::run_shell("cd " + quoted(s_dir->path().string()) +
                                               " && '" KAKUREN_BIN "' " + args,
                                           s_dir->path());
    }

    /// Writes NAME.toml: a small CNN, two epochs, with `data` as its [data] table (line 6 on).
    static void write_recipe(const std::string& name, const std::string& data) {
        kakuren::testing::write_file(s_dir->path() / (name + ".toml"),
                                     "[run]\nname = \"" + name +
                                         "\"\nthreads = 1\nseed = 5\n[data]\n" + data +
                                         "[model]\nchannels = [4, 8]\nfc = 16\n"
                                         "[schedule]\nepochs = 2\nmilestones = []\n");
    }

    /// Trains NAME.toml and returns every per-epoch loss and accuracy as printed by
    /// `kakuren show --format json` (full precision).
    static std::vector<std::string> trained(const std::string& name) {
        const auto run = kakuren("run " + name + ".toml --quiet");
        EXPECT_EQ(run.code, 0) << run.out << run.err;
        const auto show = kakuren("show " + name + " --format json");
        EXPECT_EQ(show.code, 0) << show.out << show.err;
        std::vector<std::string> out;
        const std::regex value(
            R"re("(train_loss|test_loss|train_accuracy|test_accuracy)": ([^,\n]+))re");
        for (auto it = std::sregex_iterator(show.out.begin(), show.out.end(), value);
             it != std::sregex_iterator(); ++it) {
            out.push_back((*it)[1].str() + "=" + (*it)[2].str());
        }
        return out;
    }

    static std::string dir() { return s_dir->path().string(); }

    static TempDir* s_dir;
};
TempDir* UserDataE2E::s_dir = nullptr;

const char* const k_standard = "dataset = \"npy\"\ntrain = \"std/train\"\ntest = \"std/test\"\n";

TEST_F(UserDataE2E, NpyArraysUnderTheirOwnNamesTrainBitIdenticalToTheStandardLayout) {
    write_recipe("standard", k_standard);
    write_recipe("mine", "dataset = \"npy\"\ntrain = \"mine/x_train.npy\"\n"
                         "train_targets = \"mine/labels_train.npy\"\n"
                         "test = \"mine/x_test.npy\"\ntest_targets = \"mine/labels_test.npy\"\n");
    const std::vector<std::string> standard = trained("standard");
    ASSERT_EQ(standard.size(), 8U) << "2 epochs x 4 values";
    EXPECT_EQ(trained("mine"), standard);
}

TEST_F(UserDataE2E, AnArrayFileWithoutItsTargetsKeyIsARecipeError) {
    write_recipe("untargeted", "dataset = \"npy\"\ntrain = \"mine/x_train.npy\"\n"
                               "test = \"std/test\"\n");
    for (const auto& r : {plain("recipe check untargeted.toml"), kakuren("run untargeted.toml")}) {
        EXPECT_EQ(r.code, 2) << r.out << r.err;
        EXPECT_NE(r.err.find("untargeted.toml:7:9: error: data.train: " + dir() +
                             "/mine/x_train.npy is an array file; name its targets file in "
                             "data.train_targets"),
                  std::string::npos)
            << r.err;
    }
    EXPECT_FALSE(fs::exists(s_dir->path() / "ws" / "runs")) << "a run was recorded";
}

TEST_F(UserDataE2E, Hdf5DatasetsNamedPerSplitTrainBitIdenticalToTheStandardLayout) {
    write_recipe("standard", k_standard);
    write_recipe("h5", "dataset = \"hdf5\"\ntrain = \"all.h5:/train/images\"\n"
                       "train_targets = \"all.h5:/train/labels\"\n"
                       "test = \"all.h5:/test/images\"\ntest_targets = \"all.h5:/test/labels\"\n");
    const std::vector<std::string> standard = trained("standard");
    ASSERT_EQ(standard.size(), 8U);
    EXPECT_EQ(trained("h5"), standard);
}

TEST_F(UserDataE2E, AMissingHdf5DatasetNamesTheFileAndListsItsDatasets) {
    write_recipe("typo",
                 "dataset = \"hdf5\"\ntrain = \"all.h5:/train/imgs\"\n"
                 "train_targets = \"all.h5:/train/labels\"\n"
                 "test = \"all.h5:/test/images\"\ntest_targets = \"all.h5:/test/labels\"\n");
    const auto r = plain("recipe check typo.toml");
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("typo.toml:7:9: error: " + dir() +
                         "/all.h5: has no dataset \"train/imgs\" (data.train); the file holds "
                         "/test/images uint8 [80, 3, 16, 16], /test/images_nhwc uint8 [80, 16, "
                         "16, 3], /test/labels int64 [80], /train/images uint8 [240, 3, 16, 16], "
                         "/train/images_nhwc uint8 [240, 16, 16, 3], /train/labels int64 [240]"),
              std::string::npos)
        << r.err;
}

TEST_F(UserDataE2E, AMissingTargetsDatasetOrFileIsReportedAtItsTargetsKey) {
    write_recipe("labels",
                 "dataset = \"hdf5\"\ntrain = \"all.h5:/train/images\"\n"
                 "train_targets = \"all.h5:/train/lables\"\n"
                 "test = \"all.h5:/test/images\"\ntest_targets = \"all.h5:/test/labels\"\n");
    const auto r = plain("recipe check labels.toml");
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("labels.toml:8:17: error: " + dir() +
                         "/all.h5: has no dataset \"train/lables\" (data.train_targets); the file "
                         "holds "),
              std::string::npos)
        << r.err;
    // An npy targets file that is no array: at data.test_targets.
    kakuren::testing::write_file(s_dir->path() / "mine" / "broken.npy", "not numpy at all");
    write_recipe("broken", "dataset = \"npy\"\ntrain = \"std/train\"\n"
                           "test = \"mine/x_test.npy\"\ntest_targets = \"mine/broken.npy\"\n");
    const auto b = plain("recipe check broken.toml");
    EXPECT_EQ(b.code, 2) << b.out << b.err;
    EXPECT_NE(b.err.find("broken.toml:9:16: error: " + dir() + "/mine/broken.npy"),
              std::string::npos)
        << b.err;
}

TEST_F(UserDataE2E, ChannelsLastArraysTrainBitIdenticalWithLayoutNhwc) {
    write_recipe("standard", k_standard);
    write_recipe("npy_nhwc", "dataset = \"npy\"\nlayout = \"nhwc\"\n"
                             "train = \"mine/x_train_nhwc.npy\"\n"
                             "train_targets = \"mine/labels_train.npy\"\n"
                             "test = \"mine/x_test_nhwc.npy\"\n"
                             "test_targets = \"mine/labels_test.npy\"\n");
    write_recipe("h5_nhwc", "dataset = \"hdf5\"\nlayout = \"nhwc\"\n"
                            "train = \"all.h5:/train/images_nhwc\"\n"
                            "train_targets = \"all.h5:/train/labels\"\n"
                            "test = \"all.h5:/test/images_nhwc\"\n"
                            "test_targets = \"all.h5:/test/labels\"\n");
    const std::vector<std::string> standard = trained("standard");
    ASSERT_EQ(standard.size(), 8U);
    EXPECT_EQ(trained("npy_nhwc"), standard);
    EXPECT_EQ(trained("h5_nhwc"), standard);
}

TEST_F(UserDataE2E, ChannelsLastArraysReadAsNchwSayToSetTheLayout) {
    write_recipe("nchw", "dataset = \"npy\"\ntrain = \"mine/x_train_nhwc.npy\"\n"
                         "train_targets = \"mine/labels_train.npy\"\n"
                         "test = \"mine/x_test_nhwc.npy\"\n"
                         "test_targets = \"mine/labels_test.npy\"\n");
    const auto r = plain("recipe check nchw.toml");
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("the data has 16x3; the samples look channels-last (16 x 16 x 3, "
                         "[H, W, C]): set data.layout = \"nhwc\""),
              std::string::npos)
        << r.err;
}

TEST_F(UserDataE2E, InspectListsAFolderOfNpyFilesWithShapesAndTypes) {
    const auto r = plain("data inspect mine");
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_EQ(r.out, dir() + "/mine: a folder of .npy files\n"
                             "  labels_test.npy   int64 [80]\n"
                             "  labels_train.npy  int64 [240]\n"
                             "  x_test.npy        uint8 [80, 3, 16, 16]\n"
                             "  x_test_nhwc.npy   uint8 [80, 16, 16, 3]\n"
                             "  x_train.npy       uint8 [240, 3, 16, 16]\n"
                             "  x_train_nhwc.npy  uint8 [240, 16, 16, 3]\n"
                             "name them in the recipe: data.train = \"FOLDER/x_train.npy\" with "
                             "data.train_targets = \"FOLDER/y_train.npy\" (and data.test "
                             "alike)\nproblems found: 0\n");
    // What worked before prints as before: a standard split folder.
    const auto standard = plain("data inspect std");
    EXPECT_EQ(standard.code, 0) << standard.out << standard.err;
    EXPECT_NE(standard.out.find("train: " + dir() +
                                "/std/train\n  format   npy, one array per "
                                "split (data.npy, targets.npy)\n"),
              std::string::npos)
        << standard.out;
}

TEST_F(UserDataE2E, InspectListsTheDatasetsOfAnHdf5File) {
    const auto r = plain("data inspect all.h5 --format json");
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("\"name\": \"/train/images_nhwc\""), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"problems_found\": 0"), std::string::npos) << r.out;
    const auto text = plain("data inspect all.h5");
    EXPECT_NE(text.out.find("\n  /train/labels       int64 [240]\n"), std::string::npos)
        << text.out;
}

TEST_F(UserDataE2E, InspectOfARecipeShowsBothSplitsAsTheRecipeNamesThem) {
    write_recipe("h5", "dataset = \"hdf5\"\ntrain = \"all.h5:/train/images\"\n"
                       "train_targets = \"all.h5:/train/labels\"\n"
                       "test = \"all.h5:/test/images\"\ntest_targets = \"all.h5:/test/labels\"\n");
    const auto r = plain("data inspect h5.toml --set data.train=all.h5:/train/images_nhwc "
                         "--set data.test=all.h5:/test/images_nhwc --set data.layout=nhwc");
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("train: " + dir() + "/all.h5:/train/images_nhwc\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("test: " + dir() + "/all.h5:/test/images_nhwc\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("channels-last on disk (data.layout = \"nhwc\")"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("  samples  240\n  sample   uint8 [16, 16, 3]\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("  classes  4\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("problems found: 0\n"), std::string::npos) << r.out;
    // A bad recipe is a recipe error.
    const auto bad = plain("data inspect h5.toml --set data.layout=nwhc");
    EXPECT_EQ(bad.code, 2) << bad.out << bad.err;
}

} // namespace

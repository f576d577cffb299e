// Splits given as files (recipes/data_rules.hpp), found while the recipe loads: an npy array
// file needs its targets key, a folder refuses one, an hdf5 "FILE:/DATASET" split needs its
// targets dataset, other data sets refuse both targets keys and data.layout = "nhwc". The rules
// look at file system entries only, so the files here are empty (the data check that opens
// them is tested with real numpy / h5py files in tests/cli/user_data_e2e_test.cpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "recipes/recipe.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "util/data_path.hpp"

namespace fs = std::filesystem;
using kakuren::recipes::RecipeError;

namespace {

class DataRules : public ::testing::Test {
  protected:
    void touch(const std::string& name) const { kakuren::testing::write_file(m_dir / name, ""); }

    /// Loads text as m_dir/r.toml (the [data] table starts on line 1).
    kakuren::recipes::Recipe load(const std::string& text) const {
        kakuren::testing::write_file(m_dir / "r.toml", text);
        return kakuren::recipes::load(m_dir / "r.toml", {});
    }

    /// The messages of loading text; fails the test if it loads.
    std::vector<std::string> errors_of(const std::string& text) const {
        try {
            load(text);
        } catch (const RecipeError& e) {
            return e.messages();
        }
        ADD_FAILURE() << "loaded without an error";
        return {};
    }

    [[nodiscard]] std::string dir() const { return m_dir.path().string(); }

    kakuren::testing::TempDir m_dir{"kakuren-data-rules"};
};

} // namespace

TEST_F(DataRules, NpyArrayFilesWithTheirTargetsLoadAndResolve) {
    touch("arrays/x_train.npy");
    touch("arrays/y_train.npy");
    touch("arrays/x_test.npy");
    touch("arrays/y_test.npy");
    const auto r = load("[data]\ndataset = \"npy\"\ntrain = \"arrays/x_train.npy\"\n"
                        "train_targets = \"arrays/y_train.npy\"\ntest = \"arrays/x_test.npy\"\n"
                        "test_targets = \"arrays/y_test.npy\"\n");
    EXPECT_EQ(r.data.train, dir() + "/arrays/x_train.npy");
    EXPECT_EQ(r.data.train_targets, dir() + "/arrays/y_train.npy");
    EXPECT_EQ(r.data.test_targets, dir() + "/arrays/y_test.npy");
}

TEST_F(DataRules, NpyArrayFileWithoutItsTargetsKeyIsRefusedAtTheSplit) {
    touch("x_train.npy");
    touch("test/data.npy");
    const auto errors = errors_of("[data]\ndataset = \"npy\"\ntrain = \"x_train.npy\"\n"
                                  "test = \"test\"\n");
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_EQ(errors[0], m_dir.path().string() + "/r.toml:3:9: error: data.train: " + dir() +
                             "/x_train.npy is an array file; name its targets file in "
                             "data.train_targets (an .npy of [N] or [N, ...])");
}

TEST_F(DataRules, TargetsKeyBesideAFolderIsRefusedAtTheTargetsKey) {
    touch("train/data.npy");
    touch("test/data.npy");
    touch("y.npy");
    const auto errors = errors_of("[data]\ndataset = \"npy\"\ntrain = \"train\"\ntest = \"test\"\n"
                                  "test_targets = \"y.npy\"\n");
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_EQ(errors[0], m_dir.path().string() +
                             "/r.toml:5:16: error: data.test_targets is set, but data.test (" +
                             dir() +
                             "/test) is a folder, which holds its own targets (targets.npy or "
                             "files_label.lst); set data.test to the array file (x_train.npy) "
                             "or remove data.test_targets");
}

TEST_F(DataRules, MissingTargetsFileIsNamed) {
    touch("x.npy");
    touch("test/data.npy");
    const auto errors = errors_of("[data]\ndataset = \"npy\"\ntrain = \"x.npy\"\n"
                                  "train_targets = \"nope.npy\"\ntest = \"test\"\n");
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_EQ(errors[0], m_dir.path().string() + "/r.toml:4:17: error: data.train_targets: " +
                             dir() + "/nope.npy does not exist");
}

TEST_F(DataRules, TargetsKeyOfAnotherDataSetIsRefused) {
    touch("pets/train/cat/a.png");
    touch("pets/test/cat/b.png");
    const auto errors =
        errors_of("[data]\ndataset = \"images\"\ntrain = \"pets/train\"\ntest = \"pets/test\"\n"
                  "train_targets = \"y.npy\"\nlayout = \"nhwc\"\n");
    ASSERT_EQ(errors.size(), 2U);
    EXPECT_EQ(errors[0], m_dir.path().string() +
                             "/r.toml:5:17: error: data.train_targets names the targets of an "
                             "npy array file or an HDF5 dataset; data.dataset = \"images\" does "
                             "not read it");
    EXPECT_EQ(errors[1], m_dir.path().string() +
                             "/r.toml:6:10: error: data.layout = \"nhwc\" describes npy and hdf5 "
                             "arrays; data.dataset = \"images\" sets its own channel order");
}

TEST_F(DataRules, Hdf5DatasetKeysLoadAndNeedTheirTargets) {
    touch("all.h5");
    const auto r = load("[data]\ndataset = \"hdf5\"\ntrain = \"all.h5:/train/images\"\n"
                        "train_targets = \"all.h5:/train/labels\"\ntest = \"all.h5:/test/x\"\n"
                        "test_targets = \"all.h5:/test/y\"\n");
    EXPECT_EQ(r.data.train, dir() + "/all.h5:/train/images");
    EXPECT_EQ(r.data.test_targets, dir() + "/all.h5:/test/y");

    const auto errors = errors_of("[data]\ndataset = \"hdf5\"\ntrain = \"all.h5:/train/images\"\n"
                                  "test = \"all.h5:/test/x\"\ntest_targets = \"all.h5\"\n");
    ASSERT_EQ(errors.size(), 2U);
    EXPECT_EQ(errors[0], m_dir.path().string() +
                             "/r.toml:3:9: error: data.train names the dataset /train/images of " +
                             dir() +
                             "/all.h5; name its targets in data.train_targets as FILE:/DATASET "
                             "(data.train_targets = \"all.h5:/train/labels\")");
    EXPECT_EQ(errors[1], m_dir.path().string() + "/r.toml:5:16: error: data.test_targets: \"" +
                             dir() +
                             "/all.h5\" names no dataset; write it as FILE:/DATASET "
                             "(data.test_targets = \"all.h5:/train/labels\")");
}

TEST_F(DataRules, Hdf5MissingFileIsNamedWithoutItsDataset) {
    const auto errors = errors_of("[data]\ndataset = \"hdf5\"\ntrain = \"gone.h5:/train/x\"\n"
                                  "train_targets = \"gone.h5:/train/y\"\ntest = \"gone.h5:/t\"\n"
                                  "test_targets = \"gone.h5:/u\"\n");
    ASSERT_GE(errors.size(), 1U);
    EXPECT_EQ(errors[0], m_dir.path().string() + "/r.toml:3:9: error: data.train: " + dir() +
                             "/gone.h5 does not exist");
}

TEST_F(DataRules, NodeLocalStagingOfFileSplitsIsRefused) {
    touch("x.npy");
    touch("y.npy");
    const auto errors = errors_of("[data]\ndataset = \"npy\"\ntrain = \"x.npy\"\n"
                                  "train_targets = \"y.npy\"\ntest = \"x.npy\"\n"
                                  "test_targets = \"y.npy\"\nstage = \"node-local\"\n");
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_NE(errors[0].find("/r.toml:7:9: error: data.stage = \"node-local\" copies split"),
              std::string::npos)
        << errors[0];
}

TEST(DataPath, SplitsAtTheFirstColonAfterAnExistingFile) {
    kakuren::testing::TempDir dir("kakuren-data-path");
    const std::string d = dir.path().string();
    kakuren::testing::write_file(dir.path() / "a:b" / "all.h5", "");
    const auto x = kakuren::util::split_file_dataset(d + "/a:b/all.h5:/train/images");
    EXPECT_EQ(x.file, d + "/a:b/all.h5");
    EXPECT_EQ(x.dataset, "train/images");
    // A folder whose name holds ':' is a plain path.
    EXPECT_EQ(kakuren::util::split_file_dataset(d + "/a:b").file, d + "/a:b");
    EXPECT_EQ(kakuren::util::split_file_dataset(d + "/a:b").dataset, "");
    // A missing file: split at ":/", so that the message names the file.
    const auto gone = kakuren::util::split_file_dataset(d + "/gone.h5:/x");
    EXPECT_EQ(gone.file, d + "/gone.h5");
    EXPECT_EQ(gone.dataset, "x");
}

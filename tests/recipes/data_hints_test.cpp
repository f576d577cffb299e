// Data paths that do not fit data.dataset, found while the recipe loads (recipes/data_hints.hpp):
// a data set's root given where a split belongs ("did you mean .../train?") and the
// `kakuren data synth` command for a missing stand-in. The hints read folder listings only, so
// the files here are empty; tests/cli/newcomer_e2e_test.cpp runs the same on real images.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "recipes/data_hints.hpp"
#include "recipes/recipe.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using kakuren::recipes::RecipeError;
using kakuren::recipes::split_folder_meant;
using kakuren::recipes::standin_hint;

namespace {

class DataHints : public ::testing::Test {
  protected:
    void touch(const std::string& name) const { kakuren::testing::write_file(m_dir / name, ""); }

    /// The messages of loading text as m_dir/r.toml; fails the test if it loads.
    std::vector<std::string> errors_of(const std::string& text) const {
        kakuren::testing::write_file(m_dir / "r.toml", text);
        try {
            kakuren::recipes::load(m_dir / "r.toml", {});
        } catch (const RecipeError& e) {
            return e.messages();
        }
        ADD_FAILURE() << "loaded without an error";
        return {};
    }

    kakuren::testing::TempDir m_dir{"kakuren-data-hints"};
};

} // namespace

TEST_F(DataHints, NpyRootSuggestsItsSplits) {
    touch("ds/train/data.npy");
    touch("ds/train/targets.npy");
    touch("ds/validation/files_data.lst");
    EXPECT_EQ(m_dir / "ds/train", split_folder_meant("npy", "data.train", m_dir / "ds"));
    EXPECT_EQ(m_dir / "ds/validation", split_folder_meant("npy", "data.test", m_dir / "ds"));
    // The splits themselves are fine.
    EXPECT_FALSE(split_folder_meant("npy", "data.train", m_dir / "ds/train"));
    EXPECT_FALSE(split_folder_meant("npy", "data.test", m_dir / "ds/validation"));
}

TEST_F(DataHints, Hdf5RootWithStatsBesideTheSplitsSuggestsThem) {
    touch("ds/stats.h5"); // DeepCAM: stats.h5 in the root is no split
    touch("ds/train/data_0.h5");
    touch("ds/val/data_1.h5");
    EXPECT_EQ(m_dir / "ds/train", split_folder_meant("hdf5", "data.train", m_dir / "ds"));
    EXPECT_EQ(m_dir / "ds/val", split_folder_meant("hdf5", "data.test", m_dir / "ds"));
    EXPECT_FALSE(split_folder_meant("hdf5", "data.train", m_dir / "ds/train"));
}

TEST_F(DataHints, ImagesRootHoldsOnlySplitFolders) {
    touch("ds/train/cat/0.png");
    touch("ds/test/cat/1.png");
    touch("ds/README.txt");
    EXPECT_EQ(m_dir / "ds/train", split_folder_meant("images", "data.train", m_dir / "ds"));
    EXPECT_EQ(m_dir / "ds/test", split_folder_meant("images", "data.test", m_dir / "ds"));
    EXPECT_FALSE(split_folder_meant("images", "data.train", m_dir / "ds/train"));
    // A split whose classes happen to include one called "train" is still a split.
    touch("other/train/2.png");
    touch("other/dog/3.png");
    EXPECT_FALSE(split_folder_meant("images", "data.train", m_dir / "other"));
}

TEST_F(DataHints, NoSplitInsideIsNoHint) {
    touch("empty/readme.txt");
    EXPECT_FALSE(split_folder_meant("npy", "data.train", m_dir / "empty"));
    EXPECT_FALSE(split_folder_meant("npy", "data.train", m_dir / "absent"));
    EXPECT_FALSE(split_folder_meant("idx", "data.train", m_dir / "empty"));
}

TEST_F(DataHints, TheLoaderRefusesARootNamingTheSplit) {
    touch("ds/train/cat/0.png");
    touch("ds/test/cat/1.png");
    EXPECT_EQ((std::vector<std::string>{(m_dir / "r.toml").string() +
                                            ":4:9: error: data.train: " + (m_dir / "ds").string() +
                                            " is a data set's root, not a split; did you mean " +
                                            (m_dir / "ds/train").string() + "?",
                                        (m_dir / "r.toml").string() +
                                            ":5:8: error: data.test: " + (m_dir / "ds").string() +
                                            " is a data set's root, not a split; did you mean " +
                                            (m_dir / "ds/test").string() + "?"}),
              errors_of("[data]\ndataset = \"images\"\n# the root, twice\ntrain = \"ds\"\n"
                        "test = \"ds\"\n"));
}

TEST(StandinHint, NamesTheSynthCommandForTheMiniRecipesFolders) {
    EXPECT_EQ("; write the CosmoFlow stand-in there with: kakuren data synth cosmoflow --size 16 "
              "--samples 1024 --validation-samples 256 -o /d/cosmoflow-standin",
              standin_hint("cosmoflow", "npy", "/d/cosmoflow-standin/train"));
    EXPECT_EQ("; write the DeepCAM stand-in there with: kakuren data synth deepcam --height 32 "
              "--width 32 --samples 512 --validation-samples 128 -o /d/x",
              standin_hint("deepcam", "hdf5", "/d/x/validation"));
    EXPECT_EQ("", standin_hint("cnn", "npy", "/d/x/train"));
    EXPECT_EQ("", standin_hint("cosmoflow", "npy", "/d/x/my-split"));
    EXPECT_EQ("", standin_hint("cosmoflow", "hdf5", "/d/x/train"));
}

TEST_F(DataHints, TheShippedMiniRecipesSayHowToWriteTheirMissingData) {
    // The shipped recipe, copied to a folder without ../data: the message names the command.
    fs::create_directories(m_dir / "recipes");
    fs::copy_file(fs::path(KAKUREN_SOURCE_DIR) / "recipes/cosmoflow_mini.toml",
                  m_dir / "recipes/cosmoflow_mini.toml");
    std::vector<std::string> messages;
    try {
        kakuren::recipes::load(m_dir / "recipes/cosmoflow_mini.toml", {});
    } catch (const RecipeError& e) {
        messages = e.messages();
    }
    const std::string root = (m_dir / "data/cosmoflow-standin").string();
    ASSERT_EQ(2U, messages.size());
    EXPECT_NE(std::string::npos,
              messages[0].find("error: data.train: " + root +
                               "/train does not exist; write the CosmoFlow stand-in there "
                               "with: kakuren data synth cosmoflow --size 16 --samples 1024 "
                               "--validation-samples 256 -o " +
                               root))
        << messages[0];
}

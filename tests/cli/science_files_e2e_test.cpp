// kakuren data synth and kakuren run on the shipped file-based science mini recipes, and the
// full-size recipes checked and dry-run on data in the reference layout.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "data_e2e_support.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

namespace fs = std::filesystem;
using kakuren::testing::quoted;

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

// The full-size recipes (recipes/cosmoflow.toml, deepcam.toml) are for users with the real data:
// pointed at data in the reference layouts at full size (here `kakuren data synth`'s stand-ins,
// one sample per split), they pass the recipe check, which opens the data's headers and builds
// the full-size model for their shape, and a dry run of the submission.
TEST_F(ScienceFilesE2E, FullSizeRecipesPassTheCheckAndADryRunOnReferenceLayoutData) {
    struct Case {
        const char* recipe;
        const char* synth;
        const char* test_split;
    };
    for (const Case& c :
         {Case{"cosmoflow.toml", "cosmoflow --size 128", "validation"},
          Case{"deepcam.toml", "deepcam --height 768 --width 1152", "validation"}}) {
        SCOPED_TRACE(c.recipe);
        const std::string data = (m_dir / "data" / c.recipe).string();
        const auto synth = plain(std::string("data synth ") + c.synth +
                                 " --samples 1 --validation-samples 1 -o " + quoted(data));
        ASSERT_EQ(synth.code, 0) << synth.out << synth.err;
        copy_recipe(c.recipe);
        const std::string sets = " --set data.train=" + quoted(data + "/train") +
                                 " --set data.test=" + quoted(data + "/" + c.test_split);
        // As shipped, the data is not here: a clear error naming the missing folder.
        const auto missing = plain(std::string("recipe check recipes/") + c.recipe);
        EXPECT_EQ(missing.code, 2) << missing.out << missing.err;
        EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
        const auto check = plain(std::string("recipe check recipes/") + c.recipe + sets);
        EXPECT_EQ(check.code, 0) << check.out << check.err;
        const auto dry = kakuren(std::string("submit recipes/") + c.recipe + sets +
                                 " --backend slurm --dry-run");
        EXPECT_EQ(dry.code, 0) << dry.out << dry.err;
        EXPECT_NE(dry.out.find("#SBATCH"), std::string::npos) << dry.out;
        EXPECT_FALSE(fs::exists(m_dir / "ws" / "runs")) << "a dry run records nothing";
    }
}

} // namespace

// Probe finding #5 (issue 23): a diverged run looked perfect (train.log "-nan", the database
// NULL, `show` and `report` loss 0.0000). The real binary on npy data written by the real numpy
// with a NaN in one training sample: with run.stop_on_nan (the default) the run ends with a
// clear error, exit code 4, status failed, no checkpoint of the non-finite step, and resumes
// from the last finite one; with stop_on_nan = false it trains on and every reader says nan.
#include <filesystem>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "support/files.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using kakuren::testing::quoted;
using kakuren::testing::slurp;
using kakuren::testing::TempDir;

// 256 training samples of 1 x 8 x 8 float32 (two classes), sample 77 holding one NaN; a finite
// test split of 64.
constexpr const char* k_make_data = R"(
import numpy as np, os
rng = np.random.default_rng(5)
for split, n in (('train', 256), ('test', 64)):
    os.makedirs('nan/' + split)
    y = rng.integers(0, 2, n).astype(np.int64)
    x = (rng.standard_normal((n, 1, 8, 8)) + y[:, None, None, None]).astype(np.float32)
    if split == 'train':
        x[77, 0, 3, 4] = np.nan
    np.save('nan/%s/data.npy' % split, x)
    np.save('nan/%s/targets.npy' % split, y)
)";

constexpr const char* k_recipe = R"(
[run]
name = "nan"
threads = 1
[data]
dataset = "npy"
train = "nan/train"
test = "nan/test"
normalize = false
batch_size = 16
eval_batch_size = 64
[model]
kind = "mlp"
hidden = [16]
[schedule]
epochs = 2
warmup_epochs = 0
milestones = []
[hiding]
strategy = "none"
[checkpoint]
every_steps = 1
keep_last = 100
)";

class NonFiniteE2E : public ::testing::Test {
  protected:
    void SetUp() override {
        kakuren::testing::write_file(m_dir / "make.py", k_make_data);
        const auto made = kakuren::testing::run_shell(
            "cd " + quoted(m_dir.path().string()) + " && /usr/bin/python3 make.py", m_dir.path());
        ASSERT_EQ(made.code, 0) << made.err;
        kakuren::testing::write_file(m_dir / "nan.toml", k_recipe);
    }
    kakuren::testing::Output kakuren(const std::string& args) {
        return kakuren::testing::run_shell("cd " + quoted(m_dir.path().string()) +
                                               " && '" KAKUREN_BIN "' " + args + " --workspace " +
                                               quoted((m_dir / "ws").string()),
                                           m_dir.path());
    }
    [[nodiscard]] std::string train_log() const {
        for (const auto& entry : fs::directory_iterator(m_dir / "ws/runs")) {
            return slurp(entry.path() / "train.log");
        }
        return {};
    }
    TempDir m_dir{"kakuren-nonfinite-e2e"};
};

TEST_F(NonFiniteE2E, ANonFiniteLossEndsTheRunResumableFromTheLastFiniteCheckpoint) {
    const auto run = kakuren("run nan.toml --quiet");
    ASSERT_EQ(run.code, 4) << run.out << run.err;
    const std::regex where("the training loss is nan \\(not finite\\) at epoch 1, step ([0-9]+) "
                           "of 16");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(run.err, m, where)) << run.err;
    const int step = std::stoi(m[1].str());
    EXPECT_NE(run.err.find("run.stop_on_nan = false trains on"), std::string::npos) << run.err;
    EXPECT_NE(run.out.find("run nan-"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find(" failed: 0 epochs"), std::string::npos) << run.out;

    // The newest checkpoint is the step before: none was written of the non-finite step.
    const auto listed = kakuren("checkpoints nan --format json");
    ASSERT_EQ(listed.code, 0) << listed.out << listed.err;
    char before[32], at[32];
    std::snprintf(before, sizeof before, "\"0001-%06d\"", step - 1);
    std::snprintf(at, sizeof at, "\"0001-%06d\"", step);
    if (step > 1) {
        EXPECT_NE(listed.out.find(before), std::string::npos) << step << "\n" << listed.out;
    }
    EXPECT_EQ(listed.out.find(at), std::string::npos) << step << "\n" << listed.out;

    const auto shown = kakuren("show nan");
    EXPECT_NE(shown.out.find("status    failed"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("the training loss is nan"), std::string::npos) << shown.out;
    EXPECT_NE(train_log().find("the training loss is nan"), std::string::npos) << train_log();

    // Resumable: the data still holds the NaN, so the resumed run meets it again at that step.
    const auto resumed = kakuren("resume nan --quiet");
    EXPECT_EQ(resumed.code, 4) << resumed.out << resumed.err;
    EXPECT_NE(resumed.err.find("at epoch 1, step " + std::to_string(step) + " of 16"),
              std::string::npos)
        << resumed.err;
}

TEST_F(NonFiniteE2E, WithStopOnNanOffTheRunTrainsOnAndEveryReaderSaysNan) {
    const auto run = kakuren("run nan.toml --quiet --set run.stop_on_nan=false");
    ASSERT_EQ(run.code, 0) << run.out << run.err;

    const std::string log = train_log();
    EXPECT_NE(log.find("epoch 2/2  loss nan  "), std::string::npos) << log;
    EXPECT_EQ(log.find("-nan"), std::string::npos) << log;

    // The database keeps it (not NULL, read back as 0): the table and JSON say nan.
    const auto shown = kakuren("show nan");
    ASSERT_EQ(shown.code, 0) << shown.out << shown.err;
    EXPECT_TRUE(std::regex_search(shown.out, std::regex("\n1 +nan +"))) << shown.out;
    EXPECT_TRUE(std::regex_search(shown.out, std::regex("\n2 +nan +"))) << shown.out;
    EXPECT_EQ(shown.out.find("0.0000"), std::string::npos) << shown.out;
    const auto json = kakuren("show nan --format json");
    ASSERT_EQ(json.code, 0) << json.out << json.err;
    EXPECT_NE(json.out.find("\"train_loss\": \"nan\""), std::string::npos) << json.out;
    EXPECT_NE(json.out.find("\"test_loss\": \"nan\""), std::string::npos) << json.out;

    const auto report = kakuren("report nan --format json");
    ASSERT_EQ(report.code, 0) << report.out << report.err;
    EXPECT_NE(report.out.find("\"train_loss\": \"nan\""), std::string::npos) << report.out;
    const auto text = kakuren("report nan");
    ASSERT_EQ(text.code, 0) << text.out << text.err;
    EXPECT_NE(text.out.find(" nan "), std::string::npos) << text.out;
    // Per-sample losses in CSV: "nan" (empty would read as "not measured").
    const auto csv = kakuren("report nan --format csv --samples");
    ASSERT_EQ(csv.code, 0) << csv.out << csv.err;
    EXPECT_NE(csv.out.find(",nan,"), std::string::npos) << csv.out.substr(0, 2000);
}

} // namespace

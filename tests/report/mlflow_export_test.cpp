// report/mlflow_export: the MLflow file-store layout written from records, without MLflow
// (tests/cli/export_e2e_test.py reads it back with MLflow's own client).
#include "report/mlflow_export.hpp"

#include <gtest/gtest.h>

#include <regex>

#include <sys/stat.h>

#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "util/error.hpp"

namespace {

namespace fs = std::filesystem;
using kakuren::report::MlflowRun;
using kakuren::report::MlflowStore;
using kakuren::testing::slurp;
using kakuren::testing::TempDir;
using kakuren::testing::write_file;

kakuren::db::RunRow run_row(const std::string& id) {
    kakuren::db::RunRow r;
    r.id = id;
    r.name = "tiny";
    r.recipe_text = "[run]\nname = \"tiny\"\nseed = 3\nnotes = \"a \\\"q\\\" \\\\ \\u00e9\"\n"
                    "# target_accuracy is unset\n\n"
                    "[hiding]\nstrategy = \"kakurenbo\"\nfraction = 0.3\n"
                    "tau = 0.7\n\n[schedule]\nmilestones = [3, 5]\n";
    r.recipe_path = "/w/tiny.toml";
    r.recipe_hash = "abc";
    r.strategy = "kakurenbo";
    r.seed = 3;
    r.num_samples = 1000;
    r.status = kakuren::db::RunStatus::finished;
    r.created_at = "2026-11-26T15:07:20.000Z";
    r.started_at = "2026-11-26T15:07:21.500Z";
    r.ended_at = "2026-11-26T15:08:00.250Z";
    r.run_dir = "/w/runs/" + id;
    return r;
}

std::vector<kakuren::db::EpochRow> epoch_rows(int n, bool with_comm) {
    std::vector<kakuren::db::EpochRow> rows;
    for (int e = 1; e <= n; ++e) {
        kakuren::db::EpochRow row;
        row.epoch = e;
        row.train_loss = 1.0 / e;
        row.hidden = 100 * static_cast<std::int64_t>(e);
        row.total_s = 0.1;
        row.ended_at = "2026-11-26T15:07:3" + std::to_string(e) + ".000Z";
        if (with_comm) {
            row.comm_s = 0.25;
        }
        rows.push_back(row);
    }
    return rows;
}

TEST(MlflowExport, TimesParseAsMillisecondsUtc) {
    EXPECT_EQ(kakuren::report::iso8601_to_ms("1970-01-01T00:00:01.234Z"), 1234);
    EXPECT_EQ(kakuren::report::iso8601_to_ms("2026-11-26T15:07:22.123Z"), 1795705642123);
    EXPECT_EQ(kakuren::report::iso8601_to_ms("2026-11-26T15:07:22Z"), 1795705642000);
    EXPECT_FALSE(kakuren::report::iso8601_to_ms(""));
    EXPECT_FALSE(kakuren::report::iso8601_to_ms("yesterday"));
}

TEST(MlflowExport, RunIdsAreStableHexDerivedFromTheRunId) {
    const std::string a = kakuren::report::mlflow_run_uuid("tiny-20261126-150722-ab12");
    EXPECT_TRUE(std::regex_match(a, std::regex("[0-9a-f]{32}"))) << a;
    EXPECT_EQ(a, kakuren::report::mlflow_run_uuid("tiny-20261126-150722-ab12"));
    EXPECT_NE(a, kakuren::report::mlflow_run_uuid("tiny-20261126-150722-ab13"));
}

TEST(MlflowExport, WritesTheFileStoreLayout) {
    TempDir dir("mlflow-export");
    MlflowStore store(dir / "mlruns");
    const MlflowRun r = store.write_run(run_row("tiny-1"), epoch_rows(2, false), "tiny", "/w");
    EXPECT_EQ(r.dir, dir / "mlruns" / r.experiment_id / r.mlflow_run_id);
    EXPECT_NE(slurp(dir / "mlruns" / "0" / "meta.yaml").find("name: 'Default'"), std::string::npos);
    EXPECT_TRUE(fs::is_directory(dir / "mlruns" / ".trash"));
    const std::string experiment = slurp(dir / "mlruns" / r.experiment_id / "meta.yaml");
    EXPECT_NE(experiment.find("name: 'tiny'\n"), std::string::npos) << experiment;
    EXPECT_NE(experiment.find("experiment_id: '" + r.experiment_id + "'\n"), std::string::npos);
    const std::string meta = slurp(r.dir / "meta.yaml");
    for (const std::string& line :
         {"run_id: " + r.mlflow_run_id, "experiment_id: '" + r.experiment_id + "'",
          std::string("status: 3"), std::string("start_time: 1795705641500"),
          std::string("end_time: 1795705680250"), std::string("lifecycle_stage: active"),
          std::string("run_name: 'tiny-1'")}) {
        EXPECT_NE(meta.find(line + "\n"), std::string::npos) << line << "\n" << meta;
    }
    // "timestamp value step" per epoch; step = epoch.
    EXPECT_EQ(slurp(r.dir / "metrics" / "train_loss"), "1795705651000 1 1\n1795705652000 0.5 2\n");
    EXPECT_EQ(slurp(r.dir / "metrics" / "realised_fraction"),
              "1795705651000 0.1 1\n1795705652000 0.2 2\n");
    EXPECT_FALSE(fs::exists(r.dir / "metrics" / "comm_s")); // not recorded: not exported
    EXPECT_EQ(slurp(r.dir / "params" / "run.notes"), "a \"q\" \\ \xc3\xa9");
    EXPECT_EQ(slurp(r.dir / "params" / "hiding.fraction"), "0.3");
    EXPECT_EQ(slurp(r.dir / "params" / "schedule.milestones"), "[3, 5]");
    EXPECT_FALSE(
        fs::exists(r.dir / "params" / "run.target_accuracy")); // unset keys are no parameter
    EXPECT_EQ(slurp(r.dir / "tags" / "strategy"), "kakurenbo");
    EXPECT_EQ(slurp(r.dir / "tags" / "mlflow.runName"), "tiny-1");
    EXPECT_EQ(slurp(r.dir / "tags" / "hiding"), "kakurenbo F=0.30 tau=0.70");
    EXPECT_TRUE(fs::is_directory(r.dir / "artifacts"));
}

TEST(MlflowExport, ExportingAgainRewritesInsteadOfAppending) {
    TempDir dir("mlflow-export");
    MlflowStore first(dir / "mlruns");
    const MlflowRun a = first.write_run(run_row("tiny-1"), epoch_rows(3, true), "tiny", "/w");
    ASSERT_TRUE(fs::exists(a.dir / "metrics" / "comm_s"));
    write_file(a.dir / "tags" / "mlflow.note.content", "mine");
    // A resumed run forgot its last epoch and recorded no comm_s: the files follow the records.
    MlflowStore second(dir / "mlruns");
    const MlflowRun b = second.write_run(run_row("tiny-1"), epoch_rows(2, false), "tiny", "/w");
    EXPECT_EQ(b.dir, a.dir);
    EXPECT_EQ(slurp(b.dir / "metrics" / "train_loss"), "1795705651000 1 1\n1795705652000 0.5 2\n");
    EXPECT_FALSE(fs::exists(b.dir / "metrics" / "comm_s"));
    EXPECT_EQ(slurp(b.dir / "tags" / "mlflow.note.content"), "mine"); // the user's tag stays
    int experiments = 0;
    for (const auto& e : fs::directory_iterator(dir / "mlruns")) {
        experiments += e.path().filename() != ".trash" ? 1 : 0;
    }
    EXPECT_EQ(experiments, 2); // Default and tiny
}

TEST(MlflowExport, UnchangedFilesAreLeftAlone) {
    TempDir dir("mlflow-export");
    MlflowStore store(dir / "mlruns");
    const MlflowRun a = store.write_run(run_row("tiny-1"), epoch_rows(2, false), "tiny", "/w");
    const auto inode = [](const fs::path& p) {
        struct stat st {};
        EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
        return st.st_ino;
    };
    const auto loss = inode(a.dir / "metrics" / "train_loss");
    const auto meta = inode(a.dir / "meta.yaml");
    const auto fraction = inode(a.dir / "metrics" / "realised_fraction");
    std::vector<kakuren::db::EpochRow> rows = epoch_rows(2, false);
    rows[1].hidden = 300;
    store.write_run(run_row("tiny-1"), rows, "tiny", "/w");
    EXPECT_EQ(inode(a.dir / "metrics" / "train_loss"), loss);
    EXPECT_EQ(inode(a.dir / "meta.yaml"), meta);
    EXPECT_NE(inode(a.dir / "metrics" / "realised_fraction"), fraction);
    EXPECT_EQ(slurp(a.dir / "metrics" / "realised_fraction"),
              "1795705651000 0.1 1\n1795705652000 0.3 2\n");
    EXPECT_FALSE(fs::exists(a.dir / ".kakuren-export.tmp"));
}

TEST(MlflowExport, JoinsAnExperimentMlflowMadeAndSkipsDeletedOnes) {
    TempDir dir("mlflow-export");
    write_file(dir / "mlruns" / "123" / "meta.yaml",
               "artifact_location: file:///x/123\nexperiment_id: '123'\n"
               "lifecycle_stage: active\nname: it's mine\n");
    write_file(dir / "mlruns" / "456" / "meta.yaml",
               "experiment_id: '456'\nlifecycle_stage: deleted\nname: old\n");
    MlflowStore store(dir / "mlruns");
    EXPECT_EQ(store.write_run(run_row("a"), {}, "it's mine", "/w").experiment_id, "123");
    const MlflowRun old = store.write_run(run_row("b"), {}, "old", "/w");
    EXPECT_NE(old.experiment_id, "456");
    // Exported into another experiment now: moved, never in two places.
    const MlflowRun moved = store.write_run(run_row("a"), {}, "old", "/w");
    EXPECT_EQ(moved.experiment_id, old.experiment_id);
    EXPECT_FALSE(fs::exists(dir / "mlruns" / "123" / moved.mlflow_run_id));
    EXPECT_TRUE(fs::exists(moved.dir / "meta.yaml"));
}

TEST(MlflowExport, AnIdTakenByAnotherNameGetsAnother) {
    TempDir a("mlflow-export"), b("mlflow-export");
    const std::string id =
        MlflowStore(a / "mlruns").write_run(run_row("r"), {}, "x", "/w").experiment_id;
    write_file(b / "mlruns" / id / "meta.yaml",
               "experiment_id: '" + id + "'\nlifecycle_stage: active\nname: y\n");
    MlflowStore store(b / "mlruns");
    const MlflowRun r = store.write_run(run_row("r"), {}, "x", "/w");
    EXPECT_NE(r.experiment_id, id);
    EXPECT_NE(slurp(b / "mlruns" / id / "meta.yaml").find("name: y"), std::string::npos);
}

TEST(MlflowExport, AFileAsTheStoreIsRefused) {
    TempDir dir("mlflow-export");
    write_file(dir / "mlruns", "x");
    try {
        MlflowStore store(dir / "mlruns");
        FAIL() << "no error";
    } catch (const kakuren::RuntimeFailure& e) {
        EXPECT_NE(std::string(e.what()).find("is not a folder"), std::string::npos) << e.what();
    }
}

} // namespace

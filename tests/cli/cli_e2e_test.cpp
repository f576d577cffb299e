// The kakuren binary end to end, on a temporary workspace. Records are read back through db/.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "db/store.hpp"
#include "support/files.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "util/system.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using Result = kakuren::testing::Output;
using kakuren::testing::slurp;

/// The release binary, or the test build of it when the environment asks for a checkpoint fault
/// (the release binary has no such switch: tests/checkpoint/CMakeLists.txt).
std::string binary_for(const std::string& env) {
    return env.find("KAKUREN_TEST_CHECKPOINT_FAULT") != std::string::npos ? KAKUREN_FAULT_BIN
                                                                          : KAKUREN_BIN;
}

class CliE2E : public ::testing::Test {
  protected:
    void SetUp() override {
        m_ws = kakuren::testing::make_temp_dir("kakuren-e2e");
        unsetenv("KAKUREN_WORKSPACE");
    }
    void TearDown() override { fs::remove_all(m_ws); }

    /// Runs kakuren with args (a shell fragment) in the source folder, workspace m_ws.
    /// env: "NAME=value ..." (or shell commands ending in ';') before kakuren.
    Result kakuren(const std::string& args, bool with_workspace = true,
                   const std::string& env = "") {
        return kakuren::testing::run_shell(
            "cd '" KAKUREN_SOURCE_DIR "' && " + env + " '" + binary_for(env) + "' " + args +
                (with_workspace ? " --workspace " + kakuren::testing::quoted(m_ws.string()) : ""),
            m_ws);
    }

    kakuren::db::Store store() { return kakuren::db::Store::open(m_ws / "kakuren.db"); }

    static std::string run_id_of(const std::string& out) {
        std::smatch m;
        EXPECT_TRUE(std::regex_search(out, m, std::regex(R"(run (\S+-\d{8}-\d{6}-[0-9a-f]{4}))")))
            << out;
        return m.size() > 1 ? m[1].str() : "";
    }

    fs::path m_ws;
};

const std::string k_tiny = "recipes/synthetic_tiny.toml";

TEST_F(CliE2E, TinySyntheticRunIsRecordedEverywhere) {
    const Result r = kakuren("run " + k_tiny + " --set run.seed=3");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    const std::string id = run_id_of(r.out);
    EXPECT_NE(r.out.find("epoch 1/"), std::string::npos) << "one line per epoch off a terminal";

    auto db = store();
    const auto run = db.find_run(id);
    ASSERT_TRUE(run);
    EXPECT_EQ(kakuren::db::to_string(run->status), "finished");
    EXPECT_EQ(run->strategy, "kakurenbo");
    EXPECT_EQ(run->seed, 3);
    EXPECT_EQ(run->recipe_hash, kakuren::util::sha256_hex(run->recipe_text));
    const auto epochs = db.epochs(id);
    ASSERT_EQ(static_cast<int>(epochs.size()), run->num_epochs);
    std::int64_t hidden_total = 0;
    for (const auto& e : epochs) {
        EXPECT_EQ(e.visible + e.hidden, run->num_samples) << "epoch " << e.epoch;
        EXPECT_EQ(e.candidates, e.hidden + e.moved_back) << "epoch " << e.epoch;
        const auto ids = db.hidden_set(id, e.epoch);
        ASSERT_TRUE(ids);
        EXPECT_EQ(static_cast<std::int64_t>(ids->size()), e.hidden);
        hidden_total += e.hidden;
    }
    EXPECT_EQ(epochs.front().hidden, 0) << "epoch 1 hides nothing: no statistics yet";
    EXPECT_GT(hidden_total, 0) << "the easy synthetic task must hide samples after epoch 1";
    const auto state = db.sample_state(id);
    ASSERT_TRUE(state);
    EXPECT_EQ(static_cast<std::int64_t>(state->size()), run->num_samples);

    const fs::path dir = run->run_dir;
    EXPECT_TRUE(fs::exists(dir / "recipe.toml"));
    const std::string log = slurp(dir / "train.log");
    EXPECT_NE(log.find("epoch 1/"), std::string::npos);
    const std::string mllog = slurp(dir / "mllog.txt");
    std::istringstream lines(mllog);
    std::string line;
    int count = 0;
    while (std::getline(lines, line)) {
        EXPECT_EQ(line.rfind(":::MLLOG {", 0), 0U) << line;
        ++count;
    }
    EXPECT_GT(count, 20);
    EXPECT_NE(mllog.find(R"("key": "run_stop")"), std::string::npos);
    EXPECT_NE(mllog.find(R"("status": "aborted")"), std::string::npos) << "no target: not success";
}

TEST_F(CliE2E, HiddenAnswersPerEpochAndPerSample) {
    const Result r = kakuren("run " + k_tiny + " --quiet");
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string id = run_id_of(r.out);
    auto db = store();
    const auto epochs = db.epochs(id);
    const int last = epochs.back().epoch;
    const auto ids = db.hidden_set(id, last);
    ASSERT_TRUE(ids && !ids->empty());

    const Result e = kakuren("hidden " + id.substr(0, id.size() - 2) + " --epoch " +
                             std::to_string(last) + " --format json");
    ASSERT_EQ(e.code, 0) << e.err;
    EXPECT_NE(e.out.find("\"num_hidden\":" + std::to_string(ids->size())), std::string::npos)
        << e.out;

    const std::int64_t sample = ids->front();
    int times = 0;
    for (const auto& [ep, was] : db.sample_history(id, sample)) {
        times += was ? 1 : 0;
    }
    const Result s = kakuren("hidden " + id + " --sample " + std::to_string(sample));
    ASSERT_EQ(s.code, 0) << s.err;
    EXPECT_NE(s.out.find("sample " + std::to_string(sample) + " was hidden in " +
                         std::to_string(times) + " of " + std::to_string(epochs.size())),
              std::string::npos)
        << s.out;

    const Result bad = kakuren("hidden " + id + " --epoch 99");
    EXPECT_EQ(bad.code, 2);
    EXPECT_NE(bad.err.find("has no epoch 99"), std::string::npos) << bad.err;
}

TEST_F(CliE2E, TargetAccuracyStopsEarlyAndMissedTargetExits3) {
    const Result hit = kakuren("run " + k_tiny + " --quiet --set run.target_accuracy=0.3");
    ASSERT_EQ(hit.code, 0) << hit.err;
    auto db = store();
    const auto run = db.find_run(run_id_of(hit.out));
    ASSERT_TRUE(run);
    EXPECT_EQ(kakuren::db::to_string(run->status), "succeeded");
    EXPECT_LT(run->epochs_done, run->num_epochs) << "stops at the first epoch over the target";
    EXPECT_NE(slurp(fs::path(run->run_dir) / "mllog.txt").find(R"("status": "success")"),
              std::string::npos);

    const Result miss = kakuren("run " + k_tiny + " --quiet --set run.target_accuracy=1.0");
    EXPECT_EQ(miss.code, 3) << miss.err;
    EXPECT_NE(miss.out.find("not reached"), std::string::npos) << miss.out;
}

TEST_F(CliE2E, ShippedRecipeTrainsOnRealFashionMnistSubset) {
    const Result r = kakuren("run recipes/fashion_mnist_cnn.toml --format json"
                             " --set data.train_limit=5000 --set data.test_limit=1000"
                             " --set schedule.epochs=3 --set schedule.milestones=[2]");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("\"status\": \"finished\""), std::string::npos) << r.out;
    auto db = store();
    const auto runs = db.list_runs();
    ASSERT_EQ(runs.size(), 1U);
    EXPECT_EQ(runs[0].num_samples, 5000);
    ASSERT_TRUE(runs[0].final_accuracy);
    EXPECT_GT(*runs[0].final_accuracy, 0.7) << "a CNN learns Fashion-MNIST in 3 short epochs";
}

TEST_F(CliE2E, RunsListsFromAnywhereAsTableAndJson) {
    ASSERT_EQ(kakuren("run " + k_tiny +
                      " --quiet --set schedule.epochs=1 "
                      "--set schedule.milestones=[]")
                  .code,
              0);
    setenv("KAKUREN_WORKSPACE", m_ws.c_str(), 1);
    const Result table = kakuren("runs", false);
    unsetenv("KAKUREN_WORKSPACE");
    ASSERT_EQ(table.code, 0) << table.err;
    EXPECT_NE(table.out.find("STATUS"), std::string::npos);
    EXPECT_NE(table.out.find("finished"), std::string::npos);
    const Result json = kakuren("runs --format json");
    ASSERT_EQ(json.code, 0);
    std::ofstream(m_ws / "runs.json") << json.out;
    EXPECT_EQ(std::system(("/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]));"
                           " assert len(r)==1 and r[0][\"status\"]==\"finished\"' '" +
                           (m_ws / "runs.json").string() + "'")
                              .c_str()),
              0)
        << json.out;
}

TEST_F(CliE2E, BadRecipeExits2WithLocatedErrorAndCreatesNothing) {
    std::ofstream(m_ws / "bad.toml") << "[hiding]\nfraction = 1.4\nfractoin = 0.2\n";
    const Result r = kakuren("run '" + (m_ws / "bad.toml").string() + "'");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("bad.toml:2:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("out of range"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("did you mean hiding.fraction?"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(m_ws / "kakuren.db"));
    EXPECT_FALSE(fs::exists(m_ws / "runs"));
}

TEST_F(CliE2E, ScienceRulesAreCheckedBeforeAnythingIsRecorded) {
    // Before: `recipe check` passed these and `run` recorded a run that then failed (issue 23 #7).
    const std::string recipe = "recipes/deepcam_mini_memory.toml";
    const struct {
        std::string sets, where, what;
    } cases[] = {
        {"--set 'task.class_weights=[1.0,2.0]'",
         "--set task.class_weights=[1.0,2.0]: error: ", "has 3 classes"},
        {"--set 'task.class_weights=[1.0,2.0,3.0,4.0]'",
         "--set task.class_weights=[1.0,2.0,3.0,4.0]: error: ", "expected one weight per class"},
        {"--set data.synthetic_size=8 --set model.depth=8",
         "--set model.depth=8: error: ", "needs data.synthetic_size >= 256"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.sets);
        const Result check = kakuren("recipe check " + recipe + " " + c.sets, false);
        EXPECT_EQ(check.code, 2) << check.out << check.err;
        EXPECT_NE(check.err.find(c.where), std::string::npos) << check.err;
        EXPECT_NE(check.err.find(c.what), std::string::npos) << check.err;
        const Result run = kakuren("run " + recipe + " " + c.sets);
        EXPECT_EQ(run.code, 2) << run.out << run.err;
        EXPECT_NE(run.err.find(c.where), std::string::npos) << run.err;
        EXPECT_FALSE(fs::exists(m_ws / "kakuren.db"));
        EXPECT_FALSE(fs::exists(m_ws / "runs"));
    }
}

TEST_F(CliE2E, ACopiedWorkspaceReportsFromItsOwnFiles) {
    // Before (issue 23 #16): the database held the run folder's absolute path, so a copy of the
    // workspace read the original's mllog.txt, and failed once the original was gone.
    const Result r = kakuren("run " + k_tiny + " --quiet");
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string id = run_id_of(r.out);
    const fs::path copy = m_ws.string() + "-copy";
    fs::copy(m_ws, copy, fs::copy_options::recursive);
    const fs::path moved = m_ws.string() + "-moved";
    fs::rename(m_ws, moved); // the original is gone from where it was
    const auto report = kakuren::testing::run_shell("'" KAKUREN_BIN "' report " + id +
                                                        " --format json --workspace " +
                                                        kakuren::testing::quoted(copy.string()),
                                                    copy);
    const auto show = kakuren::testing::run_shell("'" KAKUREN_BIN "' show " + id + " --workspace " +
                                                      kakuren::testing::quoted(copy.string()),
                                                  copy);
    fs::rename(moved, m_ws);
    fs::remove_all(copy);
    ASSERT_EQ(report.code, 0) << report.out << report.err;
    // A missing mllog.txt is a problem of the report ("no MLPerf log at ...").
    EXPECT_NE(report.out.find("\"problems\": []"), std::string::npos) << report.out;
    EXPECT_NE(report.out.find(copy.string() + "/runs/" + id), std::string::npos) << report.out;
    EXPECT_EQ(report.out.find(m_ws.string() + "/"), std::string::npos) << report.out;
    ASSERT_EQ(show.code, 0) << show.err;
    EXPECT_NE(show.out.find(copy.string() + "/runs/" + id), std::string::npos) << show.out;
}

TEST_F(CliE2E, DryRunCreatesNothing) {
    const Result r = kakuren("run " + k_tiny + " --dry-run");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("dry run"), std::string::npos);
    EXPECT_NE(r.out.find("hiding.fraction"), std::string::npos) << "shows resolved values";
    EXPECT_FALSE(fs::exists(m_ws / "kakuren.db"));
}

TEST_F(CliE2E, HelpTeachesAndUsageErrorsExit2) {
    const Result help = kakuren("--help", false);
    EXPECT_EQ(help.code, 0);
    for (const char* word : {"run", "runs", "show", "hidden", "recipe", "Exit codes", "Examples"}) {
        EXPECT_NE(help.out.find(word), std::string::npos) << word;
    }
    EXPECT_EQ(kakuren("frobnicate", false).code, 2);
    const Result missing = kakuren("run", false);
    EXPECT_EQ(missing.code, 2);
    EXPECT_NE(missing.err.find("kakuren: error:"), std::string::npos) << missing.err;
}

/// Starts a long run in the background (a subshell waits for it and writes its exit code to
/// ws/bg.code) and returns its pid once its first epoch is recorded.
pid_t start_long_run(const fs::path& ws) {
    const std::string cmd =
        "cd '" KAKUREN_SOURCE_DIR "' && ( '" KAKUREN_BIN
        "' run recipes/synthetic_tiny.toml --quiet --workspace '" +
        ws.string() + "' --set schedule.epochs=500 >'" + (ws / "bg.out").string() +
        "' 2>&1 & echo $! >'" + (ws / "bg.pid").string() + "'; wait $!; echo $? >'" +
        (ws / "bg.code.tmp").string() + "'; mv '" + (ws / "bg.code.tmp").string() + "' '" +
        (ws / "bg.code").string() + "' ) >/dev/null 2>&1 &";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    const bool recorded = kakuren::testing::wait_until(
        [&] {
            if (!fs::exists(ws / "bg.pid") || !fs::exists(ws / "kakuren.db")) {
                return false;
            }
            const auto runs = kakuren::db::Store::open(ws / "kakuren.db").list_runs();
            return !runs.empty() && runs[0].epochs_done >= 1;
        },
        120); // deadlines under ctest's own timeout, so that a failure prints its cause
    if (!recorded) {
        ADD_FAILURE() << "the background run recorded no epoch: " << slurp(ws / "bg.out");
        return -1;
    }
    return std::stoi(slurp(ws / "bg.pid"));
}

/// Waits for the background run's exit code (-1: none after minutes).
int wait_exit_code(const fs::path& ws) {
    if (!kakuren::testing::wait_until([&] { return fs::exists(ws / "bg.code"); }, 120)) {
        ADD_FAILURE() << "the background run did not end within 120 s: " << slurp(ws / "bg.out");
        return -1;
    }
    return std::stoi(slurp(ws / "bg.code"));
}

TEST_F(CliE2E, KilledRunIsMarkedCrashedByTheNextCommand) {
    const pid_t pid = start_long_run(m_ws);
    ASSERT_GT(pid, 0);
    const Result during = kakuren("runs");
    EXPECT_NE(during.out.find("running"), std::string::npos) << during.out;
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    EXPECT_EQ(wait_exit_code(m_ws), 128 + SIGKILL);
    const Result after = kakuren("runs --format json");
    EXPECT_NE(after.out.find("\"status\": \"crashed\""), std::string::npos) << after.out;
    auto db = store();
    const auto run = db.list_runs().at(0);
    EXPECT_NE(run.reason.find("ended without recording an end"), std::string::npos) << run.reason;
    EXPECT_GE(run.epochs_done, 1) << "finished epochs stay recorded";
}

TEST_F(CliE2E, SigintStopsCleanlyWithExit75) {
    const pid_t pid = start_long_run(m_ws);
    ASSERT_GT(pid, 0);
    ASSERT_EQ(kill(pid, SIGINT), 0);
    EXPECT_EQ(wait_exit_code(m_ws), 75);
    auto db = store();
    const auto run = db.list_runs().at(0);
    EXPECT_EQ(kakuren::db::to_string(run.status), "interrupted") << run.reason;
    EXPECT_NE(run.reason.find("signal 2"), std::string::npos) << run.reason;
    EXPECT_LT(run.epochs_done, 500);
}

} // namespace

namespace {

TEST_F(CliE2E, DocsRecipeReferenceMatchesTheBinary) {
    const Result r = kakuren("recipe reference", false);
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string readme = slurp(fs::path(KAKUREN_SOURCE_DIR) / "docs" / "recipes.md");
    const std::string begin = "<!-- BEGIN RECIPE REFERENCE -->\n",
                      end = "<!-- END RECIPE REFERENCE -->";
    const auto from = readme.find(begin), to = readme.find(end);
    ASSERT_NE(from, std::string::npos);
    ASSERT_NE(to, std::string::npos);
    EXPECT_EQ(readme.substr(from + begin.size(), to - from - begin.size()), r.out)
        << "docs/recipes.md's recipe reference is stale: paste `kakuren recipe reference` between "
           "the "
           "markers";
}

} // namespace

// ---- hardening (issue 15): each test failed before its fix ----
namespace {

std::string only_run_id(kakuren::db::Store& db) {
    const auto runs = db.list_runs();
    EXPECT_EQ(runs.size(), 1U);
    return runs.empty() ? "" : runs.front().id;
}

TEST_F(CliE2E, ReportToADeviceOrASymlinkNeverReplacesIt) {
    ASSERT_EQ(kakuren("run " + k_tiny +
                      " --quiet --set schedule.epochs=1 "
                      "--set schedule.milestones=[]")
                  .code,
              0);
    // Before: as root, /dev/null became a regular file; a symlink was replaced by a file.
    EXPECT_EQ(kakuren("report -o /dev/null").code, 0);
    EXPECT_TRUE(fs::is_character_file(fs::symlink_status("/dev/null")));
    std::ofstream(m_ws / "target.txt") << "old";
    fs::permissions(m_ws / "target.txt", fs::perms::owner_read | fs::perms::owner_write);
    fs::create_symlink(m_ws / "target.txt", m_ws / "link.txt");
    EXPECT_EQ(kakuren("report -o '" + (m_ws / "link.txt").string() + "'").code, 0);
    EXPECT_TRUE(fs::is_symlink(fs::symlink_status(m_ws / "link.txt")));
    EXPECT_NE(slurp(m_ws / "target.txt").find("run"), std::string::npos);
    EXPECT_EQ(fs::status(m_ws / "target.txt").permissions() & fs::perms::mask,
              fs::perms::owner_read | fs::perms::owner_write)
        << "the replaced file keeps its mode";
    const Result nan = kakuren("report --target nan");
    EXPECT_EQ(nan.code, 2) << nan.err; // before: silently ignored
}

TEST_F(CliE2E, HostileInputIsRefusedAtOnceWithExit2) {
    // Before: read /dev/zero without bound; 100000 threads spawned; a 300-character name
    // passed the check and failed at run time; "hidden --epoch 0" printed a 300-digit bound;
    // an unknown command said "A subcommand is required".
    const Result zero = kakuren("recipe check /dev/zero", false);
    EXPECT_EQ(zero.code, 2);
    EXPECT_EQ(zero.err, "/dev/zero: error: cannot read recipe: it is not a regular file; give a "
                        "regular file\n");
    const Result threads = kakuren("run " + k_tiny + " --set run.threads=100000 --dry-run");
    EXPECT_EQ(threads.code, 2);
    EXPECT_NE(threads.err.find("expected 0 <= threads <= 1024"), std::string::npos) << threads.err;
    const Result many = kakuren("run " + k_tiny + " --set run.threads=1024 --dry-run", true,
                                "SLURM_CPUS_PER_TASK=2");
    EXPECT_EQ(many.code, 2);
    EXPECT_NE(many.err.find("is more than 8 x the 2 CPUs of this allocation"), std::string::npos)
        << many.err;
    const Result name =
        kakuren("recipe check " + k_tiny + " --set run.name=" + std::string(300, 'n'), false);
    EXPECT_EQ(name.code, 2);
    EXPECT_NE(name.err.find("run.name has 300 characters; expected at most 200"), std::string::npos)
        << name.err;
    const Result epoch = kakuren("hidden x --epoch 0");
    EXPECT_EQ(epoch.code, 2);
    EXPECT_NE(epoch.err.find("--epoch must be a whole number >= 1"), std::string::npos)
        << epoch.err;
    EXPECT_LT(epoch.err.size(), 200U) << epoch.err;
    const Result unknown = kakuren("frobnicate", false);
    EXPECT_EQ(unknown.code, 2);
    EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"), std::string::npos) << unknown.err;
    const Result stage = kakuren("run " + k_tiny + " --set data.stage=node-local --dry-run");
    EXPECT_EQ(stage.code, 0) << stage.err;
    EXPECT_NE(stage.err.find("kakuren run reads it where it is"), std::string::npos)
        << stage.err; // before: silently ignored
}

TEST_F(CliE2E, WorkspacesAreCreatedOnlyWhenNamed) {
    // Before: KAKUREN_WORKSPACE=/nonexistent/x created the whole path; " " was a workspace;
    // `runs` on a file or a missing folder said "no runs" with exit 0.
    const fs::path typo = m_ws / "typo" / "x";
    const Result env =
        kakuren("run " + k_tiny + " --quiet", false, "KAKUREN_WORKSPACE='" + typo.string() + "'");
    EXPECT_EQ(env.code, 2);
    EXPECT_NE(env.err.find("does not exist"), std::string::npos) << env.err;
    EXPECT_FALSE(fs::exists(m_ws / "typo"));
    const Result blank = kakuren("runs --workspace ' '", false);
    EXPECT_EQ(blank.code, 2) << blank.err;
    std::ofstream(m_ws / "afile") << "x";
    EXPECT_EQ(kakuren("runs --workspace '" + (m_ws / "afile").string() + "'", false).code, 2);
    EXPECT_EQ(kakuren("runs --workspace '" + typo.string() + "'", false).code, 2);
    EXPECT_FALSE(fs::exists(m_ws / "typo"));
}

TEST_F(CliE2E, AClosedStdoutStopsThePrintingNotTheRun) {
    // Before: killed by SIGPIPE (exit 141) after epoch 1, status crashed.
    const std::string cmd =
        "cd '" KAKUREN_SOURCE_DIR "' && bash -c \"set -o pipefail; '" KAKUREN_BIN "' run " +
        k_tiny + " --workspace '" + m_ws.string() + "' 2>/dev/null | head -c 1 >/dev/null\"";
    const int status = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    auto db = store();
    const std::string id = only_run_id(db);
    EXPECT_EQ(kakuren::db::to_string(db.find_run(id)->status), "finished");
}

TEST_F(CliE2E, RunFormatJsonPrintsTheSummaryAlsoOnFailure) {
    // A file size limit fails the first checkpoint: a runtime failure after the run row exists.
    // Before: nothing on stdout.
    const Result r = kakuren("run " + k_tiny + " --quiet --format json --set model.hidden=[2048]",
                             true, "ulimit -f 1024; trap '' XFSZ;");
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.out.find("\"status\": \"failed\""), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"exit_code\": 1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"error\": \"cannot write checkpoint"), std::string::npos) << r.out;
}

TEST_F(CliE2E, LogsFindsARunOfKakurenRunFromAnyFolder) {
    // Before: only submitted runs' workspaces were remembered.
    const std::string state = "XDG_STATE_HOME='" + (m_ws / "state").string() + "'";
    ASSERT_EQ(kakuren("run " + k_tiny +
                          " --quiet --set schedule.epochs=1 "
                          "--set schedule.milestones=[]",
                      true, state)
                  .code,
              0);
    auto db = store();
    const std::string id = only_run_id(db);
    const Result logs = kakuren("logs " + id, false, state);
    EXPECT_EQ(logs.code, 0) << logs.err;
    EXPECT_NE(logs.out.find("epoch 1/1"), std::string::npos) << logs.out;
    // A rank that does not exist: the error alone, no file header before it.
    const Result rank = kakuren("logs " + id + " --rank 5", false, state);
    EXPECT_EQ(rank.code, 2);
    EXPECT_EQ(rank.err.find("==>"), std::string::npos) << rank.err;
}

TEST_F(CliE2E, ResumeValidatesItsInputBeforeAnything) {
    // Before: `resume --set schedule.epochs=2` after 3 epochs was accepted (runs showed 3/2);
    // a finished run ignored a missing --recipe and unknown --set keys; a missing mllog.txt
    // gave no warning.
    const Result stopped = kakuren("run " + k_tiny + " --quiet --set run.threads=1", true,
                                   "KAKUREN_TEST_CHECKPOINT_FAULT=term:committed:3");
    ASSERT_EQ(stopped.code, 75) << stopped.err;
    auto db = store();
    const std::string id = only_run_id(db);
    const Result shorter =
        kakuren("resume " + id + " --set schedule.epochs=2 --set schedule.milestones=[]");
    EXPECT_EQ(shorter.code, 2) << shorter.err;
    EXPECT_NE(shorter.err.find("has 3 epochs done"), std::string::npos) << shorter.err;
    EXPECT_EQ(db.attempts(id).size(), 1U) << "nothing changed";

    fs::remove(fs::path(db.find_run(id)->run_dir) / "mllog.txt");
    const Result resumed = kakuren("resume " + id + " --quiet");
    EXPECT_EQ(resumed.code, 0) << resumed.err;
    EXPECT_NE(resumed.err.find("mllog.txt is missing"), std::string::npos) << resumed.err;

    const Result missing = kakuren("resume " + id + " --recipe /nonexistent.toml");
    EXPECT_EQ(missing.code, 2) << missing.out;
    const Result unknown = kakuren("resume " + id + " --set hiding.fractoin=0.2");
    EXPECT_EQ(unknown.code, 2) << unknown.out;
    EXPECT_NE(unknown.err.find("did you mean hiding.fraction?"), std::string::npos) << unknown.err;
    EXPECT_EQ(kakuren("resume " + id).code, 0) << "finished: nothing to do";
}

TEST_F(CliE2E, AnAmbiguousPrefixIsAUsageErrorLikeNoMatch) {
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(kakuren("run " + k_tiny +
                          " --quiet --set schedule.epochs=1 "
                          "--set schedule.milestones=[]")
                      .code,
                  0);
    }
    const Result ambiguous = kakuren("show synthetic_tiny");
    EXPECT_EQ(ambiguous.code, 2) << ambiguous.err; // before: 1
    EXPECT_NE(ambiguous.err.find("is ambiguous"), std::string::npos) << ambiguous.err;
    EXPECT_EQ(kakuren("show nothing-like-it").code, 2);
}

} // namespace

// ---- hostile probe, round 3 (issue 23): each test failed before its fix ----
namespace {

TEST_F(CliE2E, GarbageInTheRememberedWorkspacesIsSkipped) {
    // Before (#11): `logs nosuchrun` exited 1 "File name too long".
    const std::string state = "XDG_STATE_HOME='" + (m_ws / "state").string() + "'";
    kakuren::testing::write_file(m_ws / "state/kakuren/workspaces",
                                 "/" + std::string(5000, 'x') + "\nnot/absolute\n/" +
                                     std::string(300, 'y') + "/ws\n");
    const Result missing = kakuren("logs nosuchrun", false, state);
    EXPECT_EQ(missing.code, 2) << missing.err;
    EXPECT_NE(missing.err.find("no run matches 'nosuchrun'"), std::string::npos) << missing.err;
    EXPECT_LT(missing.err.size(), 500U) << "the garbage is not listed as a place looked in";
}

TEST_F(CliE2E, AnEmptyWorkspaceIsRefusedLikeABlankOne) {
    // Before (#13): --workspace '' and KAKUREN_WORKSPACE='' silently used the current folder.
    const Result flag = kakuren("runs --workspace ''", false);
    EXPECT_EQ(flag.code, 2) << flag.out;
    EXPECT_NE(
        flag.err.find("error: --workspace: '' is empty; give a folder name (or leave it out)\n"),
        std::string::npos)
        << flag.err;
    const Result env = kakuren("runs", false, "KAKUREN_WORKSPACE=''");
    EXPECT_EQ(env.code, 2) << env.out;
    EXPECT_EQ(env.err, "kakuren: error: KAKUREN_WORKSPACE='' is empty; set it to a folder or "
                       "unset it\n");
    EXPECT_EQ(kakuren("run " + k_tiny + " --dry-run -w ''", false).code, 2);
}

TEST_F(CliE2E, OutOfRangeSampleAndAStopBeforeTheFirstEvaluationSaySo) {
    // Before (#17): `hidden RUN --sample -5` printed a 300-digit range; a run stopped before
    // its first epoch ended printed "final test accuracy 0.00%, best 0.00%".
    const Result stopped =
        kakuren("run " + k_tiny + " --set checkpoint.every_steps=1 --set run.threads=1", true,
                "KAKUREN_TEST_CHECKPOINT_FAULT=term:committed:1");
    ASSERT_EQ(stopped.code, 75) << stopped.err;
    EXPECT_NE(stopped.out.find(" interrupted: 0 epochs, no evaluation yet (stopped by signal 15"),
              std::string::npos)
        << stopped.out;
    EXPECT_EQ(stopped.out.find("0.00%"), std::string::npos) << stopped.out;
    auto db = store();
    const std::string id = only_run_id(db);
    const auto samples = db.find_run(id)->num_samples;
    ASSERT_GT(samples, 0);
    const std::string range = "; run " + id + " has " + std::to_string(samples) +
                              " training samples: give 0 to " + std::to_string(samples - 1);
    for (const std::string& sample : {std::string("-5"), std::to_string(samples)}) {
        std::string command = "hidden " + id;
        command.append(" --sample ").append(sample);
        const Result bad = kakuren(command);
        EXPECT_EQ(bad.code, 2) << bad.out;
        std::string expected = "kakuren: error: --sample " + sample;
        expected.append(" is out of range").append(range).append("\n");
        EXPECT_EQ(bad.err, expected);
    }
}

} // namespace

// kakuren tune --parallel end to end: a round's candidates as separate processes, up to N at
// once. Every candidate process of the test copy of kakuren (KAKUREN_FAULT_BIN) pauses at its
// first training step (KAKUREN_TEST_PAUSE_AT=train:1, each process counting its own), so that
// "N run at once and no more" and "killed while candidates run" are states the test waits for,
// not moments it hopes to catch. Rankings by work: nothing depends on timing.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>

#include "db/store.hpp"
#include "db/tunes.hpp"
#include "report/json_reader.hpp"
#include "support/files.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "util/file_lock.hpp"

namespace fs = std::filesystem;

namespace {

using kakuren::report::JsonValue;
using kakuren::testing::Output;

const std::vector<std::string> k_tune = {"tune",        "tiny.toml",
                                         "--set",       "task.target=0.88",
                                         "--set",       "schedule.epochs=8",
                                         "--set",       "schedule.milestones=[7]",
                                         "--set",       "optimizer.lr=0.01",
                                         "--try",       "rotate",
                                         "--try",       "kakurenbo",
                                         "--try",       "random",
                                         "--try",       "infobatch",
                                         "--budget",    "24",
                                         "--rank-by",   "work",
                                         "--workspace", "."};

class TuneParallelE2E : public ::testing::Test {
  protected:
    void SetUp() override {
        unsetenv("KAKUREN_WORKSPACE");
        m_ws = kakuren::testing::make_temp_dir("kakuren-tune-parallel");
        fs::copy_file(fs::path(KAKUREN_SOURCE_DIR) / "recipes/synthetic_tiny.toml",
                      m_ws / "tiny.toml");
    }
    void TearDown() override { fs::remove_all(m_ws); }

    Output kakuren(const std::string& args) {
        return kakuren::testing::run_shell("cd " + kakuren::testing::quoted(m_ws.string()) +
                                               " && '" KAKUREN_BIN "' " + args + " --workspace .",
                                           m_ws);
    }
    kakuren::db::Store store() { return kakuren::db::Store::open(m_ws / "kakuren.db"); }

    /// Starts a --parallel 3 tune of the test copy whose candidate processes pause at their
    /// first training step, and waits until three of them are paused. Returns its pid.
    pid_t start_paused_tune() {
        kakuren::testing::Command cmd;
        cmd.argv = k_tune;
        cmd.argv.insert(cmd.argv.begin(), KAKUREN_FAULT_BIN);
        for (const char* a : {"--parallel", "3", "-o", "killed.toml"}) {
            cmd.argv.emplace_back(a);
        }
        cmd.env = {"KAKUREN_TEST_PAUSE_AT=train:1"};
        cmd.cwd = m_ws;
        const pid_t pid = kakuren::testing::start(cmd, m_ws / "bg.out", m_ws / "bg.err");
        const bool three = kakuren::testing::wait_until([&] { return paused() == 3; }, 300);
        EXPECT_TRUE(three) << kakuren::testing::slurp(m_ws / "bg.out")
                           << kakuren::testing::slurp(m_ws / "bg.err");
        return pid;
    }
    /// Candidate processes paused at their first step (their logs say so).
    int paused() {
        int n = 0;
        if (!fs::exists(m_ws / "tunes")) {
            return 0;
        }
        for (const auto& f : fs::recursive_directory_iterator(m_ws / "tunes")) {
            n += f.is_regular_file() && kakuren::testing::slurp(f.path()).find(
                                            "kakuren-test: paused at train") != std::string::npos;
        }
        return n;
    }
    /// The pids of the running attempts, one per run that has one.
    std::set<std::int64_t> running_pids() {
        std::set<std::int64_t> out;
        auto db = store();
        for (const auto& run : db.list_runs()) {
            for (const auto& a : db.attempts(run.id)) {
                if (a.status == "running") {
                    out.insert(a.pid);
                }
            }
        }
        return out;
    }

    fs::path m_ws;
};

/// Every candidate log of the workspace's tunes (what a failed candidate said).
std::string candidate_logs(const fs::path& ws) {
    std::string out;
    for (const auto& f : fs::recursive_directory_iterator(ws / "tunes")) {
        if (f.is_regular_file() && f.path().extension() == ".log") {
            out += "== " + f.path().filename().string() + "\n" + kakuren::testing::slurp(f.path());
        }
    }
    return out;
}

std::vector<std::int64_t> ranking(const JsonValue& j) {
    std::vector<std::int64_t> out;
    for (const JsonValue& c : j["candidates"].as_array()) {
        out.push_back(c["candidate"].as_int());
    }
    return out;
}

/// Whether pid is gone (a zombie waiting for PID 1 counts as gone).
bool gone(std::int64_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) {
        return true;
    }
    const std::size_t close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

TEST_F(TuneParallelE2E, AKilledParallelTuneResumesToTheSequentialRanking) {
    std::string sequential_args;
    for (std::size_t i = 0; i + 2 < k_tune.size(); ++i) { // without "--workspace ."
        sequential_args += kakuren::testing::quoted(k_tune[i]) + " ";
    }
    const Output whole = kakuren(sequential_args + "--format json -o whole.toml");
    ASSERT_EQ(whole.code, 0) << whole.err;
    const JsonValue sequential = kakuren::report::parse_json(whole.out);
    fs::remove(m_ws / "kakuren.db");
    fs::remove_all(m_ws / "runs");

    const pid_t pid = start_paused_tune();
    // Three candidates run at once, each in its own process, and no fourth starts.
    const std::set<std::int64_t> pids = running_pids();
    EXPECT_EQ(pids.size(), 3U);
    EXPECT_EQ(pids.count(pid), 0U) << "not in the tune's own process";
    EXPECT_EQ(store().list_runs().size(), 3U);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    EXPECT_EQ(kakuren::testing::wait_exit(pid), 128 + SIGKILL);
    // The candidates die with the tune (no orphan keeps training).
    EXPECT_TRUE(kakuren::testing::wait_until(
        [&] { return std::all_of(pids.begin(), pids.end(), gone); }, 60));
    // A killed process's leader shows as a zombie while its other threads still exit and still
    // hold its files: the run's owner lock is released only after them. Resume once every lock
    // is free (the event a resume needs), not at the zombie.
    EXPECT_TRUE(kakuren::testing::wait_until(
        [&] {
            const auto runs = store().list_runs();
            return std::none_of(runs.begin(), runs.end(), [](const auto& r) {
                return kakuren::util::FileLock::held(fs::path(r.run_dir) / ".owner.lock")
                    .value_or(false);
            });
        },
        60));

    const auto tune = kakuren::db::find_tune(store(), store().list_runs().front().sweep);
    ASSERT_TRUE(tune);
    ASSERT_EQ(tune->status, "running");
    const Output resumed =
        kakuren("tune --resume " + tune->id + " --parallel 3 --format json -o killed.toml");
    ASSERT_EQ(resumed.code, 0) << resumed.err << candidate_logs(m_ws);
    const JsonValue after = kakuren::report::parse_json(resumed.out);
    EXPECT_EQ(ranking(after), ranking(sequential));
    ASSERT_EQ(after["rounds"].size(), sequential["rounds"].size());
    for (std::size_t i = 0; i < after["rounds"].size(); ++i) {
        EXPECT_EQ(after["rounds"][i]["survivors"].size(),
                  sequential["rounds"][i]["survivors"].size());
    }
    for (std::size_t i = 0; i < after["candidates"].size(); ++i) {
        const JsonValue& a = after["candidates"][i];
        const JsonValue& s = sequential["candidates"][i];
        EXPECT_EQ(a["epochs"].as_int(), s["epochs"].as_int()) << a["label"].as_string();
        EXPECT_EQ(a["work_to_target_samples"]["value"].as_double(),
                  s["work_to_target_samples"]["value"].as_double())
            << a["label"].as_string();
    }
    EXPECT_EQ(after["verdict"].as_string(), sequential["verdict"].as_string());
    EXPECT_EQ(store().list_runs().size(), 5U) << "one run per candidate, the killed ones resumed";
    for (int c = 0; c < 5; ++c) {
        EXPECT_TRUE(
            fs::exists(m_ws / "tunes" / tune->id / ("candidate-" + std::to_string(c) + ".log")));
    }
}

TEST_F(TuneParallelE2E, CtrlCReachesTheCandidatesAndTheTuneResumes) {
    const pid_t pid = start_paused_tune();
    ASSERT_EQ(kill(pid, SIGINT), 0);
    EXPECT_EQ(kakuren::testing::wait_exit(pid), 75);
    const std::string err = kakuren::testing::slurp(m_ws / "bg.err");
    auto db = store();
    const auto tune = kakuren::db::find_tune(db, db.list_runs().front().sweep);
    ASSERT_TRUE(tune);
    EXPECT_NE(err.find("kakuren tune --resume " + tune->id + " continues it"), std::string::npos)
        << err;
    // Each candidate stopped as a signal stops a run: interrupted, not crashed.
    for (const auto& run : db.list_runs()) {
        EXPECT_EQ(kakuren::db::to_string(run.status), "interrupted") << run.id;
    }
    const Output resumed = kakuren("tune --resume " + tune->id + " --parallel 2");
    EXPECT_EQ(resumed.code, 0) << resumed.err;
    EXPECT_EQ(kakuren::db::find_tune(store(), tune->id)->status, "done");
}

TEST_F(TuneParallelE2E, ParallelBelowOneIsRefused) {
    const Output r = kakuren("tune tiny.toml --set task.target=0.88 --parallel 0");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("--parallel 0: expected a whole number >= 1"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(m_ws / "kakuren.db"));
}

} // namespace

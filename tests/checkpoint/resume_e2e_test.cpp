// kakuren resume / kakuren checkpoints end to end, with the real binary on temporary workspaces:
// runs killed with SIGKILL at random moments (also while writing a checkpoint), stopped by
// SIGTERM, with damaged checkpoints, a full disk, a read-only or busy database, a changed
// recipe, and a finished run. Every interrupted run that finishes must end bit-identical to the
// same run never stopped: weights, optimizer and RNG state, per-sample statistics, hidden sets,
// epoch records and MLPerf log (its times and `resume` records aside).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "db/store.hpp"
#include "resume_e2e_reference.hpp"
#include "resume_e2e_support.hpp"
#include "support/files.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "util/system.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using kakuren::db::Store;
using kakuren::testing::slurp;
using namespace kakuren::testing::resume_e2e; // NOLINT(google-build-using-namespace)

namespace {

/// The tiny synthetic recipe on one thread (bit-exactness needs a fixed thread count), with a
/// checkpoint before every batch so that stops and kills can land anywhere.
const std::vector<std::string> k_recipe = {
    "recipes/synthetic_tiny.toml", "--set",  "run.threads=1", "--set",
    "checkpoint.every_steps=1",    "--quiet"};

using Result = kakuren::testing::Output;

/// True once the child has exited (not reaped: wait_for still gets its status).
bool ended(pid_t pid) {
    siginfo_t info{};
    return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == pid;
}

class ResumeE2E : public ::testing::Test {
  protected:
    void SetUp() override {
        m_ws = kakuren::testing::make_temp_dir("kakuren-resume");
        unsetenv("KAKUREN_WORKSPACE");
        unsetenv("KAKUREN_TEST_CHECKPOINT_FAULT");
    }
    void TearDown() override {
        if (m_mounted) {
            ::umount2(m_mounted->c_str(), MNT_DETACH);
        }
        std::error_code ec;
        fs::permissions(m_ws / "kakuren.db", fs::perms::owner_write, fs::perm_options::add, ec);
        fs::remove_all(m_ws, ec);
    }

    /// Starts kakuren in the source folder (workspace m_ws); stdout and stderr go to files.
    pid_t start(const Spawn& s) {
        m_out = m_ws / ("out-" + std::to_string(++m_count) + ".txt");
        m_err = m_ws / ("err-" + std::to_string(m_count) + ".txt");
        return spawn(m_ws, s, m_out, m_err);
    }

    Result kakuren(const Spawn& s) {
        Result r;
        r.code = wait_for(start(s));
        r.out = slurp(m_out);
        r.err = slurp(m_err);
        return r;
    }
    Result kakuren(const std::vector<std::string>& args) { return kakuren(Spawn{args, {}, {}}); }

    static std::vector<std::string> with(std::vector<std::string> base,
                                         const std::vector<std::string>& more) {
        base.insert(base.end(), more.begin(), more.end());
        return base;
    }

    Store store() const { return Store::open(m_ws / "kakuren.db"); }
    std::string only_run_id() const {
        const auto runs = store().list_runs();
        EXPECT_EQ(runs.size(), 1U);
        return runs.empty() ? "" : runs[0].id;
    }
    fs::path checkpoints_dir(const std::string& id) const {
        return m_ws / "runs" / id / "checkpoints";
    }

    /// Starts `run` and, once its id is printed (the run and its attempt are in the
    /// database), kills it at a random moment of its first 300 ms.
    Result run_killed_early(std::mt19937& rng) {
        const pid_t pid = start({with({"run"}, k_recipe), {}, {}});
        EXPECT_TRUE(kakuren::testing::wait_until(
            [&] { return slurp(m_out).find("run ") != std::string::npos; }, 120));
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300)); // the kill point
        kill(pid, SIGKILL);
        Result r;
        r.code = wait_for(pid);
        r.out = slurp(m_out);
        return r;
    }

    /// Checkpoints of `positions` (the uninterrupted run's, oldest first) after run id's newest
    /// committed one.
    std::size_t positions_left(const std::string& id, const std::vector<std::string>& positions) {
        const auto rows = store().checkpoints(id);
        if (rows.empty()) {
            return positions.size();
        }
        const auto at = std::find(positions.begin(), positions.end(), rows.back().name);
        return static_cast<std::size_t>(positions.end() - at) - 1;
    }

    /// Resumes run id again and again, killing each attempt once it has committed 0 to 3 more
    /// checkpoints (at random), after a further random delay of up to about one step and its
    /// checkpoint write (every sixth attempt a SIGTERM), until an attempt finishes the run.
    /// Attempts that move on fast (a busy machine sees their checkpoints late) could leave fewer
    /// than `kills` kills before the run ends: near the end, attempts are then killed in their
    /// start-up, so every run of the test kills at least that often.
    kakuren::testing::KillTally kill_resumes_at_random(const std::string& id, std::mt19937& rng,
                                                       const std::vector<std::string>& positions,
                                                       int kills) {
        kakuren::testing::CheckpointLineCounter checkpoints_logged(m_ws / "runs" / id /
                                                                   "train.log");
        kakuren::testing::KillTally t;
        for (int attempt = 0; attempt < 100 && !t.finished; ++attempt) {
            const bool term = attempt % 6 == 5; // a few clean stops in between
            const std::size_t more = rng() % 4;
            const auto needed = static_cast<std::size_t>(std::max(0, kills - t.kills));
            const bool hurry = needed > 0 && positions_left(id, positions) < 2 * needed + 6;
            const std::size_t wanted = checkpoints_logged() + (hurry ? 0 : more);
            const auto delay = std::chrono::microseconds(rng() % 5000);
            const pid_t pid = start({{"resume", id, "--quiet"}, {}, {}});
            // Until then, or the attempt ends by itself (the run finished).
            kakuren::testing::wait_until(
                [&] { return checkpoints_logged() >= wanted || ended(pid); }, 120);
            std::this_thread::sleep_for(delay); // the kill point, not synchronisation
            kill(pid, term ? SIGTERM : SIGKILL);
            const int code = wait_for(pid);
            if (code == 0) {
                t.finished = true; // it finished before the signal
                continue;
            }
            if (term) {
                EXPECT_TRUE(code == 75 || code == 128 + SIGTERM) << code << slurp(m_err);
                ++t.terms;
            } else {
                EXPECT_EQ(code, 128 + SIGKILL) << slurp(m_err);
                ++t.kills;
            }
            std::set<std::string> committed;
            for (const auto& row : store().checkpoints(id)) {
                committed.insert(row.name);
            }
            t.in_write +=
                kakuren::testing::has_write_debris(checkpoints_dir(id), committed) ? 1 : 0;
        }
        return t;
    }

    fs::path m_ws, m_out, m_err;
    int m_count = 0;
    std::optional<fs::path> m_mounted;
};

// ---- the tests ----

TEST_F(ResumeE2E, KilledTwentyTimesAtRandomMomentsAndResumedEndsBitIdentical) {
    const Reference& ref = reference();
    ASSERT_GT(ref.positions.size(), 40U);
    // Fixed seed: the same sequence of kill points on every run of the test (the timing still
    // varies with the machine).
    std::mt19937 rng(20261126);
    const Result first_id = run_killed_early(rng);
    EXPECT_EQ(first_id.code, 128 + SIGKILL) << first_id.out;
    const std::string id = only_run_id();
    ASSERT_FALSE(id.empty());

    // The kills land in start-up, between steps and inside checkpoint writes, all through the
    // run, until it ends.
    const kakuren::testing::KillTally t = kill_resumes_at_random(id, rng, ref.positions, 20);
    std::cout << "kills: " << t.kills << ", of them during a checkpoint write: " << t.in_write
              << ", clean stops: " << t.terms << "\n";
    EXPECT_GE(t.kills, 20);
    if (!t.finished) {
        const Result last = kakuren({"resume", id, "--quiet"});
        ASSERT_EQ(last.code, 0) << last.out << last.err;
    }
    const Outcome got = outcome_of(m_ws, id);
    expect_same(got, ref.outcome);
    EXPECT_GE(got.resumes, 1);
    const auto attempts = store().attempts(id);
    EXPECT_EQ(attempts.back().status, "finished");
    EXPECT_GE(attempts.size(), 10U) << "kills during start-up leave no attempt";
}

TEST_F(ResumeE2E, KilledAtEveryStageOfACheckpointWriteAndResumedEndsBitIdentical) {
    // Each attempt kills itself at one stage of its n-th checkpoint write; the next resumes.
    const std::vector<std::pair<std::string, std::string>> faults = {{"write", "5"},
                                                                     {"synced", "9"},
                                                                     {"renamed", "13"},
                                                                     {"committed", "7"},
                                                                     {"retention", "11"}};
    std::string id;
    for (const auto& [stage, n] : faults) {
        SCOPED_TRACE(stage);
        std::string fault = "KAKUREN_TEST_CHECKPOINT_FAULT=kill:";
        fault.append(stage).append(":").append(n);
        const Result r =
            kakuren(Spawn{id.empty() ? with({"run"}, k_recipe)
                                     : std::vector<std::string>{"resume", id, "--quiet"},
                          {fault},
                          {}});
        ASSERT_EQ(r.code, 128 + SIGKILL) << r.out << r.err;
        if (id.empty()) {
            id = only_run_id();
        }
        const auto rows = store().checkpoints(id);
        std::set<std::string> names;
        for (const auto& row : rows) {
            names.insert(row.name);
        }
        std::vector<std::string> debris;
        for (const auto& e : fs::directory_iterator(checkpoints_dir(id))) {
            const std::string name = e.path().filename().string();
            if (!names.count(name) && name != ".damaged") {
                debris.push_back(name);
            }
        }
        if (stage == "write" || stage == "synced") {
            ASSERT_EQ(debris.size(), 1U);
            EXPECT_TRUE(debris[0].starts_with(".tmp-")) << debris[0];
        } else if (stage == "renamed") {
            ASSERT_EQ(debris.size(), 1U) << "renamed but not committed";
            EXPECT_FALSE(debris[0].starts_with(".")) << debris[0];
        } else if (stage == "committed") {
            EXPECT_TRUE(debris.empty());
            // The two newest, the best, and the new one: retention has not run yet.
            EXPECT_EQ(rows.size(), 4U);
        } else {
            EXPECT_FALSE(debris.empty()) << "rows deleted first, folders after";
        }
        // The listing says what is usable.
        const Result list = kakuren({"checkpoints", id});
        EXPECT_EQ(list.code, 0) << list.err;
        if (stage == "renamed") {
            EXPECT_NE(list.out.find("not committed"), std::string::npos) << list.out;
        }
    }
    const Result last = kakuren({"resume", id, "--quiet"});
    ASSERT_EQ(last.code, 0) << last.out << last.err;
    expect_same(outcome_of(m_ws, id), reference().outcome);
    // No debris is left after a resume.
    for (const auto& e : fs::directory_iterator(checkpoints_dir(id))) {
        EXPECT_FALSE(e.path().filename().string().starts_with(".tmp-")) << e.path();
    }
}

TEST_F(ResumeE2E, StoppedBySigtermMidEpochAtAnEpochEndAndInTheRefreshPassThenResumedExactly) {
    const Reference& ref = reference();
    // Positions by the reference's order of checkpoints: the n-th save of an attempt that
    // resumed from position p is the n-th position after p.
    const auto index_of = [&](const std::string& name) {
        return static_cast<int>(std::find(ref.positions.begin(), ref.positions.end(), name) -
                                ref.positions.begin());
    };
    std::optional<std::string> refresh_position;
    for (const auto& name : ref.positions) {
        // Epoch 3 has hidden samples: its batches past the training steps are refresh batches.
        if (name.starts_with("0003-") && name != "0003-end") {
            refresh_position = name; // the last one of epoch 3 is inside or at its refresh pass
        }
    }
    ASSERT_TRUE(refresh_position);
    const std::vector<std::string> stops = {"0001-000007", "0002-end", *refresh_position};
    std::string id;
    int at = -1; // index of the position the attempt starts from
    for (const std::string& stop : stops) {
        SCOPED_TRACE(stop);
        const int n = index_of(stop) - at;
        ASSERT_GT(n, 0);
        const std::string fault =
            "KAKUREN_TEST_CHECKPOINT_FAULT=term:committed:" + std::to_string(n);
        const Result r =
            kakuren(Spawn{id.empty() ? with({"run"}, k_recipe)
                                     : std::vector<std::string>{"resume", id, "--quiet"},
                          {fault},
                          {}});
        ASSERT_EQ(r.code, 75) << r.out << r.err;
        if (id.empty()) {
            id = only_run_id();
        }
        const auto run = store().find_run(id);
        EXPECT_EQ(kakuren::db::to_string(run->status), "interrupted");
        EXPECT_NE(run->reason.find("signal 15"), std::string::npos) << run->reason;
        EXPECT_NE(run->reason.find("resumable from checkpoint " + stop), std::string::npos)
            << run->reason;
        EXPECT_EQ(store().checkpoints(id).back().name, stop);
        at = index_of(stop);
    }
    const Result last = kakuren({"resume", id, "--quiet"});
    ASSERT_EQ(last.code, 0) << last.out << last.err;
    const Outcome got = outcome_of(m_ws, id);
    expect_same(got, ref.outcome);
    EXPECT_EQ(got.resumes, 3);
    const auto attempts = store().attempts(id);
    ASSERT_EQ(attempts.size(), 4U);
    EXPECT_EQ(attempts[0].status, "interrupted");
    EXPECT_EQ(attempts[3].status, "finished");
}

TEST_F(ResumeE2E, DamagedCheckpointsAreReportedAndSkippedAndTheRunStillEndsExact) {
    const Result r =
        kakuren(Spawn{with(with({"run"}, k_recipe), {"--set", "checkpoint.keep_last=3", "--set",
                                                     "checkpoint.keep_best=false"}),
                      {"KAKUREN_TEST_CHECKPOINT_FAULT=term:committed:20"},
                      {}});
    ASSERT_EQ(r.code, 75) << r.err;
    const std::string id = only_run_id();
    const auto rows = store().checkpoints(id);
    ASSERT_EQ(rows.size(), 3U);
    const fs::path d = checkpoints_dir(id);
    // The newest: model.pt cut short; the one before: a bit flipped in the optimizer state.
    fs::resize_file(d / rows[2].name / "model.pt",
                    fs::file_size(d / rows[2].name / "model.pt") / 2);
    {
        const fs::path file = d / rows[1].name / "optimizer.pt";
        std::string bytes = slurp(file);
        bytes[bytes.size() - 100] = static_cast<char>(bytes[bytes.size() - 100] ^ 0x01);
        std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    }

    const Result list = kakuren({"checkpoints", id});
    ASSERT_EQ(list.code, 0) << list.err;
    EXPECT_NE(list.out.find("epoch  step  reason  size"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("no: model.pt: sha256 mismatch"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("no: optimizer.pt: sha256 mismatch"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("kakuren resume " + id + " continues from " + rows[0].name),
              std::string::npos)
        << list.out;
    const Result json = kakuren({"checkpoints", id, "--format", "json"});
    ASSERT_EQ(json.code, 0);
    std::ofstream(m_ws / "list.json") << json.out;
    EXPECT_EQ(std::system(("/usr/bin/python3 -c 'import json,sys; c=json.load(open(sys.argv[1]));"
                           " v=[x[\"valid\"] for x in c[\"checkpoints\"]];"
                           " assert v==[False,False,True], v;"
                           " assert c[\"resume_from\"]==sys.argv[2]' '" +
                           (m_ws / "list.json").string() + "' " + rows[0].name)
                              .c_str()),
              0)
        << json.out;

    const Result resumed = kakuren({"resume", id, "--quiet"});
    ASSERT_EQ(resumed.code, 0) << resumed.out << resumed.err;
    EXPECT_NE(resumed.err.find("skipping checkpoint " + rows[2].name), std::string::npos)
        << resumed.err;
    EXPECT_NE(resumed.err.find("skipping checkpoint " + rows[1].name), std::string::npos)
        << resumed.err;
    EXPECT_NE(resumed.out.find("resumed from checkpoint " + rows[0].name), std::string::npos)
        << resumed.out;
    EXPECT_TRUE(fs::exists(d / ".damaged" / (rows[2].name + ".attempt-2")));
    expect_same(outcome_of(m_ws, id), reference().outcome);
}

TEST_F(ResumeE2E, AFullDiskFailsTheCheckpointClearlyAndThePreviousOneStaysValid) {
    // A model large enough that its checkpoint files are the largest files of the workspace.
    const std::vector<std::string> big = {
        "recipes/synthetic_tiny.toml", "--set",  "run.threads=1", "--set",
        "model.hidden=[2048]",         "--quiet"};
    const Result whole = kakuren(with({"run"}, big));
    ASSERT_EQ(whole.code, 0) << whole.err;
    const std::string ref_id = store().list_runs().at(0).id;
    const Outcome want = outcome_of(m_ws, ref_id);

    const Result stopped =
        kakuren(Spawn{with({"run"}, big), {"KAKUREN_TEST_CHECKPOINT_FAULT=term:committed:1"}, {}});
    ASSERT_EQ(stopped.code, 75) << stopped.err;
    const std::string id = store().list_runs().at(0).id;
    ASSERT_NE(id, ref_id);
    const fs::path d = checkpoints_dir(id);

    // Root may mount a small tmpfs over the checkpoints (a real full disk); else a file size
    // limit on the process makes the same write fail.
    Spawn full{{"resume", id, "--quiet"}, {}, {}};
    std::string cause = "No space left on device";
    const fs::path aside = m_ws / "aside";
    fs::rename(d, aside);
    fs::create_directories(d);
    if (::mount("tmpfs", d.c_str(), "tmpfs", 0, "size=3m") == 0) {
        m_mounted = d;
        fs::copy(aside, d, fs::copy_options::recursive);
    } else {
        fs::remove(d);
        fs::rename(aside, d);
        full.file_size_limit = 1024 * 1024;
        cause = "File too large";
    }
    const Result failed = kakuren(full);
    EXPECT_EQ(failed.code, 1) << failed.out << failed.err;
    EXPECT_NE(failed.err.find("kakuren: error: cannot write checkpoint 0002-end of run " + id),
              std::string::npos)
        << failed.err;
    EXPECT_NE(failed.err.find(cause), std::string::npos) << failed.err;
    EXPECT_NE(failed.err.find("the previous checkpoint 0001-end stays valid"), std::string::npos)
        << failed.err;
    EXPECT_EQ(kakuren::db::to_string(store().find_run(id)->status), "failed");
    const Result list = kakuren({"checkpoints", id});
    EXPECT_NE(list.out.find("0001-end"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("yes"), std::string::npos) << list.out;
    EXPECT_EQ(list.out.find("0002-end"), std::string::npos) << "nothing of it is left";
    for (const auto& e : fs::directory_iterator(d)) {
        EXPECT_FALSE(e.path().filename().string().starts_with(".tmp-")) << e.path();
    }

    // Space again: the run resumes from the previous checkpoint and ends exactly.
    if (m_mounted) {
        ASSERT_EQ(::mount("tmpfs", d.c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0);
    }
    const Result resumed = kakuren({"resume", id, "--quiet"});
    ASSERT_EQ(resumed.code, 0) << resumed.err;
    const Outcome got = outcome_of(m_ws, id);
    EXPECT_EQ(got.final_files, want.final_files);
    EXPECT_EQ(got.epochs, want.epochs);
    EXPECT_EQ(got.hidden_sets, want.hidden_sets);
}

/// Every file of the workspace with its size and modification time.
std::map<std::string, std::string> tree_of(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        if (e.is_regular_file() && e.path().filename().string().rfind("out-", 0) != 0 &&
            e.path().filename().string().rfind("err-", 0) != 0) {
            struct stat st {};
            stat(e.path().c_str(), &st);
            out[fs::relative(e.path(), root).string()] = std::to_string(st.st_size) + "@" +
                                                         std::to_string(st.st_mtim.tv_sec) + "." +
                                                         std::to_string(st.st_mtim.tv_nsec);
        }
    }
    return out;
}

TEST_F(ResumeE2E, AReadOnlyDatabaseRefusesAndABusyReaderDoesNotStopTheResume) {
    const Result stopped = kakuren(
        Spawn{with({"run"}, k_recipe), {"KAKUREN_TEST_CHECKPOINT_FAULT=term:committed:30"}, {}});
    ASSERT_EQ(stopped.code, 75) << stopped.err;
    const std::string id = only_run_id();

    fs::permissions(m_ws / "kakuren.db",
                    fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                    fs::perm_options::remove);
    const auto before = tree_of(m_ws);
    const Result refused = kakuren({"resume", id});
    EXPECT_EQ(refused.code, 1);
    EXPECT_NE(refused.err.find("read-only"), std::string::npos) << refused.err;
    EXPECT_EQ(tree_of(m_ws), before) << "nothing changed";
    fs::permissions(m_ws / "kakuren.db", fs::perms::owner_write, fs::perm_options::add);

    // A reader holding a read transaction for the whole resume (WAL: it never blocks the writer).
    sqlite3* reader = nullptr;
    ASSERT_EQ(sqlite3_open((m_ws / "kakuren.db").c_str(), &reader), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(reader, "BEGIN; SELECT COUNT(*) FROM checkpoints;", nullptr, nullptr, nullptr),
        SQLITE_OK);
    const Result resumed = kakuren({"resume", id, "--quiet"});
    sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(reader);
    ASSERT_EQ(resumed.code, 0) << resumed.err;
    expect_same(outcome_of(m_ws, id), reference().outcome);
}

TEST_F(ResumeE2E, ResumingAFinishedRunSaysSoAndChangesNothing) {
    const Result done = kakuren(with({"run"}, k_recipe));
    ASSERT_EQ(done.code, 0) << done.err;
    const std::string id = only_run_id();
    const auto before = tree_of(m_ws);
    const Result again = kakuren({"resume", id});
    EXPECT_EQ(again.code, 0) << again.err;
    EXPECT_NE(again.out.find("run " + id + " already finished (4/4 epochs"), std::string::npos)
        << again.out;
    EXPECT_NE(again.out.find("nothing to resume, nothing changed"), std::string::npos) << again.out;
    EXPECT_EQ(tree_of(m_ws), before);
    EXPECT_EQ(store().attempts(id).size(), 1U);
}

TEST_F(ResumeE2E, ARecipeChangeThatBreaksExactnessIsRefusedUnlessForced) {
    const Result stopped = kakuren(
        Spawn{with({"run"}, k_recipe), {"KAKUREN_TEST_CHECKPOINT_FAULT=term:committed:10"}, {}});
    ASSERT_EQ(stopped.code, 75) << stopped.err;
    const std::string id = only_run_id();
    const std::string stop_at = store().checkpoints(id).back().name;

    const auto before = tree_of(m_ws);
    const Result refused =
        kakuren({"resume", id, "--set", "data.batch_size=64", "--set", "run.seed=5", "--quiet"});
    EXPECT_EQ(refused.code, 2);
    EXPECT_NE(refused.err.find("cannot continue exactly with this recipe: it changes "
                               "data.batch_size (128 -> 64), run.seed (1 -> 5) since checkpoint " +
                               stop_at),
              std::string::npos)
        << refused.err;
    EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
    EXPECT_EQ(tree_of(m_ws), before) << "nothing changed";

    // Forced, a batch size that splits the stopped epoch differently still cannot continue it.
    const Result split =
        kakuren({"resume", id, "--set", "data.batch_size=64", "--force", "--quiet"});
    EXPECT_EQ(split.code, 1) << split.err;
    EXPECT_NE(
        split.err.find("resume from an epoch-end checkpoint or with the original batch sizes"),
        std::string::npos)
        << split.err;

    // A change that keeps the run exact up to here (more epochs) is taken, with a warning.
    const Result longer =
        kakuren({"resume", id, "--set", "schedule.epochs=5", "--format", "json", "--quiet"});
    ASSERT_EQ(longer.code, 0) << longer.err;
    EXPECT_NE(longer.err.find("with a changed recipe: schedule.epochs (4 -> 5)"), std::string::npos)
        << longer.err;
    EXPECT_NE(longer.out.find("\"resumed_from\": \"" + stop_at + "\""), std::string::npos)
        << longer.out;
    const auto run = store().find_run(id);
    EXPECT_EQ(run->num_epochs, 5);
    EXPECT_EQ(run->epochs_done, 5);
    EXPECT_NE(slurp(m_ws / "runs" / id / "recipe.toml").find("epochs = 5"), std::string::npos);
}

TEST_F(ResumeE2E, TheKakurenBinaryHasNoFaultSwitch) {
    // The variable that makes the test build kill itself at its first checkpoint write means
    // nothing to kakuren itself: the run finishes.
    std::vector<std::string> args = with({"run"}, k_recipe);
    args.insert(args.begin(), KAKUREN_BIN);
    args.insert(args.end(), {"--workspace", m_ws.string()});
    kakuren::testing::Command command{
        args, {std::string(k_fault_variable) + "kill:write:1"}, KAKUREN_SOURCE_DIR, std::nullopt};
    const Result r = kakuren::testing::run(command, m_ws);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(kakuren::db::to_string(store().find_run(only_run_id())->status), "finished");
}

TEST_F(ResumeE2E, ARunKilledBeforeItsFirstCheckpointStartsOverAndEndsExact) {
    const Result r =
        kakuren(Spawn{with({"run"}, k_recipe), {"KAKUREN_TEST_CHECKPOINT_FAULT=kill:write:1"}, {}});
    ASSERT_EQ(r.code, 128 + SIGKILL) << r.err;
    const std::string id = only_run_id();
    const Result list = kakuren({"checkpoints", id});
    EXPECT_NE(list.out.find("has no checkpoints"), std::string::npos) << list.out;
    const Result resumed = kakuren({"resume", id, "--quiet"});
    ASSERT_EQ(resumed.code, 0) << resumed.err;
    EXPECT_NE(resumed.out.find("resumed from the beginning (no valid checkpoint)"),
              std::string::npos)
        << resumed.out;
    const Outcome got = outcome_of(m_ws, id);
    expect_same(got, reference().outcome);
    EXPECT_EQ(got.resumes, 0) << "a run started over logs from the start again";
}

} // namespace

// Data-parallel training with real processes: 2 ranks of kakuren_dist_worker on 127.0.0.1 (c10d
// TCPStore + Gloo), each with one thread. They must agree bit for bit every epoch, follow the
// 1-rank run closely, stop together when only one of them sees the stop flag, resume exactly,
// and fail cleanly (not hang) when a peer dies or goes silent.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/ports.hpp"
#include "support/temp_dir.hpp"
#include "tests/trainer/dist_common.hpp"
#include "trainer/dist.hpp"
#include "trainer/trainer.hpp"
#include "util/error.hpp"
#include "util/mllog.hpp"

extern char** environ;

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

/// One rank's outcome: its exit status, its result file's lines, its log.
struct RankResult {
    int exit_code = -1; // -1: killed at the deadline or by a signal
    std::vector<std::string> epochs;
    std::string summary, error, log;
    bool interrupted = false;
    int epochs_done = 0;
    std::string digest;
};

struct RunResult {
    std::vector<RankResult> ranks;
    double seconds = 0;
    fs::path out;
};

using kakuren::testing::TempDir;

/// Starts rank `rank` of `world` workers (the environment plus the worker's variables and
/// extra); its stdout and stderr go to out / rank<r>.log. Returns its pid.
pid_t spawn_rank(const fs::path& out, int rank, int world, int port, const std::string& mode,
                 const std::map<std::string, std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        env.emplace_back(*e);
    }
    std::map<std::string, std::string> vars = extra;
    vars["KAKUREN_RANK"] = std::to_string(rank);
    vars["KAKUREN_WORLD"] = std::to_string(world);
    vars["KAKUREN_PORT"] = std::to_string(port);
    vars["KAKUREN_OUT"] = out.string();
    vars["KAKUREN_MODE"] = mode;
    for (const auto& [k, v] : vars) {
        env.push_back(k + "=" + v);
    }
    std::vector<char*> envp;
    for (auto& e : env) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);
    const std::string log = (out / ("rank" + std::to_string(rank) + ".log")).string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::string program = KAKUREN_DIST_WORKER;
    char* argv[] = {program.data(), nullptr};
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0) << "cannot start " << program;
    return pid;
}

/// Waits for every pid (polling), recording each exit code in result; kills the silent rank
/// stop_signal_rank once rank 0 is done, and all ranks still running after deadline_s.
void wait_ranks(std::vector<pid_t>& pids, RunResult& result, Clock::time_point start,
                double deadline_s, int stop_signal_rank) {
    std::size_t running = pids.size();
    while (running > 0) {
        for (std::size_t r = 0; r < pids.size(); ++r) {
            if (pids[r] <= 0) {
                continue;
            }
            int status = 0;
            if (::waitpid(pids[r], &status, WNOHANG) == pids[r]) {
                result.ranks[r].exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                pids[r] = 0;
                --running;
                if (r == 0 && running > 0 && stop_signal_rank >= 0) {
                    // Rank 0 is done: the silent rank can go.
                    ::kill(pids[static_cast<std::size_t>(stop_signal_rank)], SIGKILL);
                }
            }
        }
        if (std::chrono::duration<double>(Clock::now() - start).count() > deadline_s) {
            for (pid_t& pid : pids) {
                if (pid > 0) {
                    ::kill(pid, SIGKILL);
                    ::waitpid(pid, nullptr, 0);
                    pid = 0;
                }
            }
            ADD_FAILURE() << "ranks still running after " << deadline_s << " s: killed";
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

/// Reads rank `rank`'s log and result file (epoch, summary and error lines) into rr.
void read_rank(const fs::path& out, int rank, RankResult& rr) {
    rr.log = read_test_file(out / ("rank" + std::to_string(rank) + ".log"));
    std::ifstream in(out / ("rank" + std::to_string(rank) + ".txt"));
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("epoch ", 0) == 0) {
            rr.epochs.push_back(line);
        } else if (line.rfind("summary ", 0) == 0) {
            rr.summary = line;
            std::istringstream s(line.substr(8));
            int interrupted = 0;
            s >> interrupted >> rr.epochs_done >> rr.digest;
            rr.interrupted = interrupted != 0;
        } else if (line.rfind("error ", 0) == 0) {
            rr.error = line.substr(6);
        }
    }
}

/// Starts `world` worker processes with the given mode and extra environment, waits for all of
/// them (killing those still running after deadline_s), and reads their results.
RunResult run_ranks(const fs::path& out, int world, const std::string& mode,
                    std::map<std::string, std::string> extra = {}, double deadline_s = 60,
                    int stop_signal_rank = -1) {
    fs::create_directories(out);
    const kakuren::testing::PortLease port_lease; // rank 0's TCPStore binds it itself
    const int port = port_lease.port();
    std::vector<pid_t> pids;
    const auto start = Clock::now();
    for (int rank = 0; rank < world; ++rank) {
        pids.push_back(spawn_rank(out, rank, world, port, mode, extra));
    }
    RunResult result;
    result.out = out;
    result.ranks.resize(static_cast<std::size_t>(world));
    wait_ranks(pids, result, start, deadline_s, stop_signal_rank);
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (int rank = 0; rank < world; ++rank) {
        read_rank(out, rank, result.ranks[static_cast<std::size_t>(rank)]);
    }
    return result;
}

/// One epoch line's numbers: epoch, train loss, train accuracy, test loss, test accuracy,
/// hidden count.
std::vector<double> numbers(const std::string& epoch_line) {
    std::istringstream s(epoch_line.substr(6));
    std::vector<double> v(6);
    for (double& x : v) {
        s >> x;
    }
    return v;
}

#define REQUIRE_GLOO()                                                                             \
    if (!Comm::available()) {                                                                      \
        GTEST_FAIL() << "built without c10d Gloo headers: install libgloo-dev (scripts/setup.sh "  \
                        "does) and rebuild";                                                       \
    }

void expect_clean(const RunResult& run) {
    for (std::size_t r = 0; r < run.ranks.size(); ++r) {
        EXPECT_EQ(run.ranks[r].exit_code, 0) << "rank " << r << ": " << run.ranks[r].error << "\n"
                                             << run.ranks[r].log;
    }
}

/// (b) The 2-rank run takes the same global batches as the 1-rank run (step s's 64 samples,
/// 32 per rank); only the summation order differs (each rank sums its half of the gradient,
/// then the all-reduce adds the halves), so the curves agree to float rounding: measured, the
/// train losses differ by under 1e-7 relative and accuracies and hidden sets are identical.
/// The tolerances leave room for a near-tie that rounding tips the other way (one test
/// sample, two hidden samples) without letting a wrong gradient scale (x2) or a missing
/// shard pass.
void expect_follows(const RunResult& one, const RunResult& two) {
    const RankResult& r0 = two.ranks[0];
    ASSERT_EQ(one.ranks[0].epochs.size(), 4U) << one.ranks[0].log;
    ASSERT_EQ(r0.epochs.size(), 4U) << r0.log;
    for (std::size_t e = 0; e < 4; ++e) {
        const std::vector<double> a = numbers(one.ranks[0].epochs[e]);
        const std::vector<double> b = numbers(r0.epochs[e]);
        SCOPED_TRACE("epoch " + std::to_string(e + 1));
        EXPECT_NEAR(a[1], b[1], 1e-4 * a[1]) << "train loss";
        EXPECT_NEAR(a[2], b[2], 2.0 / 512) << "train accuracy";
        EXPECT_NEAR(a[3], b[3], 1e-4 * a[3]) << "test loss";
        EXPECT_NEAR(a[4], b[4], 1.0 / 128 + 1e-9) << "test accuracy";
        EXPECT_NEAR(a[5], b[5], 2) << "hidden samples";
    }
}

/// The number of gradient buckets a rank reported in its debug log (-1: no such line).
int buckets_in_log(const RankResult& r) {
    const std::string marker = " gradient bucket(s)";
    const auto at = r.log.find(marker);
    if (at == std::string::npos) {
        return -1;
    }
    const auto from = r.log.rfind(' ', at - 1);
    return std::stoi(r.log.substr(from + 1, at - from - 1));
}

TEST(Dist, TwoRanksAgreeBitForBitAndFollowTheOneRankRun) {
    REQUIRE_GLOO();
    TempDir tmp;
    const RunResult one = run_ranks(tmp.path() / "one", 1, "full");
    const RunResult two = run_ranks(tmp.path() / "two", 2, "full");
    expect_clean(one);
    expect_clean(two);
    const RankResult& r0 = two.ranks[0];
    const RankResult& r1 = two.ranks[1];
    ASSERT_EQ(r0.epochs.size(), 4U) << r0.log;
    // (a) The same epochs on both ranks to the last bit: losses, accuracies, hidden sets (count
    // and hash) and per-sample statistics (hash), and the same final weights (digest).
    EXPECT_EQ(r0.epochs, r1.epochs);
    EXPECT_EQ(r0.summary, r1.summary);
    EXPECT_FALSE(r0.interrupted);
    EXPECT_EQ(r0.epochs_done, 4);
    for (const std::string& line : r0.epochs) {
        const std::vector<double> v = numbers(line);
        EXPECT_LT(v[4], 0.95) << "the problem should not be solved outright: " << line;
        if (v[0] >= 3) {
            EXPECT_GT(v[5], 30) << "kakurenbo hides samples in epochs 3 and 4: " << line;
        }
    }

    // (b) The 2-rank run takes the same global batches as the 1-rank run.
    expect_follows(one, two);
}

TEST(Dist, ATorchScriptModelKeepsIdenticalWeightsAndHiddenSetsOnBothRanks) {
    REQUIRE_GLOO();
    TempDir tmp;
    const std::string make = std::string(KAKUREN_TORCH_PYTHON " ") + KAKUREN_SOURCE_DIR +
                             "/tests/trainer/torchscript/make_modules.py " +
                             (tmp / "modules").string();
    ASSERT_EQ(std::system(make.c_str()), 0) << make;
    const RunResult two = run_ranks(
        tmp / "two", 2, "full", {{"KAKUREN_MODEL_PATH", (tmp / "modules/dist_small.pt").string()}});
    expect_clean(two);
    const RankResult& r0 = two.ranks[0];
    ASSERT_EQ(r0.epochs.size(), 4U) << r0.log;
    // Weights (digest), batch-norm buffers, statistics and hidden sets: identical on both ranks.
    EXPECT_EQ(r0.epochs, two.ranks[1].epochs);
    EXPECT_EQ(r0.summary, two.ranks[1].summary);
    EXPECT_GT(numbers(r0.epochs.back())[5], 30) << "kakurenbo hides samples: " << r0.epochs.back();
}

TEST(Dist, AStopOnOneRankStopsBothAtTheSameStepAndTheyResumeExactly) {
    REQUIRE_GLOO();
    TempDir tmp;
    const RunResult full = run_ranks(tmp.path() / "full", 2, "full");
    expect_clean(full);
    // Rank 0 alone sets its flag at the checkpoint before step 2 of epoch 2; the flag travels
    // with step 2's all-reduce, so both ranks stop before step 3.
    const RunResult stopped =
        run_ranks(tmp.path() / "stop", 2, "stop", {{"KAKUREN_STOP_RANK", "0"}});
    expect_clean(stopped);
    for (const RankResult& r : stopped.ranks) {
        EXPECT_TRUE(r.interrupted) << r.summary << r.log;
        EXPECT_EQ(r.epochs_done, 1);
    }
    EXPECT_EQ(stopped.ranks[0].digest, stopped.ranks[1].digest) << "stopped at different steps";
    ASSERT_TRUE(fs::exists(stopped.out / "ckpt" / "loop.bin")) << "rank 0 made no checkpoint";
    const checkpoint::Resume from = load_test_checkpoint(stopped.out / "ckpt");
    EXPECT_EQ(from.loop.position.describe(), "epoch 2, step 3");
    EXPECT_EQ(from.loop.world_size, 2);

    const RunResult resumed = run_ranks(tmp.path() / "resume", 2, "resume",
                                        {{"KAKUREN_RESUME", (stopped.out / "ckpt").string()}});
    expect_clean(resumed);
    for (const RankResult& r : resumed.ranks) {
        EXPECT_FALSE(r.interrupted);
        EXPECT_EQ(r.epochs_done, 4);
        EXPECT_EQ(r.digest, full.ranks[0].digest) << "the resumed run ends with other weights";
        // Epochs 2-4, recorded by the second attempt, are the uninterrupted run's to the bit.
        ASSERT_EQ(r.epochs.size(), 3U) << r.log;
        for (std::size_t e = 0; e < 3; ++e) {
            EXPECT_EQ(r.epochs[e], full.ranks[0].epochs[e + 1]);
        }
    }

    // A checkpoint of 2 ranks is refused by a run of 1, with a message that says why.
    Config one = dist_test_config();
    Observer observer;
    util::MlLog no_log;
    try {
        train(one, observer, no_log, nullptr, &from);
        ADD_FAILURE() << "resumed a 2-rank checkpoint on 1 rank";
    } catch (const RuntimeFailure& e) {
        EXPECT_NE(std::string(e.what()).find("written by a run of 2 rank(s); this run has 1"),
                  std::string::npos)
            << e.what();
    }
}

TEST(Dist, AStopSeenOnlyByRankOneStopsRankZeroToo) {
    REQUIRE_GLOO();
    TempDir tmp;
    const RunResult stopped = run_ranks(tmp.path(), 2, "stop", {{"KAKUREN_STOP_RANK", "1"}});
    expect_clean(stopped);
    for (const RankResult& r : stopped.ranks) {
        EXPECT_TRUE(r.interrupted) << r.summary << r.log;
        EXPECT_EQ(r.epochs_done, 1);
    }
    EXPECT_EQ(stopped.ranks[0].digest, stopped.ranks[1].digest) << "stopped at different steps";
    ASSERT_TRUE(fs::exists(stopped.out / "ckpt" / "loop.bin"));
    EXPECT_EQ(load_test_checkpoint(stopped.out / "ckpt").loop.position.epoch, 2);
}

TEST(Dist, GradientBucketsReducedDuringBackwardGiveTheBitsOfOneBucketAfterIt) {
    REQUIRE_GLOO();
    TempDir tmp;
    // The test's MLP has 2,212 parameters (8.8 kB of gradients): 0.0005 MB splits them into
    // the output layer's bucket, all-reduced while autograd computes the hidden layer's
    // gradients, and the hidden layer's; 0 keeps one bucket, all-reduced once backward has ended.
    const RunResult split =
        run_ranks(tmp.path() / "split", 2, "full", {{"KAKUREN_BUCKET_MB", "0.0005"}});
    const RunResult whole =
        run_ranks(tmp.path() / "whole", 2, "full", {{"KAKUREN_BUCKET_MB", "0"}});
    expect_clean(split);
    expect_clean(whole);
    EXPECT_EQ(buckets_in_log(split.ranks[0]), 2) << split.ranks[0].log;
    EXPECT_EQ(buckets_in_log(split.ranks[1]), 2) << split.ranks[1].log;
    EXPECT_EQ(buckets_in_log(whole.ranks[0]), 1) << whole.ranks[0].log;
    ASSERT_EQ(split.ranks[0].epochs.size(), 4U) << split.ranks[0].log;
    // Each gradient element is the same sum of the same two halves either way: bit for bit
    // the same run, on both ranks (hidden sets, statistics, weights).
    EXPECT_EQ(split.ranks[0].epochs, whole.ranks[0].epochs);
    EXPECT_EQ(split.ranks[0].summary, whole.ranks[0].summary);
    EXPECT_EQ(split.ranks[0].epochs, split.ranks[1].epochs);
    EXPECT_EQ(split.ranks[0].summary, split.ranks[1].summary);
}

TEST(Dist, GradientAccumulationFollowsTheOneRankRunAndResumesExactly) {
    REQUIRE_GLOO();
    TempDir tmp;
    // 3 micro-batches of 11, 11 and 10 samples per rank and step (32 per rank), the gradient
    // exchanged once per step, in two buckets.
    const std::map<std::string, std::string> accumulate = {{"KAKUREN_ACCUMULATION", "3"},
                                                           {"KAKUREN_BUCKET_MB", "0.0005"}};
    const RunResult one = run_ranks(tmp.path() / "one", 1, "full");
    const RunResult full = run_ranks(tmp.path() / "full", 2, "full", accumulate);
    expect_clean(one);
    expect_clean(full);
    EXPECT_EQ(full.ranks[0].epochs, full.ranks[1].epochs);
    EXPECT_EQ(full.ranks[0].summary, full.ranks[1].summary);
    // The same global batches, steps and plans as one rank without accumulation: only the
    // summation order differs. One rank accumulating 4 micro-batches of 16 follows it too.
    expect_follows(one, full);
    const RunResult one_accumulating =
        run_ranks(tmp.path() / "one_accumulating", 1, "full", {{"KAKUREN_ACCUMULATION", "4"}});
    expect_clean(one_accumulating);
    expect_follows(one, one_accumulating);
    EXPECT_NE(one.ranks[0].epochs, one_accumulating.ranks[0].epochs)
        << "4 micro-batches summed in another order should differ in the last bits somewhere";

    std::map<std::string, std::string> stop = accumulate;
    stop["KAKUREN_STOP_RANK"] = "0";
    const RunResult stopped = run_ranks(tmp.path() / "stop", 2, "stop", stop);
    expect_clean(stopped);
    ASSERT_TRUE(fs::exists(stopped.out / "ckpt" / "loop.bin")) << "rank 0 made no checkpoint";
    EXPECT_EQ(load_test_checkpoint(stopped.out / "ckpt").loop.position.describe(),
              "epoch 2, step 3");
    std::map<std::string, std::string> resume = accumulate;
    resume["KAKUREN_RESUME"] = (stopped.out / "ckpt").string();
    const RunResult resumed = run_ranks(tmp.path() / "resume", 2, "resume", resume);
    expect_clean(resumed);
    for (const RankResult& r : resumed.ranks) {
        EXPECT_EQ(r.digest, full.ranks[0].digest) << "the resumed run ends with other weights";
        ASSERT_EQ(r.epochs.size(), 3U) << r.log;
        for (std::size_t e = 0; e < 3; ++e) {
            EXPECT_EQ(r.epochs[e], full.ranks[0].epochs[e + 1]);
        }
    }
}

TEST(Dist, ARankThatDiesMakesTheOtherFailPromptly) {
    REQUIRE_GLOO();
    TempDir tmp;
    const RunResult run = run_ranks(tmp.path(), 2, "die", {{"KAKUREN_TIMEOUT_S", "5"}});
    EXPECT_EQ(run.ranks[1].exit_code, 3);
    EXPECT_EQ(run.ranks[0].exit_code, 1) << run.ranks[0].log;
    EXPECT_NE(
        run.ranks[0].error.find("rank 0 of 2: communication with the other ranks failed after"),
        std::string::npos)
        << run.ranks[0].error;
}

TEST(Dist, ARankThatGoesSilentMakesTheOtherFailAfterTheTimeout) {
    REQUIRE_GLOO();
    TempDir tmp;
    // Rank 1 stops itself (SIGSTOP) after epoch 1: its connections stay open, nothing arrives.
    const RunResult run = run_ranks(tmp.path(), 2, "hang", {{"KAKUREN_TIMEOUT_S", "5"}}, 60, 1);
    EXPECT_EQ(run.ranks[0].exit_code, 1) << run.ranks[0].log;
    EXPECT_NE(
        run.ranks[0].error.find("rank 0 of 2: communication with the other ranks failed after"),
        std::string::npos)
        << run.ranks[0].error;
}

} // namespace
} // namespace kakuren::trainer

// launcher::run_pool, the local job array of kakuren tune --parallel, on real /bin/sh processes:
// exit codes and logs, at most N at once (the running tasks wait for a file the test creates
// once it has seen them start), and a stop signal passed on with no new task started after it.
#include <gtest/gtest.h>
#include <pthread.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <thread>

#include "launcher/process_pool.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace fs = std::filesystem;
using kakuren::launcher::PoolTask;

namespace {

PoolTask sh(const std::string& script, const fs::path& log) {
    return {{"/bin/sh", "-c", script}, log};
}

std::size_t lines(const fs::path& file) {
    const std::string text = fs::exists(file) ? kakuren::testing::slurp(file) : "";
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

class ProcessPool : public ::testing::Test {
  protected:
    void SetUp() override { m_dir = kakuren::testing::make_temp_dir("kakuren-pool"); }
    void TearDown() override { fs::remove_all(m_dir); }
    /// A task that notes its start in started.txt, then waits for the file `release`.
    PoolTask waiting(int i) {
        const std::string d = m_dir.string();
        return sh("echo " + std::to_string(i) + " >> '" + d + "/started.txt'; while [ ! -e '" + d +
                      "/release' ]; do sleep 0.01; done; echo done " + std::to_string(i),
                  m_dir / "logs" / ("task-" + std::to_string(i) + ".log"));
    }
    fs::path m_dir;
};

TEST_F(ProcessPool, ExitCodesAndLogsOfEachTask) {
    const auto result =
        kakuren::launcher::run_pool({sh("echo out; echo err >&2; exit 3", m_dir / "a" / "one.log"),
                                     sh("kill -9 $$", m_dir / "two.log"),
                                     {{"/nonexistent/program"}, m_dir / "three.log"}},
                                    2);
    EXPECT_EQ(result.codes, (std::vector<int>{3, 128 + SIGKILL, 127}));
    EXPECT_EQ(result.signal, 0);
    EXPECT_EQ(kakuren::testing::slurp(m_dir / "a" / "one.log"), "out\nerr\n");
    // A log is appended to, as a candidate's is round after round.
    kakuren::launcher::run_pool({sh("echo again", m_dir / "a" / "one.log")}, 1);
    EXPECT_EQ(kakuren::testing::slurp(m_dir / "a" / "one.log"), "out\nerr\nagain\n");
}

TEST_F(ProcessPool, AtMostNAtOnce) {
    kakuren::launcher::PoolResult result;
    std::thread pool([&] {
        result = kakuren::launcher::run_pool({waiting(0), waiting(1), waiting(2), waiting(3)}, 2);
    });
    ASSERT_TRUE(kakuren::testing::wait_until([&] { return lines(m_dir / "started.txt") == 2; }));
    // Neither of the two can end before `release` exists, so no third has started.
    EXPECT_EQ(lines(m_dir / "started.txt"), 2U);
    kakuren::testing::write_file(m_dir / "release", "");
    pool.join();
    EXPECT_EQ(result.codes, (std::vector<int>{0, 0, 0, 0}));
    EXPECT_EQ(lines(m_dir / "started.txt"), 4U);
}

TEST_F(ProcessPool, AStopSignalReachesTheRunningAndStartsNoMore) {
    kakuren::launcher::PoolResult result;
    std::thread pool([&] { result = kakuren::launcher::run_pool({waiting(0), waiting(1)}, 1); });
    ASSERT_TRUE(kakuren::testing::wait_until([&] { return lines(m_dir / "started.txt") == 1; }));
    // To the pool's thread, which waits in waitpid (the process's other threads block nothing).
    ASSERT_EQ(pthread_kill(pool.native_handle(), SIGTERM), 0);
    pool.join();
    EXPECT_EQ(result.signal, SIGTERM);
    EXPECT_EQ(result.codes, (std::vector<int>{128 + SIGTERM, -1}));
    EXPECT_EQ(lines(m_dir / "started.txt"), 1U);
}

} // namespace

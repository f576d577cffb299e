// Probe finding #8 (issue 23): a TorchScript forward that loops forever, and SIGTERM never
// stopped the run. The module, scripted by the real PyTorch, loops forever in training mode on
// a batch of fewer than 8 samples (the last step of each epoch here). The test copy of kakuren
// (fault/, the pause hook of tests/support/pause_hook.cpp) announces that the run is inside that
// step, past its boundary's stop check; then SIGTERM: after run.stop_grace_s the watchdog ends
// the process without a checkpoint (exit 75, within a 10 s deadline), the run recorded
// interrupted and resumable from its last checkpoint, which `kakuren resume` then continues.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "support/files.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace {

namespace fs = std::filesystem;
using kakuren::testing::quoted;
using kakuren::testing::slurp;
using kakuren::testing::TempDir;

constexpr const char* k_make_module = R"(
import sys
import torch


class Hang(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(64, 2)

    def forward(self, x):
        if self.training and x.size(0) < 8:
            t = torch.zeros(1)
            while bool((t >= 0).all()):  # never false: t only grows (to inf)
                t = t + 1.0
        return self.fc(x.flatten(1))


torch.manual_seed(1)
torch.jit.script(Hang()).save(sys.argv[1])
)";

// 60 samples in batches of 8: step 8 of each epoch has 4 and never ends. Checkpoints after
// steps 2, 4 and 6.
constexpr const char* k_recipe = R"(
[run]
name = "hang"
threads = 1
stop_grace_s = 1
[data]
dataset = "synthetic"
synthetic_train = 60
synthetic_test = 16
synthetic_classes = 2
synthetic_size = 8
batch_size = 8
[model]
kind = "torchscript"
path = "hang.pt"
inputs = [1, 8, 8]
[schedule]
epochs = 2
warmup_epochs = 0
milestones = []
[hiding]
strategy = "none"
[checkpoint]
every_steps = 2
)";

class WatchdogE2E : public ::testing::Test {
  protected:
    void SetUp() override {
        kakuren::testing::write_file(m_dir / "make_hang.py", k_make_module);
        const auto made =
            kakuren::testing::run_shell("cd " + quoted(m_dir.path().string()) +
                                            " && " KAKUREN_TORCH_PYTHON " make_hang.py hang.pt",
                                        m_dir.path());
        ASSERT_EQ(made.code, 0) << made.err;
        kakuren::testing::write_file(m_dir / "hang.toml", k_recipe);
        fs::create_directories(m_dir / "ws");
    }

    kakuren::testing::Output kakuren(const std::string& args) {
        return kakuren::testing::run_shell("cd " + quoted(m_dir.path().string()) +
                                               " && '" KAKUREN_BIN "' " + args + " --workspace " +
                                               quoted((m_dir / "ws").string()),
                                           m_dir.path());
    }

    /// Runs `kakuren args` (the test copy), held at the start of the n-th training step; sends
    /// SIGTERM there and waits at most 10 s for the exit: its code, or -1 after the deadline.
    int stop_in_step(const std::string& args, int n) {
        // New files each time: an old "paused" line must not be taken for this child's.
        ++m_children;
        const fs::path out = m_dir / ("child-" + std::to_string(m_children) + ".out");
        const fs::path err = m_dir / ("child-" + std::to_string(m_children) + ".err");
        kakuren::testing::Command command;
        command.argv = {"/bin/sh", "-c",
                        "exec '" KAKUREN_FAULT_BIN "' " + args + " --quiet --workspace " +
                            quoted((m_dir / "ws").string())};
        command.env = {"KAKUREN_TEST_PAUSE_AT=step:" + std::to_string(n)};
        command.cwd = m_dir.path();
        const pid_t pid = kakuren::testing::start(command, out, err);
        int status = 0;
        bool exited = false;
        const bool paused = kakuren::testing::wait_until(
            [&] {
                exited = exited || ::waitpid(pid, &status, WNOHANG) == pid;
                return exited ||
                       slurp(err).find("kakuren-test: paused at step") != std::string::npos;
            },
            120);
        EXPECT_TRUE(paused && !exited) << slurp(err);
        if (!exited) {
            ::kill(pid, SIGTERM);
            // The requirement's deadline (1 s of grace in it), not a speed measurement.
            exited = kakuren::testing::wait_until(
                [&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 10);
        }
        m_out = slurp(out);
        m_err = slurp(err);
        if (!exited) {
            ::kill(pid, SIGKILL);
            kakuren::testing::wait_exit(pid);
            return -1;
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    [[nodiscard]] std::string train_log() const {
        for (const auto& entry : fs::directory_iterator(m_dir / "ws/runs")) {
            return slurp(entry.path() / "train.log");
        }
        return {};
    }

    TempDir m_dir{"kakuren-watchdog-e2e"};
    std::string m_out, m_err;
    int m_children = 0;
};

TEST_F(WatchdogE2E, AStepThatNeverEndsIsAbandonedAfterTheGraceResumableFromTheLastCheckpoint) {
    ASSERT_EQ(stop_in_step("run hang.toml", 8), 75) << m_out << m_err;
    const std::string why = "stopped by signal 15: the step in progress did not end within "
                            "run.stop_grace_s = 1.0 s of the stop request; abandoned without a "
                            "checkpoint; resumable from checkpoint 0001-000006";
    EXPECT_NE(m_err.find(why), std::string::npos) << m_err;
    EXPECT_NE(m_out.find("continue it with: kakuren resume hang-"), std::string::npos) << m_out;
    EXPECT_NE(train_log().find("interrupted: " + why), std::string::npos) << train_log();
    const auto shown = kakuren("show hang");
    EXPECT_NE(shown.out.find("status    interrupted (" + why), std::string::npos) << shown.out;
    const auto listed = kakuren("checkpoints hang --format json");
    EXPECT_NE(listed.out.find("\"0001-000006\""), std::string::npos) << listed.out;
    EXPECT_EQ(listed.out.find("\"0001-000007\""), std::string::npos) << listed.out;

    // The resumed attempt continues from that checkpoint: steps 7 and 8 (which hangs again).
    ASSERT_EQ(stop_in_step("resume hang", 2), 75) << m_out << m_err;
    const std::string log = train_log();
    EXPECT_NE(log.find("resume: attempt 2 continues from checkpoint 0001-000006"),
              std::string::npos)
        << log;
    EXPECT_NE(m_err.find(why), std::string::npos) << m_err;
}

} // namespace

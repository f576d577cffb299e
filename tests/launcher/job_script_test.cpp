// The batch script: a golden file per form (one run, a sweep array), and no injection: every
// recipe value and path reaches the script as one quoted word, checked by running the script.
#include "launcher/job_script.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using kakuren::launcher::job_script;
using kakuren::launcher::ScriptSpec;
using kakuren::launcher::shell_quote;

namespace {

std::string read(const fs::path& p) {
    return kakuren::testing::slurp(p);
}

ScriptSpec golden_spec() {
    ScriptSpec s;
    s.run_ids = {"tiny-20261126-120000-abcd"};
    s.run_dirs = {"/work/ws/runs/tiny-20261126-120000-abcd"};
    s.workspace = "/work/ws";
    s.kakuren = "/opt/kakuren/bin/kakuren";
    s.job_name = "kakuren-tiny";
    s.nodes = 2;
    s.ntasks_per_node = 1;
    s.cpus_per_task = 1;
    s.partition = "debug";
    s.memory = "1G";
    s.time_limit_min = 90;
    s.signal_grace_s = 60;
    s.extra = "--exclusive --comment=hiding-sweep";
    s.output = "/work/ws/runs/tiny-20261126-120000-abcd/logs/slurm-%j.out";
    return s;
}

/// The golden files live in the source tree; KAKUREN_UPDATE_GOLDEN=1 rewrites them.
void expect_golden(const std::string& text, const std::string& name) {
    const fs::path file = fs::path(KAKUREN_SOURCE_DIR) / "tests/launcher/golden" / name;
    if (std::getenv("KAKUREN_UPDATE_GOLDEN") != nullptr) {
        std::ofstream(file) << text;
    }
    EXPECT_EQ(text, read(file)) << "golden file " << file
                                << " differs (KAKUREN_UPDATE_GOLDEN=1 rewrites it)";
}

struct Scratch {
    kakuren::testing::TempDir dir{"kakuren-script"};
    const fs::path& root = dir.path();
};

int run_bash(const fs::path& script, const std::string& env_prefix = "") {
    const std::string command = "env -u SLURM_JOB_ID " + env_prefix + " bash " +
                                shell_quote(script.string()) + " > " +
                                shell_quote(script.string() + ".out") + " 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace

TEST(JobScript, SingleRunMatchesGoldenFile) {
    expect_golden(job_script(golden_spec()), "single.sh");
}

TEST(JobScript, SweepArrayMatchesGoldenFile) {
    ScriptSpec s = golden_spec();
    s.run_ids = {"tiny-a", "tiny-b", "tiny-c"};
    s.run_dirs = {"/work/ws/runs/tiny-a", "/work/ws/runs/tiny-b", "/work/ws/runs/tiny-c"};
    s.output = "/work/ws/sweeps/sweep-tiny-a/slurm-%A_%a.out";
    s.nodes = 1;
    s.signal_grace_s = 0;
    s.extra.clear();
    expect_golden(job_script(s), "array.sh");
}

// A GPU job: slurm.gpus_per_node asks for the GPUs (--gpus-per-node); each rank then picks its
// local GPU from SLURM_LOCALID (trainer/device.cpp), so the script sets nothing per rank.
TEST(JobScript, GpuJobAsksForGpusPerNode) {
    ScriptSpec s = golden_spec();
    s.ntasks_per_node = 4;
    s.cpus_per_task = 8;
    s.gpus_per_node = 4;
    s.extra.clear();
    expect_golden(job_script(s), "gpus.sh");
    const std::string text = job_script(s);
    EXPECT_NE(text.find("#SBATCH --gpus-per-node=4\n"), std::string::npos) << text;
    EXPECT_NE(text.find("#SBATCH --ntasks-per-node=4\n"), std::string::npos) << text;
}

// run.threads = 4 asks for 4 CPUs per rank (cli/config_map.cpp: slurm.cpus_per_task = 0).
TEST(JobScript, ThreadsAskForTheirCpusPerTask) {
    ScriptSpec s = golden_spec();
    s.extra.clear();
    s.cpus_per_task = 4;
    s.threads = 4;
    expect_golden(job_script(s), "threads.sh");
    EXPECT_NE(job_script(s).find("#SBATCH --cpus-per-task=4\n"), std::string::npos);
}

// run.threads = 0 and no slurm.cpus_per_task: no --cpus-per-task; the script says that each
// rank fills its share of what the job gets.
TEST(JobScript, ThreadsZeroFillsTheAllocationAndSaysSo) {
    ScriptSpec s = golden_spec();
    s.extra = "--exclusive";
    s.cpus_per_task = 0;
    s.threads = 0;
    expect_golden(job_script(s), "fill_allocation.sh");
    const std::string text = job_script(s);
    EXPECT_EQ(text.find("--cpus-per-task"), std::string::npos) << text;
    EXPECT_NE(text.find("# run.threads = 0 and no slurm.cpus_per_task: each rank runs one thread "
                        "per CPU\n"),
              std::string::npos)
        << text;
}

TEST(JobScript, SetupLinesComeBeforeTheLaunch) {
    ScriptSpec s = golden_spec();
    s.extra.clear();
    s.setup = {"module load cuda/12.4 gcc/12", "source \"$HOME/venvs/torch/bin/activate\""};
    expect_golden(job_script(s), "setup.sh");
    const std::string text = job_script(s);
    const auto setup = text.find("\nmodule load cuda/12.4 gcc/12\nsource");
    ASSERT_NE(setup, std::string::npos) << text;
    EXPECT_LT(setup, text.find("srun "));
}

TEST(JobScript, ArrayParallelThrottlesTheSweep) {
    ScriptSpec s = golden_spec();
    s.run_ids = {"tiny-a", "tiny-b", "tiny-c", "tiny-d"};
    s.run_dirs = {"/work/ws/runs/tiny-a", "/work/ws/runs/tiny-b", "/work/ws/runs/tiny-c",
                  "/work/ws/runs/tiny-d"};
    s.output = "/work/ws/sweeps/sweep-tiny-a/slurm-%A_%a.out";
    s.extra.clear();
    s.array_parallel = 2;
    expect_golden(job_script(s), "array_parallel.sh");
    EXPECT_NE(job_script(s).find("#SBATCH --array=0-3%2\n"), std::string::npos);
}

// The setup lines run in the batch shell before the rank starts, and what they export reaches
// it (srun passes the environment on); values elsewhere stay quoted.
TEST(JobScript, SetupLinesRunBeforeTheRankAndTheirEnvironmentReachesIt) {
    Scratch dir;
    const fs::path fake = dir.root / "kakuren";
    std::ofstream(fake) << "#!/bin/bash\nprintf '%s\\n' \"$KAKUREN_TEST_SETUP\" \"$@\" > \""
                        << (dir.root / "args").string() << "\"\n";
    fs::permissions(fake, fs::perms::owner_all);
    ScriptSpec s;
    s.run_ids = {"r"};
    s.run_dirs = {(dir.root / "r").string()};
    s.workspace = dir.root.string();
    s.kakuren = fake.string();
    s.job_name = "k";
    s.output = (dir.root / "out").string();
    // An unset variable read by a setup line (as module scripts do) must not end the script.
    s.setup = {"export KAKUREN_TEST_SETUP=\"from setup${NOT_SET_ANYWHERE}\"",
               "echo setup-ran > " + shell_quote((dir.root / "ran").string())};
    const fs::path script = dir.root / "job.sh";
    std::ofstream(script) << job_script(s);
    EXPECT_EQ(run_bash(script), 0) << read(script.string() + ".out");
    EXPECT_EQ(read(dir.root / "ran"), "setup-ran\n");
    EXPECT_EQ(read(dir.root / "args"), "from setup\njob\nr\n--local-ranks\n1\n");
}

TEST(JobScript, QuoteKeepsEveryByteAsOneWord) {
    EXPECT_EQ(shell_quote("plain"), "'plain'");
    EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
    EXPECT_EQ(shell_quote(""), "''");
}

TEST(JobScript, ValuesCannotInjectShellCommands) {
    Scratch dir;
    const fs::path marker = dir.root / "INJECTED";
    const std::string evil = "x'; touch " + marker.string() + "; echo '$(touch " + marker.string() +
                             ")`touch " + marker.string() + "`\n#";
    // A fake kakuren that records its arguments, one per line.
    const fs::path fake = dir.root / "fake kakuren's $(x)";
    std::ofstream(fake) << "#!/bin/bash\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \""
                        << (dir.root / "args").string() << "\"\n";
    fs::permissions(fake, fs::perms::owner_all);

    ScriptSpec s;
    s.run_ids = {evil};
    s.run_dirs = {(dir.root / ("run dir " + evil.substr(0, 3))).string()};
    s.workspace = (dir.root / "ws $(touch INJECTED)").string();
    s.kakuren = fake.string();
    s.job_name = evil;
    s.partition = evil;
    s.extra = "--comment=" + evil;
    s.output = (dir.root / "out-%j").string();
    const fs::path script = dir.root / "job.sh";
    std::ofstream(script) << job_script(s);

    EXPECT_EQ(run_bash(script), 0) << read(script.string() + ".out");
    EXPECT_FALSE(fs::exists(marker)) << "a value ran as a command:\n" << job_script(s);
    EXPECT_FALSE(fs::exists(fs::current_path() / "INJECTED"));
    EXPECT_EQ(read(dir.root / "args"), "job\n" + evil + "\n--local-ranks\n1\n");
    EXPECT_TRUE(fs::exists(fs::path(s.run_dirs[0]) / "logs"));
}

TEST(JobScript, ForwardsStopSignalsAndReturnsTheRanksExitCode) {
    Scratch dir;
    // A rank that exits 75 once it gets SIGUSR1 (the time-limit warning). It says when it is
    // ready: the batch script set its traps before it started the rank.
    const fs::path fake = dir.root / "kakuren";
    const fs::path ready = dir.root / "ready";
    std::ofstream(fake) << "#!/bin/bash\ntrap 'echo got-usr1 > \"" << (dir.root / "signal").string()
                        << "\"; exit 75' USR1\ntouch " << shell_quote(ready.string())
                        << "\nwhile true; do sleep 0.05; done\n";
    fs::permissions(fake, fs::perms::owner_all);
    ScriptSpec s;
    s.run_ids = {"r"};
    s.run_dirs = {(dir.root / "r").string()};
    s.workspace = dir.root.string();
    s.kakuren = fake.string();
    s.job_name = "k";
    s.output = (dir.root / "out").string();
    const fs::path script = dir.root / "job.sh";
    std::ofstream(script) << job_script(s);

    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        unsetenv("SLURM_JOB_ID");
        execl("/bin/bash", "bash", script.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    // The rank is up and the script waits on it (after `child=$!`): the signal is forwarded.
    ASSERT_TRUE(kakuren::testing::wait_until([&] {
        return fs::exists(ready) && kakuren::testing::blocked_syscall(pid) == SYS_wait4;
    })) << "the script never waited on its rank";
    kill(pid, SIGUSR1);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 75);
    EXPECT_EQ(read(dir.root / "signal"), "got-usr1\n");
}

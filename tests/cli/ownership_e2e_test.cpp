// One run, one owner, and a database that vanishes under a run: the real kakuren binary.
// A run is held still at a known point without any sleep: its stdout is a pipe the test filled
// up beforehand, so kakuren blocks on its first line ("run <id>", printed after the run took
// its lock and began its attempt) until the test drains the pipe.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <csignal>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "db/store.hpp"
#include "support/files.hpp"
#include "support/wait.hpp"
#include "util/system.hpp"

namespace fs = std::filesystem;

namespace {

using kakuren::testing::slurp;

struct Result {
    int code = -1;
    std::string out, err;
};

int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// A kakuren process whose stdout is a full pipe: it runs until its first write to stdout. With
/// reserve > 0 the pipe keeps that many bytes free: it runs until its first write that does not
/// fit (a pipe write of up to PIPE_BUF bytes is all or nothing).
class Held {
  public:
    Held(const std::vector<std::string>& argv, const fs::path& err_file, std::size_t reserve = 0) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) {
            throw std::runtime_error("pipe");
        }
        m_read = fds[0];
        // The smallest pipe, filled completely: the child's first write blocks.
        fcntl(fds[1], F_SETPIPE_SZ, 4096);
        const int capacity = fcntl(fds[1], F_GETPIPE_SZ);
        fcntl(fds[1], F_SETFL, O_NONBLOCK);
        const std::string filler(static_cast<std::size_t>(capacity) - reserve, '#');
        std::size_t written = 0;
        while (written < filler.size()) {
            const ssize_t n = write(fds[1], filler.data() + written, filler.size() - written);
            if (n <= 0) {
                break;
            }
            written += static_cast<std::size_t>(n);
        }
        m_filler = written;
        fcntl(fds[1], F_SETFL, 0);
        m_pid = fork();
        if (m_pid == 0) {
            if (chdir(KAKUREN_SOURCE_DIR) != 0) {
                _exit(126);
            }
            const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            const int in = open("/dev/null", O_RDONLY);
            dup2(fds[1], 1);
            dup2(err, 2);
            dup2(in, 0);
            std::vector<char*> args;
            std::vector<std::string> copy = argv;
            args.reserve(copy.size() + 1);
            for (std::string& a : copy) {
                args.push_back(a.data());
            }
            args.push_back(nullptr);
            execvp(args[0], args.data());
            _exit(127);
        }
        close(fds[1]);
    }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    ~Held() {
        if (m_read >= 0) {
            close(m_read);
        }
    }

    /// Lets it go on: reads its stdout to the end and waits for it. Returns (exit code, stdout
    /// without the filler).
    std::pair<int, std::string> release() {
        std::string out;
        char buf[4096];
        for (;;) {
            const ssize_t n = read(m_read, buf, sizeof buf);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
        close(m_read);
        m_read = -1;
        int status = 0;
        while (waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
        }
        return {exit_code(status), out.substr(std::min(m_filler, out.size()))};
    }

    [[nodiscard]] pid_t pid() const { return m_pid; }

  private:
    pid_t m_pid = -1;
    int m_read = -1;
    std::size_t m_filler = 0;
};

class OwnershipE2E : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/kakuren-owner-XXXXXX";
        m_ws = mkdtemp(tmpl);
        unsetenv("KAKUREN_WORKSPACE");
        unsetenv("KAKUREN_TEST_CHECKPOINT_FAULT");
    }
    void TearDown() override { fs::remove_all(m_ws); }

    std::vector<std::string> argv(const std::vector<std::string>& args) const {
        std::vector<std::string> out = {KAKUREN_BIN};
        out.insert(out.end(), args.begin(), args.end());
        out.insert(out.end(), {"--workspace", m_ws.string()});
        return out;
    }

    Result kakuren(const std::string& args, const std::string& env = "") {
        const fs::path out = m_ws / "stdout.txt", err = m_ws / "stderr.txt";
        const std::string binary = env.find("KAKUREN_TEST_CHECKPOINT_FAULT") != std::string::npos
                                       ? KAKUREN_FAULT_BIN
                                       : KAKUREN_BIN;
        const std::string cmd = "cd '" KAKUREN_SOURCE_DIR "' && " + env + " '" + binary + "' " +
                                args + " --workspace '" + m_ws.string() + "' >'" + out.string() +
                                "' 2>'" + err.string() + "' </dev/null";
        Result r;
        r.code = exit_code(std::system(cmd.c_str()));
        r.out = slurp(out);
        r.err = slurp(err);
        return r;
    }

    kakuren::db::Store store() { return kakuren::db::Store::open(m_ws / "kakuren.db"); }

    /// The one run of the workspace.
    kakuren::db::RunRow only_run() {
        const auto runs = store().list_runs();
        EXPECT_EQ(runs.size(), 1U);
        return runs.empty() ? kakuren::db::RunRow{} : runs.front();
    }

    /// A run stopped by SIGTERM at its first checkpoint (status interrupted).
    std::string interrupted_run() {
        const Result r = kakuren("run recipes/synthetic_tiny.toml --set run.threads=1 --quiet",
                                 "KAKUREN_TEST_CHECKPOINT_FAULT=term:committed:1");
        EXPECT_EQ(r.code, 75) << r.out << r.err;
        const auto run = only_run();
        EXPECT_EQ(kakuren::db::to_string(run.status), "interrupted");
        return run.id;
    }

    fs::path m_ws;
};

const std::vector<std::string> k_tiny = {"run", "recipes/synthetic_tiny.toml", "--set",
                                         "run.threads=1", "--quiet"};

TEST_F(OwnershipE2E, AResumeLosingTheRaceChangesNothing) {
    // Before: two resumes passed the status check together and both trained the run (the loser
    // failed on a UNIQUE constraint after writing run_stop into the shared MLPerf log).
    const std::string id = interrupted_run();
    const fs::path run_dir = m_ws / "runs" / id;
    const std::string mllog = slurp(run_dir / "mllog.txt");
    {
        // The winner of the race: it holds the run's lock, as a resume that got there first.
        auto winner = kakuren::util::FileLock::try_acquire(run_dir / ".owner.lock");
        ASSERT_TRUE(winner);
        const Result loser = kakuren("resume " + id + " --quiet");
        EXPECT_EQ(loser.code, 1) << loser.out << loser.err;
        EXPECT_NE(loser.err.find("is owned by another kakuren process"), std::string::npos)
            << loser.err;
        EXPECT_EQ(store().attempts(id).size(), 1U) << "no attempt begun";
        EXPECT_EQ(slurp(run_dir / "mllog.txt"), mllog) << "the log is untouched";
        EXPECT_EQ(kakuren::db::to_string(only_run().status), "interrupted");
    }

    // Two real resumes at once: exactly one trains; the other is refused or finds it done.
    const fs::path err_a = m_ws / "a.err", err_b = m_ws / "b.err";
    Held a(argv({"resume", id, "--quiet"}), err_a);
    Held b(argv({"resume", id, "--quiet"}), err_b);
    const auto [code_a, out_a] = a.release();
    const auto [code_b, out_b] = b.release();
    const std::vector<int> codes = {code_a, code_b};
    EXPECT_EQ(std::count(codes.begin(), codes.end(), 0), code_a == 0 && code_b == 0 ? 2 : 1)
        << slurp(err_a) << slurp(err_b);
    const auto attempts = store().attempts(id);
    ASSERT_EQ(attempts.size(), 2U) << "one resume trained, never two";
    EXPECT_EQ(attempts[1].status, "finished");
    EXPECT_EQ(kakuren::db::to_string(only_run().status), "finished");
    for (const fs::path& e : {err_a, err_b}) {
        EXPECT_EQ(slurp(e).find("UNIQUE"), std::string::npos) << slurp(e);
    }
    const Result check = kakuren("report " + id + " --format json");
    ASSERT_EQ(check.code, 0) << check.err;
    EXPECT_NE(check.out.find("\"problems\": []"), std::string::npos) << check.out;
}

TEST_F(OwnershipE2E, ARunInAPidNamespaceIsNotDeclaredCrashed) {
    // Before: the run recorded PID 1; the next command on the host saw the host's PID 1 with
    // another start time, marked the live run crashed, and resume started a second trainer.
    if (geteuid() != 0 || std::system("unshare --pid --fork --mount-proc true 2>/dev/null") != 0) {
        GTEST_SKIP() << "needs root and unshare(1) for a PID namespace";
    }
    std::vector<std::string> args = {"unshare", "--pid", "--fork", "--mount-proc"};
    const auto run = argv(k_tiny);
    args.insert(args.end(), run.begin(), run.end());
    Held held(args, m_ws / "run.err");
    // It has begun its attempt and waits on its first line: ask the workspace about it.
    kakuren::db::RunRow row;
    // The database and the run appear while it starts.
    ASSERT_TRUE(kakuren::testing::wait_until(
        [&] {
            if (!fs::exists(m_ws / "kakuren.db")) {
                return false;
            }
            const auto runs = store().list_runs();
            if (runs.empty() || runs.front().status != kakuren::db::RunStatus::running) {
                return false;
            }
            row = runs.front();
            return true;
        },
        300))
        << slurp(m_ws / "run.err");
    EXPECT_EQ(store().attempts(row.id).at(0).pid, 1) << "inside its namespace it is PID 1";
    const Result runs = kakuren("runs --format json");
    ASSERT_EQ(runs.code, 0) << runs.err;
    EXPECT_EQ(kakuren::db::to_string(only_run().status), "running") << runs.out;
    const Result second = kakuren("resume " + row.id + " --quiet");
    EXPECT_EQ(second.code, 1) << second.out << second.err;
    EXPECT_NE(second.err.find("still running"), std::string::npos) << second.err;

    const auto [code, out] = held.release();
    EXPECT_EQ(code, 0) << out << slurp(m_ws / "run.err");
    EXPECT_EQ(kakuren::db::to_string(only_run().status), "finished");
    EXPECT_EQ(store().attempts(row.id).size(), 1U);
}

/// The host pid of the one child of pid (the program `unshare --fork` started), or -1.
pid_t only_child(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    pid_t child = -1;
    in >> child;
    return child;
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
        ++n;
    }
    return n;
}

TEST_F(OwnershipE2E, AnOwnerWhoseLockFileWasDeletedStopsAtItsNextCheckpointWritingNothing) {
    // Before (issue 23 #4): train in a PID namespace, `rm runs/<id>/.owner.lock`, resume from
    // outside (the pid check is fooled by the namespace, and the deleted file let the resume lock
    // a new one), then let the first owner go on: both trained to the end, and mllog.txt had two
    // run_stop records.
    if (geteuid() != 0 || std::system("unshare --pid --fork --mount-proc true 2>/dev/null") != 0) {
        GTEST_SKIP() << "needs root and unshare(1) for a PID namespace";
    }
    std::vector<std::string> args = {"unshare", "--pid", "--fork", "--mount-proc"};
    const auto run = argv({"run", "recipes/synthetic_tiny.toml", "--set", "run.threads=1"});
    args.insert(args.end(), run.begin(), run.end());
    // Room for its two header lines ("run <id>", "records: ..."), not for its first epoch line:
    // it stops in that write, its first epoch recorded, its first checkpoint not yet written.
    const std::string id_shape = "synthetic_tiny-20261206-120000-abcd";
    const std::string header =
        "run " + id_shape + "\nrecords: " + (m_ws / "runs" / id_shape).string() +
        " (train.log, mllog.txt), database " + (m_ws / "kakuren.db").string() + "\n";
    Held held(args, m_ws / "run.err", header.size() + 40);
    pid_t owner = -1;
    ASSERT_TRUE(kakuren::testing::wait_until(
        [&] {
            owner = only_child(held.pid());
            return owner > 0 && kakuren::testing::blocked_syscall(owner) == SYS_write;
        },
        300))
        << slurp(m_ws / "run.err");
    const auto row = only_run();
    ASSERT_EQ(store().epochs(row.id).size(), 1U) << "it stopped after recording epoch 1";
    const fs::path run_dir = m_ws / "runs" / row.id;
    ASSERT_TRUE(fs::remove(run_dir / ".owner.lock"));

    const Result second = kakuren("resume " + row.id + " --quiet");
    ASSERT_EQ(second.code, 0) << second.out << second.err;
    const std::string mllog = slurp(run_dir / "mllog.txt");
    EXPECT_EQ(count_of(mllog, R"("key": "run_stop")"), 1U) << mllog;

    const auto [code, out] = held.release();
    const std::string err = slurp(m_ws / "run.err");
    EXPECT_EQ(code, 1) << out << err;
    EXPECT_NE(err.find("kakuren: error: run " + row.id + ": its lock file " +
                       (run_dir / ".owner.lock").string() +
                       " was deleted or replaced while this process"),
              std::string::npos)
        << err;
    EXPECT_NE(out.find("epoch 1/4"), std::string::npos) << "it was held where the test meant";
    EXPECT_EQ(out.find("epoch 2/4"), std::string::npos) << "it stopped, it did not go on";
    EXPECT_EQ(slurp(run_dir / "mllog.txt"), mllog) << "not one MLPerf line more";
    EXPECT_EQ(kakuren::db::to_string(only_run().status), "finished");
    const auto attempts = store().attempts(row.id);
    ASSERT_EQ(attempts.size(), 2U);
    EXPECT_EQ(attempts[1].status, "finished") << "the resume is the one owner that finished";
    EXPECT_NE(attempts[0].status, "finished");
    EXPECT_NE(attempts[0].status, "failed") << "its end is not recorded over the new owner's";
    EXPECT_EQ(store().epochs(row.id).size(), 4U);
    const Result check = kakuren("report " + row.id + " --format json");
    ASSERT_EQ(check.code, 0) << check.err;
    EXPECT_NE(check.out.find("\"problems\": []"), std::string::npos) << check.out;
}

TEST_F(OwnershipE2E, AKilledOwnerIsDeclaredCrashedAtOnce) {
    // The lock is released by the kernel: a run killed with SIGKILL is crashed for the next
    // command (and resumable), whatever its pid says.
    const std::string id = interrupted_run();
    const Result killed =
        kakuren("resume " + id + " --quiet", "KAKUREN_TEST_CHECKPOINT_FAULT=kill:committed:1");
    EXPECT_EQ(killed.code, 128 + SIGKILL) << killed.err;
    ASSERT_EQ(kakuren("runs").code, 0);
    EXPECT_EQ(kakuren::db::to_string(only_run().status), "crashed");
    const Result resumed = kakuren("resume " + id + " --quiet");
    EXPECT_EQ(resumed.code, 0) << resumed.err;
}

TEST_F(OwnershipE2E, ADeletedDatabaseStopsTheRunWithAClearError) {
    // Before: the run trained on into the deleted file, exited 0 "finished", and every record
    // was lost ("no runs").
    Held held(argv(k_tiny), m_ws / "run.err");
    // Polled with a growing pause: a tight loop of readers can starve the run's own switch to
    // WAL mode on a loaded machine (it then fails with "database is locked").
    ASSERT_TRUE(kakuren::testing::wait_until(
        [&] { return fs::exists(m_ws / "kakuren.db") && !store().list_runs().empty(); }, 300))
        << slurp(m_ws / "run.err");
    for (const char* f : {"kakuren.db", "kakuren.db-wal", "kakuren.db-shm"}) {
        fs::remove(m_ws / f);
    }
    const auto [code, out] = held.release();
    const std::string err = slurp(m_ws / "run.err");
    EXPECT_EQ(code, 1) << out << err;
    EXPECT_NE(err.find("kakuren: error: the database " + (m_ws / "kakuren.db").string() +
                       " was deleted while this process used it"),
              std::string::npos)
        << err;
    EXPECT_EQ(out.find("finished"), std::string::npos) << out;
    EXPECT_FALSE(fs::exists(m_ws / "kakuren.db")) << "never recreated behind the user's back";
}

TEST_F(OwnershipE2E, ADatabaseDeletedWhileTheRunTrainsStopsItAtTheNextEpochEnd) {
    // A long run, stopped (SIGSTOP) once its first epoch line is out, loses its database.
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    const fs::path err_file = m_ws / "run.err";
    const std::vector<std::string> args =
        argv({"run", "recipes/synthetic_tiny.toml", "--set", "run.threads=1", "--set",
              "schedule.epochs=500", "--set", "schedule.milestones=[]"});
    const pid_t pid = fork();
    if (pid == 0) {
        if (chdir(KAKUREN_SOURCE_DIR) != 0) {
            _exit(126);
        }
        const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fds[1], 1);
        dup2(err, 2);
        std::vector<std::string> copy = args;
        std::vector<char*> raw;
        raw.reserve(copy.size() + 1);
        for (std::string& a : copy) {
            raw.push_back(a.data());
        }
        raw.push_back(nullptr);
        execv(raw[0], raw.data());
        _exit(127);
    }
    close(fds[1]);
    std::string out;
    char c = 0;
    while (out.find("epoch 1/500") == std::string::npos && read(fds[0], &c, 1) == 1) {
        out.push_back(c);
    }
    ASSERT_EQ(kill(pid, SIGSTOP), 0);
    for (const char* f : {"kakuren.db", "kakuren.db-wal", "kakuren.db-shm"}) {
        fs::remove(m_ws / f);
    }
    ASSERT_EQ(kill(pid, SIGCONT), 0);
    char buf[4096];
    for (ssize_t n = 0; (n = read(fds[0], buf, sizeof buf)) > 0;) {
        out.append(buf, static_cast<std::size_t>(n));
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const std::string err = slurp(err_file);
    EXPECT_EQ(exit_code(status), 1) << out << err;
    EXPECT_NE(err.find("was deleted while this process used it"), std::string::npos) << err;
    EXPECT_EQ(out.find("epoch 500/500"), std::string::npos) << "it stopped, it did not go on";
    EXPECT_FALSE(fs::exists(m_ws / "kakuren.db")) << "never recreated behind the user's back";
}

TEST_F(OwnershipE2E, AReplacedDatabaseStopsTheRunToo) {
    Held held(argv(k_tiny), m_ws / "run.err");
    // Polled with a growing pause: a tight loop of readers can starve the run's own switch to
    // WAL mode on a loaded machine (it then fails with "database is locked").
    ASSERT_TRUE(kakuren::testing::wait_until(
        [&] { return fs::exists(m_ws / "kakuren.db") && !store().list_runs().empty(); }, 300))
        << slurp(m_ws / "run.err");
    // A copy put in its place (a restore from a backup): another file at the same path.
    fs::copy_file(m_ws / "kakuren.db", m_ws / "copy.db");
    fs::rename(m_ws / "copy.db", m_ws / "kakuren.db");
    const auto [code, out] = held.release();
    const std::string err = slurp(m_ws / "run.err");
    EXPECT_EQ(code, 1) << out << err;
    EXPECT_NE(err.find("was replaced by another file while this process used it"),
              std::string::npos)
        << err;
}

TEST_F(OwnershipE2E, AFullDiskNamesTheRootCauseAndTheRunDoesNotStayRunning) {
    // Before: the only message was "cannot end attempt 1 ... database or disk is full" (the
    // failure to record the end hid the failure that ended the run), and the run stayed
    // `running` until the next command.
    if (geteuid() != 0) {
        GTEST_SKIP() << "needs root to mount a small tmpfs (a real full disk)";
    }
    const fs::path ws = m_ws / "small";
    fs::create_directories(ws);
    ASSERT_EQ(::mount("tmpfs", ws.c_str(), "tmpfs", 0, "size=600k"), 0);
    const fs::path out = m_ws / "out.txt", err = m_ws / "err.txt";
    const std::string cmd = "cd '" KAKUREN_SOURCE_DIR "' && '" KAKUREN_BIN
                            "' run recipes/synthetic_tiny.toml --set run.threads=1 --set "
                            "model.hidden=[1024] --quiet --workspace '" +
                            ws.string() + "' >'" + out.string() + "' 2>'" + err.string() + "'";
    const int code = exit_code(std::system(cmd.c_str()));
    const std::string message = slurp(err);
    EXPECT_EQ(code, 1) << message;
    EXPECT_NE(message.find("kakuren: error: "), std::string::npos) << message;
    EXPECT_EQ(message.find("kakuren: error: database " + (ws / "kakuren.db").string() +
                           ": cannot end attempt"),
              std::string::npos)
        << "the root cause, not the failed end, is the error: " << message;
    const bool full = message.find("No space left on device") != std::string::npos ||
                      message.find("disk is full") != std::string::npos;
    EXPECT_TRUE(full) << message;
    ASSERT_EQ(::mount("tmpfs", ws.c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0);
    {
        const auto runs = kakuren::db::Store::open(ws / "kakuren.db").list_runs();
        ASSERT_EQ(runs.size(), 1U);
        // Recorded as failed, or (when not even that fit) crashed at once: its lock is free.
        const std::string list =
            "'" KAKUREN_BIN "' runs --workspace '" + ws.string() + "' >/dev/null";
        EXPECT_EQ(std::system(list.c_str()), 0);
        const auto status = kakuren::db::Store::open(ws / "kakuren.db").list_runs().at(0).status;
        EXPECT_TRUE(status == kakuren::db::RunStatus::failed ||
                    status == kakuren::db::RunStatus::crashed)
            << kakuren::db::to_string(status);
    }
    ::umount2(ws.c_str(), MNT_DETACH);
}

} // namespace

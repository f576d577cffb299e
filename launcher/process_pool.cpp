// A local job array (launcher/process_pool.hpp).
#include "launcher/process_pool.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "util/error.hpp"

namespace kakuren::launcher {
namespace {

constexpr std::array<int, 4> k_stop_signals = {SIGINT, SIGTERM, SIGUSR1, SIGHUP};

std::atomic<int> g_pool_signal{0};

extern "C" void remember_pool_signal(int sig) {
    g_pool_signal.store(sig);
}

/// Our handlers for the pool's life, without SA_RESTART so that waitpid returns to pass a
/// signal on; the caller's are put back when it ends.
class SignalScope {
  public:
    SignalScope() {
        struct sigaction action {};
        action.sa_handler = remember_pool_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = 0;
        for (std::size_t i = 0; i < k_stop_signals.size(); ++i) {
            sigaction(k_stop_signals[i], &action, &m_old[i]);
        }
    }
    ~SignalScope() {
        for (std::size_t i = 0; i < k_stop_signals.size(); ++i) {
            sigaction(k_stop_signals[i], &m_old[i], nullptr);
        }
    }
    SignalScope(const SignalScope&) = delete;
    SignalScope& operator=(const SignalScope&) = delete;

  private:
    std::array<struct sigaction, k_stop_signals.size()> m_old{};
};

/// In the child, between fork and exec: only async-signal-safe calls.
[[noreturn]] void exec_task(const PoolTask& task, pid_t parent, char* const* argv) {
    for (const int sig : k_stop_signals) {
        std::signal(sig, SIG_DFL);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) { // the parent died before prctl: nobody waits for this task
        _exit(127);
    }
    const int fd = open(task.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    execv(argv[0], argv);
    _exit(127);
}

pid_t start(const PoolTask& task) {
    std::filesystem::create_directories(task.log.parent_path());
    std::vector<char*> argv;
    for (const std::string& a : task.argv) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
        exec_task(task, parent, argv.data());
    }
    return pid;
}

void pass_on(const std::vector<pid_t>& pids, int sig) {
    for (const pid_t p : pids) {
        if (p > 0) {
            kill(p, sig);
        }
    }
}

} // namespace

PoolResult run_pool(const std::vector<PoolTask>& tasks, int parallel) {
    PoolResult result;
    result.codes.assign(tasks.size(), -1);
    const SignalScope scope;
    g_pool_signal.store(0);
    std::vector<pid_t> pids(tasks.size(), 0);
    std::size_t next = 0, running = 0;
    std::string failure;
    while (next < tasks.size() || running > 0) {
        while (next < tasks.size() && static_cast<int>(running) < parallel && result.signal == 0 &&
               failure.empty()) {
            pids[next] = start(tasks[next]);
            if (pids[next] < 0) {
                failure = std::string("cannot start ") + tasks[next].argv.front() + ": " +
                          std::strerror(errno);
                break;
            }
            ++next;
            ++running;
        }
        if (running == 0) {
            break;
        }
        if (const int sig = g_pool_signal.exchange(0); sig != 0) {
            result.signal = sig;
            pass_on(pids, sig);
        }
        int status = 0;
        const pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno != EINTR) {
                break;
            }
            if (const int sig = g_pool_signal.exchange(0); sig != 0) {
                result.signal = sig;
                pass_on(pids, sig);
            }
            continue;
        }
        for (std::size_t i = 0; i < pids.size(); ++i) {
            if (pids[i] == pid) {
                result.codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                pids[i] = 0;
                --running;
            }
        }
    }
    if (!failure.empty()) {
        throw RuntimeFailure(failure);
    }
    return result;
}

} // namespace kakuren::launcher

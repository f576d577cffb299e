#include "launcher/local_ranks.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <vector>

#include "util/error.hpp"

namespace kakuren::launcher {
namespace {

namespace fs = std::filesystem;

std::atomic<int> g_forward_signal{0};

extern "C" void remember_signal(int sig) {
    g_forward_signal.store(sig);
}

/// A TCP port that was free a moment ago (the kernel's choice for port 0).
int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = 29500;
    if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

/// Catches INT, TERM and USR1 in the parent (remembered, then passed on to the ranks).
void catch_forwarded_signals() {
    struct sigaction action {};
    action.sa_handler = remember_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: waitpid returns to forward the signal
    for (int sig : {SIGINT, SIGTERM, SIGUSR1}) {
        sigaction(sig, &action, nullptr);
    }
}

/// In the forked child: sets rank r's environment and log, then becomes `kakuren job`.
[[noreturn]] void exec_rank(const LocalRanks& spec, int r, int port) {
    for (int sig : {SIGINT, SIGTERM, SIGUSR1}) {
        std::signal(sig, SIG_DFL);
    }
    setenv("KAKUREN_RANK", std::to_string(r).c_str(), 1);
    setenv("KAKUREN_WORLD", std::to_string(spec.ranks).c_str(), 1);
    setenv("KAKUREN_LOCAL_RANK", std::to_string(r).c_str(), 1);
    setenv("KAKUREN_MASTER_ADDR", "127.0.0.1", 1);
    setenv("KAKUREN_MASTER_PORT", std::to_string(port).c_str(), 1);
    setenv("KAKUREN_JOB_ID", spec.job_id.c_str(), 1);
    setenv("KAKUREN_WORKSPACE", spec.workspace.c_str(), 1);
    const std::string log = (spec.logs / ("rank-" + std::to_string(r) + ".log")).string();
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    execl("/proc/self/exe", "kakuren", "job", spec.run_id.c_str(), static_cast<char*>(nullptr));
    _exit(127);
}

/// Sends sig to every rank still running (-1 marks a rank already reaped).
void signal_ranks(const std::vector<pid_t>& ranks, int sig) {
    for (pid_t r : ranks) {
        if (r > 0) {
            kill(r, sig);
        }
    }
}

/// Reaps the ranks, forwarding caught signals, and kills the others when one fails. Returns the
/// first failure's exit code, else rank 0's.
int wait_for_ranks(std::vector<pid_t>& ranks) {
    int result = 0;
    bool have_result = false;
    std::size_t living = ranks.size();
    while (living > 0) {
        int status = 0;
        const pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) {
                if (const int sig = g_forward_signal.exchange(0); sig != 0) {
                    signal_ranks(ranks, sig);
                }
                continue;
            }
            break;
        }
        const auto it = std::find(ranks.begin(), ranks.end(), pid);
        if (it == ranks.end()) {
            continue;
        }
        const int rank = static_cast<int>(it - ranks.begin());
        *it = -1;
        --living;
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        std::cout << "rank " << rank << " ended with exit code " << code << std::endl;
        const bool bad = code != 0 && code != 3 && code != 75; // ok, target missed, stopped
        if (bad && living > 0) {
            std::cout << "rank " << rank << " failed: stopping the other ranks" << std::endl;
            signal_ranks(ranks, SIGKILL);
        }
        // The first failure wins over rank 0's code; rank 0's over the others'.
        if ((bad && (!have_result || result == 0)) || (rank == 0 && !have_result)) {
            result = code;
            have_result = true;
        }
    }
    return result;
}

} // namespace

int run_local_ranks(const LocalRanks& spec) {
    const int n = spec.ranks;
    const fs::path& logs = spec.logs;
    fs::create_directories(logs);
    const int port = free_port();
    catch_forwarded_signals();

    std::vector<pid_t> ranks;
    for (int r = 0; r < n; ++r) {
        const pid_t pid = fork();
        if (pid < 0) {
            throw RuntimeFailure(std::string("cannot start rank ") + std::to_string(r) + ": " +
                                 std::strerror(errno));
        }
        if (pid == 0) {
            exec_rank(spec, r, port);
        }
        ranks.push_back(pid);
    }
    std::cout << "started " << n << " rank(s) of run " << spec.run_id
              << " (rendezvous 127.0.0.1:" << port << "); logs in " << logs.string() << std::endl;
    return wait_for_ranks(ranks);
}

} // namespace kakuren::launcher

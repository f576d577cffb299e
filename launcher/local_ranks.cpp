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

} // namespace

int run_local_ranks(const LocalRanks& spec) {
    const int n = spec.ranks;
    const fs::path& logs = spec.logs;
    fs::create_directories(logs);
    const int port = free_port();
    const std::string& job_id = spec.job_id;

    struct sigaction action {};
    action.sa_handler = remember_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: waitpid returns to forward the signal
    for (int sig : {SIGINT, SIGTERM, SIGUSR1}) {
        sigaction(sig, &action, nullptr);
    }

    std::vector<pid_t> ranks;
    for (int r = 0; r < n; ++r) {
        const pid_t pid = fork();
        if (pid < 0) {
            throw RuntimeFailure(std::string("cannot start rank ") + std::to_string(r) + ": " +
                                 std::strerror(errno));
        }
        if (pid == 0) {
            for (int sig : {SIGINT, SIGTERM, SIGUSR1}) {
                std::signal(sig, SIG_DFL);
            }
            setenv("KAKUREN_RANK", std::to_string(r).c_str(), 1);
            setenv("KAKUREN_WORLD", std::to_string(n).c_str(), 1);
            setenv("KAKUREN_LOCAL_RANK", std::to_string(r).c_str(), 1);
            setenv("KAKUREN_MASTER_ADDR", "127.0.0.1", 1);
            setenv("KAKUREN_MASTER_PORT", std::to_string(port).c_str(), 1);
            setenv("KAKUREN_JOB_ID", job_id.c_str(), 1);
            setenv("KAKUREN_WORKSPACE", spec.workspace.c_str(), 1);
            const std::string log = (logs / ("rank-" + std::to_string(r) + ".log")).string();
            const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
                close(fd);
            }
            execl("/proc/self/exe", "kakuren", "job", spec.run_id.c_str(),
                  static_cast<char*>(nullptr));
            _exit(127);
        }
        ranks.push_back(pid);
    }
    std::cout << "started " << n << " rank(s) of run " << spec.run_id
              << " (rendezvous 127.0.0.1:" << port << "); logs in " << logs.string() << std::endl;

    int result = 0;
    bool have_result = false;
    std::size_t living = ranks.size();
    while (living > 0) {
        int status = 0;
        const pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) {
                if (const int sig = g_forward_signal.exchange(0); sig != 0) {
                    for (pid_t r : ranks) {
                        if (r > 0) {
                            kill(r, sig);
                        }
                    }
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
            for (pid_t r : ranks) {
                if (r > 0) {
                    kill(r, SIGKILL);
                }
            }
        }
        if (bad && (!have_result || result == 0)) {
            result = code;
            have_result = true;
        } else if (rank == 0 && !have_result) {
            result = code;
            have_result = true;
        }
    }
    return result;
}

} // namespace kakuren::launcher

#pragma once
// A local job array: programs run as separate processes on this machine, at most N at once,
// each logging to its own file. A stop signal (SIGINT, SIGTERM, SIGUSR1, SIGHUP) is passed on to
// the running ones and starts no more; the processes die with this one (Linux's parent-death
// signal, SIGKILL), so a killed caller leaves none of them behind.
#include <filesystem>
#include <string>
#include <vector>

namespace kakuren::launcher {

struct PoolTask {
    std::vector<std::string> argv; ///< argv[0]: the program's path ("/proc/self/exe": this one)
    std::filesystem::path log;     ///< stdout and stderr, appended (its folder is created)
};

struct PoolResult {
    /// One per task: its exit code, 128 + the signal that killed it, or -1 when it was not
    /// started (a stop signal came first).
    std::vector<int> codes;
    int signal = 0; ///< the stop signal that arrived, 0 if none
};

/// Runs the tasks in order, at most `parallel` (>= 1) at once, and waits for all that started.
/// Throws RuntimeFailure when a process cannot be started (those already running are waited
/// for first).
PoolResult run_pool(const std::vector<PoolTask>& tasks, int parallel);

} // namespace kakuren::launcher

#pragma once
// The local backend's ranks: `kakuren job RUN --local-ranks N` starts N `kakuren job RUN`
// processes on this machine (KAKUREN_RANK, KAKUREN_WORLD, ... for launcher/placement), each
// logging to <logs>/rank-<r>.log, passes SIGINT / SIGTERM / SIGUSR1 on to all of them, and
// takes the others down when one fails (exit other than 0, 3 or 75), as srun
// --kill-on-bad-exit does.
#include <filesystem>
#include <string>

namespace kakuren::launcher {

struct LocalRanks {
    int ranks = 1;
    std::string run_id;
    std::filesystem::path workspace; ///< exported as KAKUREN_WORKSPACE
    std::filesystem::path logs;      ///< the run's logs folder (created)
    std::string job_id;              ///< KAKUREN_JOB_ID of every rank
};

/// Runs the ranks (each is this executable, /proc/self/exe) and waits for them. Returns rank 0's
/// exit code, or the failing rank's. Rendezvous on 127.0.0.1 at a port free a moment before.
/// Throws RuntimeFailure when a rank cannot be started.
int run_local_ranks(const LocalRanks& spec);

} // namespace kakuren::launcher

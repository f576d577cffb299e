#pragma once
// A take-over's cut back (kakuren resume): the run's records return to the checkpoint it
// continues from, so that the new attempt writes them again exactly once.
#include <filesystem>
#include <string>
#include <vector>

#include "checkpoint/manager.hpp"
#include "checkpoint/state.hpp"
#include "db/store.hpp"

namespace kakuren::checkpoint {

/// Where a take-over continues.
struct Rewind {
    std::string run_id;
    std::filesystem::path run_dir;
    const Resume* chosen = nullptr; ///< the checkpoint; nullptr: from the run's start
    std::vector<Status> skipped;    ///< damaged checkpoints newer than chosen
    int attempt = 0;                ///< the attempt that takes the run over
};

/// Sets the skipped checkpoints aside (their folders kept under .damaged/), removes uncommitted
/// checkpoint folders, rewinds the run's epochs to the checkpoint and cuts the MLPerf log back
/// to its length there. Returns the names of the uncommitted folders it removed.
std::vector<std::string> rewind_run(db::Store& store, const Rewind& r);

/// Notes in the run's train.log what the take-over skipped and removed, and where it
/// continues (`from`, e.g. "checkpoint 0003-end (end of epoch 3)").
void log_take_over(const Rewind& r, const std::vector<std::string>& removed,
                   const std::string& from);

} // namespace kakuren::checkpoint

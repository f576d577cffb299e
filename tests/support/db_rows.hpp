#pragma once
// Records for db/ tests and for tests that need a run in a store.
#include <string>

#include "db/store.hpp"

namespace kakuren::testing {

/// A run of recipe fmnist-cnn (kakurenbo, F 0.3, seed 7, 10 samples, 3 epochs), created at
/// created_at, its folder /work/runs/<id>.
db::RunRow run_row(const std::string& id,
                   const std::string& created_at = "2026-11-26T15:07:22.123Z");

/// A Slurm job of the run, submitted from login1, its script /runs/<run_id>/job.sh.
db::JobRow job_row(const std::string& run_id, const std::string& job_id);

} // namespace kakuren::testing

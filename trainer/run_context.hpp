#pragma once
// RunContext: what a run was handed by train() — the recipe, the observer, the MLPerf log, the
// stop flag, the checkpoint it resumes from, its rank and the world size. Torch-free.
#include <atomic>
#include <cstdint>
#include <source_location>
#include <string_view>

#include "trainer/trainer.hpp"
#include "util/json.hpp"
#include "util/mllog.hpp"

namespace kakuren::trainer {

/// Owns nothing: the run's inputs (references into train()'s arguments) and its place in the job.
struct RunContext {
    const Config& config;
    Observer& observer;
    util::MlLog& mllog; ///< written by rank 0 only (log())
    const std::atomic<bool>* stop;
    const checkpoint::Resume* resume; ///< the checkpoint this run continues from, or null
    int rank = 0, world = 1;

    /// One MLPerf record, on rank 0 (the other ranks write no log).
    void log(std::string_view key, const util::Json& value = util::Json::null(),
             const util::JsonObject& metadata = {},
             std::source_location where = std::source_location::current()) const {
        if (rank == 0) {
            mllog.event(key, value, metadata, where);
        }
    }
    /// Bytes in the MLPerf log file so far; 0 on ranks other than 0 or without a log.
    [[nodiscard]] std::int64_t log_size() const;
};

} // namespace kakuren::trainer

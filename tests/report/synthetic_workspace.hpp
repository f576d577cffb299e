#pragma once
// Synthetic runs written through db::Store (and a matching MLPerf log), for report tests and
// bench/report_bench.py: deterministic, no training, any size.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "db/store.hpp"

namespace kakuren::report::testing {

struct SyntheticRun {
    std::string name = "synthetic";
    std::string strategy = "kakurenbo"; ///< kakurenbo | none
    double fraction = 0.3;
    std::int64_t seed = 1;
    int epochs = 4;
    std::int64_t num_samples = 2048;
    int batch_size = 128;
    /// finished | succeeded (reaches target) | crashed (process died after crash_after epochs,
    /// no run_stop) | running (attempt is this test process, no run_stop)
    db::RunStatus status = db::RunStatus::finished;
    int crash_after = 2;
    std::optional<double> target;              ///< run.target_accuracy
    double epoch_s = 1.0;                      ///< seconds of a full training pass
    std::int64_t start_ms = 1'790'000'000'000; ///< init_start (also sets created_at)
    bool write_log = true;
    bool write_samples = true;     ///< per-sample state and hidden sets (else empty bitmaps)
    std::vector<std::string> sets; ///< more recipe --set overrides, e.g. "model.hidden=[32]"
    std::optional<double> comm_s;  ///< epochs.comm_s of every epoch (multi-rank waiting)
    std::optional<std::int64_t> bytes_read; ///< epochs.bytes_read of every epoch (streaming)
    std::string metric = "accuracy";        ///< runs.metric: accuracy | IoU | MAE
};

/// What was written, for tests to compare against.
struct SyntheticResult {
    std::string id;
    std::filesystem::path run_dir;
    std::int64_t run_start_ms = 0, run_stop_ms = 0; ///< run_stop_ms 0 without run_stop
    double init_s = 0;
};

/// Writes one run (row, attempt, epochs, per-sample state, hidden sets, runs/<id>/mllog.txt).
/// The id is "<name>-<seq>" with a process-wide counter. Throws on store errors.
SyntheticResult add_synthetic_run(db::Store& store, const std::filesystem::path& workspace,
                                  const SyntheticRun& spec);

/// The test accuracy the generator records for epoch e (1-based) of spec.
double synthetic_accuracy(const SyntheticRun& spec, int epoch);

} // namespace kakuren::report::testing

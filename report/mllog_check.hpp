#pragma once
// Reading a run's MLPerf-style log (runs/<id>/mllog.txt) back: its timings (init, run_start ->
// run_stop, per-epoch evaluation times) and a check of the records MLPerf tooling requires
// (see docs/reports.md "MLPerf log"): present, in order, with their metadata.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report/json_reader.hpp"
#include "util/mlperf_keys.hpp"

namespace kakuren::report {

/// One problem found in a log; line is 1-based, 0 for the file as a whole.
struct LogProblem {
    int line = 0;
    std::string message;
};

/// What one epoch's records say.
struct LogEpoch {
    int epoch = 0; ///< metadata.epoch_num (1-based)
    std::optional<std::int64_t> start_ms, stop_ms;
    std::optional<std::int64_t> eval_ms; ///< time of the metric's record
    std::optional<double> eval_accuracy, learning_rate, lr_scale;
    std::optional<double> eval_error; ///< an error metric's value (MAE), logged without accuracy
};

struct LogAnalysis {
    bool found = false; ///< the file exists and could be read
    std::string path;
    std::size_t num_records = 0;
    std::vector<LogProblem> problems; ///< what MLPerf tooling would reject, or what contradicts
    std::vector<std::string> notes;   ///< facts worth knowing that are not errors
    int segments = 0;                 ///< init blocks: 1, or more for a resumed run
    std::optional<std::int64_t> first_ms, last_ms;
    std::optional<std::int64_t> run_start_ms; ///< the first run_start
    std::optional<std::int64_t> run_stop_ms;  ///< the last run_stop
    std::string run_stop_status;              ///< its metadata.status ("success" | "aborted")
    double init_s = 0;                        ///< sum of init_start -> init_stop over segments
    bool has_init = false;
    std::optional<double> staging_s;    ///< sum of staging_start -> staging_stop, if logged
    std::optional<double> checkpoint_s; ///< sum of checkpoint_start -> checkpoint_stop, if logged
    std::map<std::string, JsonValue> values; ///< first value of each POINT_IN_TIME init key
    std::vector<LogEpoch> epochs;            ///< in log order (a replayed epoch appears again)

    /// run_stop - run_start in seconds (MLPerf time-to-train), when both were logged.
    std::optional<double> time_to_train_s() const;
    /// Seconds from run_start to the last record (for runs without run_stop).
    std::optional<double> elapsed_s() const;
    /// The latest record of each epoch number, by epoch (a resumed run may log one twice).
    std::map<int, LogEpoch> epochs_by_number() const;
};

/// Checks log text. still_running: the run's process is alive, so a missing run_stop (and an
/// open last epoch) is expected and only noted.
LogAnalysis analyze_mllog(std::string_view text, const std::string& path, bool still_running);

/// Reads and checks a log file; a missing or unreadable file gives found = false and a problem.
LogAnalysis read_mllog(const std::filesystem::path& file, bool still_running);

/// What the database says about the run, to cross-check the log against.
struct LogExpectations {
    std::string db_status;                          ///< runs.status
    std::int64_t seed = 0;                          ///< 0: unknown
    std::int64_t train_samples = 0;                 ///< 0: unknown
    std::string strategy;                           ///< empty: unknown
    std::vector<std::pair<int, double>> accuracies; ///< (epoch, test_accuracy) from epochs rows
    /// The record that holds the run's metric (util/metrics.hpp): eval_accuracy, or eval_error
    /// for an error metric such as MAE.
    std::string_view metric_key = util::mlperf::key::eval_accuracy;
};

/// Adds the log's disagreements with the database to analysis.problems.
void cross_check(LogAnalysis& analysis, const LogExpectations& expected);

} // namespace kakuren::report

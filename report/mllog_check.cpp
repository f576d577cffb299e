#include "report/mllog_check.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "report/mllog_checker.hpp"
#include "util/mlperf_keys.hpp"

namespace kakuren::report {

namespace key = util::mlperf::key;

std::optional<double> LogAnalysis::time_to_train_s() const {
    if (!run_start_ms || !run_stop_ms) {
        return std::nullopt;
    }
    return static_cast<double>(*run_stop_ms - *run_start_ms) / 1000.0;
}

std::optional<double> LogAnalysis::elapsed_s() const {
    if (!run_start_ms || !last_ms) {
        return std::nullopt;
    }
    return static_cast<double>(*last_ms - *run_start_ms) / 1000.0;
}

std::map<int, LogEpoch> LogAnalysis::epochs_by_number() const {
    std::map<int, LogEpoch> out;
    for (const LogEpoch& e : epochs) {
        out[e.epoch] = e;
    }
    return out;
}

LogAnalysis analyze_mllog(std::string_view text, const std::string& path, bool still_running) {
    LogAnalysis out;
    out.found = true;
    out.path = path;
    detail::Checker checker(out, still_running);
    int lineno = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        checker.line(text.substr(pos, end - pos), ++lineno);
        pos = end + 1;
    }
    checker.finish();
    std::stable_sort(out.problems.begin(), out.problems.end(),
                     [](const LogProblem& a, const LogProblem& b) {
                         return (a.line == 0 ? 1 << 30 : a.line) < (b.line == 0 ? 1 << 30 : b.line);
                     });
    return out;
}

LogAnalysis read_mllog(const std::filesystem::path& file, bool still_running) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        LogAnalysis out;
        out.path = file.string();
        out.problems.push_back(
            {0, "no MLPerf log at " + file.string() +
                    (std::filesystem::exists(file) ? " (cannot read it)" : " (file missing)")});
        return out;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return analyze_mllog(text.str(), file.string(), still_running);
}

void cross_check(LogAnalysis& analysis, const LogExpectations& expected) {
    if (!analysis.found) {
        return;
    }
    auto add = [&](std::string message) { analysis.problems.push_back({0, std::move(message)}); };
    if (!analysis.run_stop_status.empty()) {
        const bool success = analysis.run_stop_status == "success";
        if (success && expected.db_status != "succeeded") {
            add("run_stop says success but the database says " + expected.db_status);
        } else if (!success && expected.db_status == "succeeded") {
            add("run_stop says aborted but the database says the run succeeded");
        }
    }
    auto value_int = [&](std::string_view name) -> std::optional<std::int64_t> {
        const auto it = analysis.values.find(std::string(name));
        if (it == analysis.values.end() || !it->second.is_integer()) {
            return std::nullopt;
        }
        return it->second.as_int();
    };
    if (const auto seed = value_int(key::seed);
        seed && expected.seed != 0 && *seed != expected.seed) {
        add("seed is " + std::to_string(*seed) + " in the log but " +
            std::to_string(expected.seed) + " in the database");
    }
    if (const auto n = value_int(key::train_samples);
        n && expected.train_samples != 0 && *n != expected.train_samples) {
        add("train_samples is " + std::to_string(*n) + " in the log but the database has " +
            std::to_string(expected.train_samples) + " training samples");
    }
    if (const auto it = analysis.values.find(std::string(key::hiding_strategy));
        it != analysis.values.end() && !expected.strategy.empty() &&
        it->second.as_string() != expected.strategy) {
        add("hiding_strategy is \"" + it->second.as_string() + "\" in the log but \"" +
            expected.strategy + "\" in the database");
    }
    const std::map<int, LogEpoch> by_number = analysis.epochs_by_number();
    int missing = 0;
    int first_missing = 0;
    const bool error_metric = expected.metric_key == key::eval_error;
    const std::string name(expected.metric_key);
    for (const auto& [epoch, accuracy] : expected.accuracies) {
        const auto it = by_number.find(epoch);
        const std::optional<double> logged =
            it == by_number.end()
                ? std::nullopt
                : (error_metric ? it->second.eval_error : it->second.eval_accuracy);
        if (!logged) {
            if (missing++ == 0) {
                first_missing = epoch;
            }
            continue;
        }
        if (std::fabs(*logged - accuracy) > 1e-6) {
            add("epoch " + std::to_string(epoch) + ": " + name + " " + std::to_string(*logged) +
                " in the log but test_accuracy " + std::to_string(accuracy) + " in the database");
        }
    }
    if (missing > 0) {
        add(std::to_string(missing) + " epoch(s) recorded in the database have no " + name +
            (error_metric ? " (alone: an error metric)" : "") + " in the log (first: epoch " +
            std::to_string(first_missing) + ")");
    }
}

} // namespace kakuren::report

#include "report/mllog_check.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace kakuren::report {

namespace {

constexpr std::string_view k_marker = ":::MLLOG ";
constexpr double k_max_init_s = 30 * 60; // MLPerf HPC: init_stop within 30 min of init_start

/// What an init-phase value must be.
enum class Want { any, string, positive_int, non_negative_int, number, list, true_value };

struct InitKey {
    std::string_view key;
    Want want;
    bool exactly_once;
};

// The records MLPerf tooling needs between init_start and init_stop (docs/reports.md "MLPerf log").
constexpr InitKey k_init_keys[] = {
    {"submission_benchmark", Want::string, false},
    {"submission_org", Want::string, false},
    {"submission_division", Want::string, false},
    {"submission_status", Want::string, false},
    {"submission_platform", Want::string, false},
    {"seed", Want::positive_int, false},
    {"number_of_ranks", Want::positive_int, false},
    {"number_of_nodes", Want::positive_int, false},
    {"accelerators_per_node", Want::non_negative_int, false},
    {"global_batch_size", Want::positive_int, false},
    {"gradient_accumulation_steps", Want::positive_int, false},
    {"opt_name", Want::string, false},
    {"opt_base_learning_rate", Want::number, false},
    {"opt_learning_rate_warmup_epochs", Want::number, false},
    {"opt_learning_rate_warmup_factor", Want::number, false},
    {"opt_learning_rate_decay_boundary_epochs", Want::list, true},
    {"opt_learning_rate_decay_factor", Want::number, true},
    {"opt_weight_decay", Want::number, false},
    {"opt_momentum", Want::number, false},
    {"train_samples", Want::positive_int, true},
    {"eval_samples", Want::positive_int, true},
};

const InitKey* find_init_key(std::string_view key) {
    for (const InitKey& k : k_init_keys) {
        if (k.key == key) {
            return &k;
        }
    }
    return nullptr;
}

std::string_view want_text(Want w) {
    switch (w) {
    case Want::string:
        return "a string";
    case Want::positive_int:
        return "an integer > 0";
    case Want::non_negative_int:
        return "an integer >= 0";
    case Want::number:
        return "a number";
    case Want::list:
        return "a JSON list";
    case Want::true_value:
        return "true";
    case Want::any:
        break;
    }
    return "a value";
}

bool satisfies(const JsonValue& v, Want w) {
    switch (w) {
    case Want::string:
        return v.is_string();
    case Want::positive_int:
        return v.is_integer() && v.as_int() > 0;
    case Want::non_negative_int:
        return v.is_integer() && v.as_int() >= 0;
    case Want::number:
        return v.is_number();
    case Want::list:
        return v.is_array();
    case Want::true_value:
        return v.is_bool() && v.as_bool();
    case Want::any:
        break;
    }
    return true;
}

std::string expected_event_type(std::string_view key) {
    auto ends_with = [&](std::string_view suffix) {
        return key.size() >= suffix.size() && key.substr(key.size() - suffix.size()) == suffix;
    };
    if (ends_with("_start")) {
        return "INTERVAL_START";
    }
    if (ends_with("_stop")) {
        return "INTERVAL_END";
    }
    return "POINT_IN_TIME";
}

/// The record sequence as a state machine; one instance reads one log.
class Checker {
  public:
    Checker(LogAnalysis& out, bool still_running) : m_out(out), m_still_running(still_running) {}

    void line(std::string_view text, int lineno) {
        m_line = lineno;
        while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) {
            text.remove_suffix(1);
        }
        if (text.empty()) {
            return;
        }
        const std::size_t at = text.find(k_marker);
        if (at == std::string_view::npos) {
            problem("not a :::MLLOG record");
            return;
        }
        JsonValue record;
        try {
            record = parse_json(text.substr(at + k_marker.size()));
        } catch (const JsonParseError& e) {
            problem(e.what());
            return;
        }
        if (!record.is_object()) {
            problem("the record is not a JSON object");
            return;
        }
        ++m_out.num_records;
        const JsonValue& key_v = record["key"];
        const JsonValue& time_v = record["time_ms"];
        const JsonValue& type_v = record["event_type"];
        const JsonValue& meta = record["metadata"];
        if (!key_v.is_string() || key_v.as_string().empty()) {
            problem("the record has no \"key\"");
            return;
        }
        const std::string& key = key_v.as_string();
        if (!record["namespace"].is_string()) {
            problem(key + ": no \"namespace\" string");
        }
        if (record.find("value") == nullptr) {
            problem(key + ": no \"value\" (write null when there is none)");
        }
        if (!time_v.is_integer()) {
            problem(key + ": \"time_ms\" is not an integer number of milliseconds");
            return;
        }
        const std::int64_t t = time_v.as_int();
        if (m_out.last_ms && t < *m_out.last_ms) {
            problem(key + ": time_ms " + std::to_string(t) +
                    " is earlier than the record before (" + std::to_string(*m_out.last_ms) + ")");
        }
        if (!m_out.first_ms) {
            m_out.first_ms = t;
        }
        m_out.last_ms = std::max(t, m_out.last_ms.value_or(t));
        if (type_v.as_string() != expected_event_type(key)) {
            problem(key + ": event_type is \"" + type_v.as_string() + "\", expected \"" +
                    expected_event_type(key) + "\"");
        }
        if (!meta.is_object()) {
            problem(key + ": no \"metadata\" object");
        } else {
            if (!meta["file"].is_string() || !meta["lineno"].is_integer()) {
                problem(key + ": metadata lacks the call site's \"file\" and \"lineno\"");
            }
        }
        record_event(key, t, record["value"], meta);
    }

    void finish() {
        if (m_out.num_records == 0) {
            m_out.problems.push_back({0, "the log has no records"});
            return;
        }
        if (m_phase == Phase::init) {
            problem_at(0, m_still_running ? "" : "init_start has no init_stop");
        }
        if (m_phase == Phase::epoch) {
            if (m_still_running) {
                m_out.notes.push_back("epoch " + std::to_string(m_epoch) + " is still running");
            } else {
                m_out.problems.push_back(
                    {0, "epoch " + std::to_string(m_epoch) + " has no epoch_stop"});
            }
        }
        if (m_phase != Phase::stopped && m_phase != Phase::none) {
            if (m_still_running) {
                m_out.notes.push_back("no run_stop yet: the run is still running");
            } else {
                m_out.problems.push_back(
                    {0, "no run_stop: the log ends at line " + std::to_string(m_line) +
                            " (the run crashed or was killed before it could log its end)"});
            }
        }
        if (m_phase != Phase::none) {
            check_init_complete();
        }
    }

  private:
    enum class Phase { none, init, ready, running, epoch, stopped };

    void problem(const std::string& message) { problem_at(m_line, message); }
    void problem_at(int line, const std::string& message) {
        if (!message.empty()) {
            m_out.problems.push_back({line, message});
        }
    }

    void start_segment(std::int64_t t) {
        if (m_phase != Phase::none) {
            check_init_complete();
            if (m_phase != Phase::stopped) {
                m_out.notes.push_back("line " + std::to_string(m_line) + ": attempt " +
                                      std::to_string(m_out.segments) +
                                      " ended without run_stop; a new attempt starts here");
            }
        }
        ++m_out.segments;
        m_segment_epochs = 0;
        m_seen_init.clear();
        m_init_start = t;
        m_phase = Phase::init;
        m_init_checked = false;
    }

    void check_init_complete() {
        if (m_init_checked) {
            return;
        }
        m_init_checked = true;
        for (const InitKey& k : k_init_keys) {
            if (m_seen_init.count(std::string(k.key)) == 0) {
                m_out.problems.push_back({m_init_line, "required record " + std::string(k.key) +
                                                           " is missing from the init phase"});
            }
        }
    }

    [[nodiscard]] static int epoch_of(const JsonValue& meta) {
        const JsonValue& e = meta["epoch_num"];
        return e.is_integer() ? static_cast<int>(e.as_int()) : -1;
    }

    LogEpoch& current_epoch() { return m_out.epochs.back(); }

    void record_event(const std::string& key, std::int64_t t, const JsonValue& value,
                      const JsonValue& meta) {
        if (key == "cache_clear") {
            if (m_phase != Phase::none && m_phase != Phase::stopped && m_phase != Phase::running &&
                m_phase != Phase::epoch) {
                problem("cache_clear inside the init phase");
            }
            if (!satisfies(value, Want::true_value)) {
                problem("cache_clear: value should be true");
            }
            m_cache_cleared = true;
            return;
        }
        if (key == "init_start") {
            if (m_phase == Phase::init || m_phase == Phase::ready) {
                problem("init_start again before run_start");
            }
            m_init_line = m_line;
            start_segment(t);
            if (!m_cache_cleared) {
                m_out.notes.push_back("line " + std::to_string(m_line) +
                                      ": no cache_clear before init_start");
            }
            m_cache_cleared = false;
            return;
        }
        if (m_phase == Phase::none) {
            problem(key + " before init_start");
            m_init_line = m_line;
            start_segment(t);
        }
        if (key == "init_stop") {
            if (m_phase != Phase::init) {
                problem("init_stop outside the init phase");
                return;
            }
            const double s = static_cast<double>(t - m_init_start) / 1000.0;
            if (s > k_max_init_s) {
                problem("init took " + std::to_string(static_cast<long long>(s)) +
                        " s; MLPerf allows at most 30 min between init_start and init_stop");
            }
            m_out.init_s += s;
            m_out.has_init = true;
            check_init_complete();
            m_phase = Phase::ready;
            return;
        }
        if (const InitKey* k = find_init_key(key)) {
            if (m_phase != Phase::init) {
                problem(key + " logged after init_stop; it belongs to the init phase");
            }
            if (!satisfies(value, k->want)) {
                problem(key + ": value should be " + std::string(want_text(k->want)));
            }
            if (m_seen_init.count(key) != 0 && k->exactly_once) {
                problem(key + " logged more than once; MLPerf requires it exactly once");
            }
            m_seen_init.insert(key);
            m_out.values.emplace(key, value);
            return;
        }
        if (m_phase == Phase::init && expected_event_type(key) == "POINT_IN_TIME") {
            m_out.values.emplace(key, value); // own hyper-parameters (hiding_*), kept for readers
            return;
        }
        if (key == "run_start") {
            if (m_phase == Phase::init) {
                problem("run_start before init_stop");
            } else if (m_phase != Phase::ready) {
                problem("run_start again without a new init phase");
            }
            if (!m_out.run_start_ms) {
                m_out.run_start_ms = t;
            }
            m_phase = Phase::running;
            return;
        }
        if (key == "run_stop") {
            if (m_phase == Phase::epoch) {
                problem("run_stop inside epoch " + std::to_string(m_epoch) +
                        " (no epoch_stop before it)");
            } else if (m_phase != Phase::running) {
                problem("run_stop without run_start");
            }
            const std::string& status = meta["status"].as_string();
            if (status != "success" && status != "aborted") {
                problem("run_stop: metadata.status is \"" + status +
                        "\", expected \"success\" or \"aborted\"");
            }
            if (epoch_of(meta) < 0) {
                problem("run_stop: metadata has no epoch_num");
            }
            m_out.run_stop_ms = t;
            m_out.run_stop_status = status;
            m_phase = Phase::stopped;
            return;
        }
        if (key == "resume") {
            // A resumed attempt: the log was cut back to a checkpoint and goes on from there.
            if (m_phase != Phase::running && m_phase != Phase::epoch) {
                problem("resume outside the run (before run_start or after run_stop)");
            } else {
                m_out.notes.push_back("line " + std::to_string(m_line) +
                                      ": resumed from checkpoint " +
                                      (value.is_string() ? value.as_string() : std::string("?")));
            }
            return;
        }
        if (key == "staging_start" || key == "checkpoint_start") {
            m_interval_start[key.substr(0, key.size() - 6)] = t;
            return;
        }
        if (key == "staging_stop" || key == "checkpoint_stop") {
            const std::string base = key.substr(0, key.size() - 5);
            const auto it = m_interval_start.find(base);
            if (it == m_interval_start.end()) {
                problem(key + " without " + base + "_start");
                return;
            }
            std::optional<double>& sum = base == "staging" ? m_out.staging_s : m_out.checkpoint_s;
            sum = sum.value_or(0.0) + static_cast<double>(t - it->second) / 1000.0;
            m_interval_start.erase(it);
            return;
        }
        if (m_phase == Phase::stopped) {
            problem(key + " after run_stop");
            return;
        }
        if (m_phase == Phase::ready || m_phase == Phase::init) {
            problem(key + " before run_start");
            return;
        }
        const int e = epoch_of(meta);
        if (key == "epoch_start") {
            if (m_phase == Phase::epoch) {
                problem("epoch_start of epoch " + std::to_string(e) +
                        " before epoch_stop of epoch " + std::to_string(m_epoch));
            }
            if (e < 1) {
                problem("epoch_start: metadata has no epoch_num (1-based)");
            } else if (m_segment_epochs == 0 && m_out.segments > 1) {
                // A resumed attempt continues from a checkpoint: at most one past the last epoch.
                if (e > m_last_epoch + 1) {
                    problem("epoch_start: epoch_num " + std::to_string(e) + " skips epochs after " +
                            std::to_string(m_last_epoch));
                }
            } else if (e != m_last_epoch + 1) {
                problem("epoch_start: epoch_num " + std::to_string(e) + ", expected " +
                        std::to_string(m_last_epoch + 1) +
                        " (epoch numbers are 1-based and "
                        "consecutive)");
            }
            m_epoch = e;
            m_last_epoch = std::max(e, 0);
            ++m_segment_epochs;
            m_out.epochs.push_back(LogEpoch{e, t, std::nullopt, std::nullopt, std::nullopt,
                                            std::nullopt, std::nullopt});
            m_seen_epoch.clear();
            m_phase = Phase::epoch;
            return;
        }
        if (m_phase != Phase::epoch) {
            problem(key + " outside an epoch (between epoch_stop and the next epoch_start)");
            return;
        }
        if (e != m_epoch) {
            problem(key + ": metadata.epoch_num is " + (e < 0 ? "missing" : std::to_string(e)) +
                    ", expected " + std::to_string(m_epoch));
        }
        LogEpoch& ep = current_epoch();
        if (key == "eval_start") {
            m_seen_epoch.insert(key);
        } else if (key == "eval_accuracy") {
            if (m_seen_epoch.count("eval_start") == 0) {
                problem("eval_accuracy before eval_start in epoch " + std::to_string(m_epoch));
            }
            if (!value.is_number() || value.as_double() < 0 || value.as_double() > 1) {
                problem("eval_accuracy: value should be a number in [0, 1]");
            }
            ep.eval_accuracy = value.as_double();
            ep.eval_ms = t;
            m_seen_epoch.insert(key);
        } else if (key == "eval_error") {
            if (!ep.eval_accuracy) {
                problem("eval_error before eval_accuracy in epoch " + std::to_string(m_epoch));
            } else if (!value.is_number() ||
                       std::fabs(value.as_double() - (1.0 - *ep.eval_accuracy)) > 1e-6) {
                problem("eval_error is not 1 - eval_accuracy in epoch " + std::to_string(m_epoch));
            }
            m_seen_epoch.insert(key);
        } else if (key == "eval_stop") {
            if (m_seen_epoch.count("eval_start") == 0) {
                problem("eval_stop without eval_start in epoch " + std::to_string(m_epoch));
            }
            m_seen_epoch.insert(key);
        } else if (key == "epoch_stop") {
            for (const char* required :
                 {"eval_start", "eval_accuracy", "eval_error", "eval_stop"}) {
                if (m_seen_epoch.count(required) == 0) {
                    problem("epoch " + std::to_string(m_epoch) + " has no " + required);
                }
            }
            ep.stop_ms = t;
            m_phase = Phase::running;
        } else if (key == "learning_rate") {
            ep.learning_rate = value.as_double();
        } else if (key == "lr_scale") {
            ep.lr_scale = value.as_double();
        }
    }

    LogAnalysis& m_out;
    bool m_still_running;
    int m_line = 0;
    int m_init_line = 0;
    Phase m_phase = Phase::none;
    bool m_cache_cleared = false;
    bool m_init_checked = false;
    std::int64_t m_init_start = 0;
    int m_epoch = 0;
    int m_last_epoch = 0;
    int m_segment_epochs = 0;
    std::set<std::string> m_seen_init;
    std::set<std::string> m_seen_epoch;
    std::map<std::string, std::int64_t> m_interval_start;
};

} // namespace

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
    Checker checker(out, still_running);
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
    auto value_int = [&](const char* key) -> std::optional<std::int64_t> {
        const auto it = analysis.values.find(key);
        if (it == analysis.values.end() || !it->second.is_integer()) {
            return std::nullopt;
        }
        return it->second.as_int();
    };
    if (const auto seed = value_int("seed"); seed && expected.seed != 0 && *seed != expected.seed) {
        add("seed is " + std::to_string(*seed) + " in the log but " +
            std::to_string(expected.seed) + " in the database");
    }
    if (const auto n = value_int("train_samples");
        n && expected.train_samples != 0 && *n != expected.train_samples) {
        add("train_samples is " + std::to_string(*n) + " in the log but the database has " +
            std::to_string(expected.train_samples) + " training samples");
    }
    if (const auto it = analysis.values.find("hiding_strategy");
        it != analysis.values.end() && !expected.strategy.empty() &&
        it->second.as_string() != expected.strategy) {
        add("hiding_strategy is \"" + it->second.as_string() + "\" in the log but \"" +
            expected.strategy + "\" in the database");
    }
    const std::map<int, LogEpoch> by_number = analysis.epochs_by_number();
    int missing = 0;
    int first_missing = 0;
    for (const auto& [epoch, accuracy] : expected.accuracies) {
        const auto it = by_number.find(epoch);
        if (it == by_number.end() || !it->second.eval_accuracy) {
            if (missing++ == 0) {
                first_missing = epoch;
            }
            continue;
        }
        if (std::fabs(*it->second.eval_accuracy - accuracy) > 1e-6) {
            add("epoch " + std::to_string(epoch) + ": eval_accuracy " +
                std::to_string(*it->second.eval_accuracy) + " in the log but test_accuracy " +
                std::to_string(accuracy) + " in the database");
        }
    }
    if (missing > 0) {
        add(std::to_string(missing) +
            " epoch(s) recorded in the database have no eval_accuracy "
            "in the log (first: epoch " +
            std::to_string(first_missing) + ")");
    }
}

} // namespace kakuren::report

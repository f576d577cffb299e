// The Checker's handlers of each kind of record (report/mllog_checker.hpp), in the order
// record_event asks them.
#include <algorithm>
#include <cmath>

#include "report/mllog_checker.hpp"

namespace kakuren::report::detail {

namespace mlperf = util::mlperf;
namespace key = util::mlperf::key;

namespace {

constexpr double k_max_init_s = 30 * 60; // MLPerf HPC: init_stop within 30 min of init_start

/// value's problem against the table's row for key ("" when none).
std::string want_problem(std::string_view key, const JsonValue& value) {
    const mlperf::Key* row = mlperf::find_key(key);
    if (row == nullptr || satisfies(value, row->want)) {
        return "";
    }
    return std::string(key) + ": value should be " + std::string(want_text(row->want));
}

} // namespace

bool Checker::on_cache_clear_or_init(const std::string& key, std::int64_t t,
                                     const JsonValue& value) {
    if (key == key::cache_clear) {
        if (m_phase != Phase::none && m_phase != Phase::stopped && m_phase != Phase::running &&
            m_phase != Phase::epoch) {
            problem("cache_clear inside the init phase");
        }
        problem(want_problem(key, value));
        m_cache_cleared = true;
        return true;
    }
    if (key == key::init_start) {
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
        return true;
    }
    if (m_phase == Phase::none) {
        problem(key + " before init_start");
        m_init_line = m_line;
        start_segment(t);
    }
    if (key != key::init_stop) {
        return false;
    }
    if (m_phase != Phase::init) {
        problem("init_stop outside the init phase");
        return true;
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
    return true;
}

bool Checker::on_init_record(const std::string& key, std::int64_t /*t*/, const JsonValue& value) {
    const mlperf::Key* row = mlperf::find_key(key);
    if (row != nullptr && row->phase == mlperf::Phase::init &&
        row->need != mlperf::Need::optional) {
        if (m_phase != Phase::init) {
            problem(key + " logged after init_stop; it belongs to the init phase");
        }
        problem(want_problem(key, value));
        if (m_seen_init.count(key) != 0 && row->need == mlperf::Need::required_once) {
            problem(key + " logged more than once; MLPerf requires it exactly once");
        }
        m_seen_init.insert(key);
        m_out.values.emplace(key, value);
        return true;
    }
    if (m_phase == Phase::init && mlperf::event_type(key) == "POINT_IN_TIME") {
        m_out.values.emplace(key, value); // own hyper-parameters (hiding_*), kept for readers
        return true;
    }
    return false;
}

bool Checker::on_run_marker(const std::string& key, std::int64_t t, const JsonValue& value,
                            const JsonValue& meta) {
    if (key == key::run_start) {
        if (m_phase == Phase::init) {
            problem("run_start before init_stop");
        } else if (m_phase != Phase::ready) {
            problem("run_start again without a new init phase");
        }
        if (!m_out.run_start_ms) {
            m_out.run_start_ms = t;
        }
        m_phase = Phase::running;
        return true;
    }
    if (key == key::run_stop) {
        if (m_phase == Phase::epoch) {
            problem("run_stop inside epoch " + std::to_string(m_epoch) +
                    " (no epoch_stop before it)");
        } else if (m_phase != Phase::running) {
            problem("run_stop without run_start");
        }
        const std::string& status = meta["status"].as_string();
        if (status != "success" && status != "aborted") {
            problem("run_stop: metadata.status is \"" + status +
                    R"(", expected "success" or "aborted")");
        }
        const JsonValue& e = meta["epoch_num"];
        if (!e.is_integer() || e.as_int() < 0) {
            problem("run_stop: metadata has no epoch_num");
        }
        m_out.run_stop_ms = t;
        m_out.run_stop_status = status;
        m_phase = Phase::stopped;
        return true;
    }
    if (key == key::resume) {
        // A resumed attempt: the log was cut back to a checkpoint and goes on from there.
        if (m_phase != Phase::running && m_phase != Phase::epoch) {
            problem("resume outside the run (before run_start or after run_stop)");
        } else {
            m_out.notes.push_back("line " + std::to_string(m_line) + ": resumed from checkpoint " +
                                  (value.is_string() ? value.as_string() : std::string("?")));
        }
        return true;
    }
    return false;
}

bool Checker::on_interval(const std::string& key, std::int64_t t) {
    const mlperf::Key* row = mlperf::find_key(key);
    if (row == nullptr || row->phase != mlperf::Phase::interval) {
        return false;
    }
    if (mlperf::event_type(key) == "INTERVAL_START") {
        m_interval_start[key.substr(0, key.size() - 6)] = t;
        return true;
    }
    const std::string base = key.substr(0, key.size() - 5);
    const auto it = m_interval_start.find(base);
    if (it == m_interval_start.end()) {
        problem(key + " without " + base + "_start");
        return true;
    }
    std::optional<double>& sum = key == key::staging_stop ? m_out.staging_s : m_out.checkpoint_s;
    sum = sum.value_or(0.0) + static_cast<double>(t - it->second) / 1000.0;
    m_interval_start.erase(it);
    return true;
}

void Checker::on_epoch_start(int e, std::int64_t t) {
    if (m_phase == Phase::epoch) {
        problem("epoch_start of epoch " + std::to_string(e) + " before epoch_stop of epoch " +
                std::to_string(m_epoch));
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
                std::to_string(m_last_epoch + 1) + " (epoch numbers are 1-based and consecutive)");
    }
    m_epoch = e;
    m_last_epoch = std::max(e, 0);
    ++m_segment_epochs;
    m_out.epochs.push_back(
        LogEpoch{e, t, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt});
    m_seen_epoch.clear();
    m_phase = Phase::epoch;
}

void Checker::on_epoch_record(const std::string& key, std::int64_t t, const JsonValue& value) {
    LogEpoch& ep = m_out.epochs.back();
    const std::string epoch = std::to_string(m_epoch);
    if (key == key::eval_start) {
        m_seen_epoch.insert(key);
    } else if (key == key::eval_accuracy) {
        if (m_seen_epoch.count(key::eval_start) == 0) {
            problem("eval_accuracy before eval_start in epoch " + epoch);
        }
        problem(want_problem(key, value));
        ep.eval_accuracy = value.as_double();
        ep.eval_ms = t;
        m_seen_epoch.insert(key);
    } else if (key == key::eval_error) {
        if (!ep.eval_accuracy) { // an error metric (MAE): the value itself
            if (m_seen_epoch.count(key::eval_start) == 0) {
                problem("eval_error before eval_start in epoch " + epoch);
            }
            problem(want_problem(key, value));
            if (value.is_number()) {
                ep.eval_error = value.as_double();
            }
            ep.eval_ms = t;
        } else if (!value.is_number() ||
                   std::fabs(value.as_double() - (1.0 - *ep.eval_accuracy)) > 1e-6) {
            problem("eval_error is not 1 - eval_accuracy in epoch " + epoch);
        }
        m_seen_epoch.insert(key);
    } else if (key == key::eval_stop) {
        if (m_seen_epoch.count(key::eval_start) == 0) {
            problem("eval_stop without eval_start in epoch " + epoch);
        }
        m_seen_epoch.insert(key);
    } else if (key == key::epoch_stop) {
        for (const mlperf::Key& k : mlperf::k_keys) {
            if (k.phase == mlperf::Phase::epoch && k.need != mlperf::Need::optional &&
                m_seen_epoch.count(k.name) == 0) {
                problem("epoch " + epoch + " has no " + std::string(k.name));
            }
        }
        ep.stop_ms = t;
        m_phase = Phase::running;
    } else if (key == key::learning_rate) {
        ep.learning_rate = value.as_double();
    } else if (key == key::lr_scale) {
        ep.lr_scale = value.as_double();
    }
}

} // namespace kakuren::report::detail

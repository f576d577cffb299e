#pragma once
// The record sequence of an MLPerf log as a state machine (private to report/: mllog_check.cpp
// feeds it line by line). What each key must be comes from util/mlperf_keys.hpp.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "report/json_reader.hpp"
#include "report/mllog_check.hpp"
#include "util/mlperf_keys.hpp"

namespace kakuren::report::detail {

/// Whether v is what the key table's want asks for; the wording of that want ("a string").
bool satisfies(const JsonValue& v, util::mlperf::Want want);
std::string_view want_text(util::mlperf::Want want);

/// One instance reads one log into out.
class Checker {
  public:
    Checker(LogAnalysis& out, bool still_running) : m_out(out), m_still_running(still_running) {}

    /// One line of the log (1-based lineno), without its newline.
    void line(std::string_view text, int lineno);
    /// After the last line: what is missing at the end.
    void finish();

  private:
    enum class Phase { none, init, ready, running, epoch, stopped };

    void problem(const std::string& message) { problem_at(m_line, message); }
    void problem_at(int line, const std::string& message);
    void check_envelope(const JsonValue& record, const std::string& key, std::int64_t t);
    void start_segment(std::int64_t t);
    void check_init_complete();
    void record_event(const std::string& key, std::int64_t t, const JsonValue& value,
                      const JsonValue& meta);
    bool on_cache_clear_or_init(const std::string& key, std::int64_t t, const JsonValue& value);
    bool on_init_record(const std::string& key, std::int64_t t, const JsonValue& value);
    bool on_run_marker(const std::string& key, std::int64_t t, const JsonValue& value,
                       const JsonValue& meta);
    bool on_interval(const std::string& key, std::int64_t t);
    void on_epoch_start(int e, std::int64_t t);
    void on_epoch_record(const std::string& key, std::int64_t t, const JsonValue& value);

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
    std::set<std::string, std::less<>> m_seen_epoch;
    std::map<std::string, std::int64_t> m_interval_start;
};

} // namespace kakuren::report::detail

#include "report/mllog_checker.hpp"

#include <algorithm>

namespace kakuren::report::detail {

namespace mlperf = util::mlperf;
namespace key = util::mlperf::key;

namespace {

constexpr std::string_view k_marker = ":::MLLOG ";
[[nodiscard]] int epoch_of(const JsonValue& meta) {
    const JsonValue& e = meta["epoch_num"];
    return e.is_integer() ? static_cast<int>(e.as_int()) : -1;
}

/// The table's row when the checker requires the record in every init phase, else nullptr.
const mlperf::Key* required_init_key(const mlperf::Key* row) {
    return row != nullptr && row->phase == mlperf::Phase::init &&
                   row->need != mlperf::Need::optional
               ? row
               : nullptr;
}

} // namespace

bool satisfies(const JsonValue& v, mlperf::Want want) {
    using mlperf::Want;
    switch (want) {
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
    case Want::fraction:
        return v.is_number() && v.as_double() >= 0 && v.as_double() <= 1;
    case Want::any:
        break;
    }
    return true;
}

std::string_view want_text(mlperf::Want want) {
    using mlperf::Want;
    switch (want) {
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
    case Want::fraction:
        return "a number in [0, 1]";
    case Want::any:
        break;
    }
    return "a value";
}

void Checker::line(std::string_view text, int lineno) {
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
    const JsonValue& time_v = record["time_ms"];
    if (!time_v.is_integer()) {
        problem(key + ": \"time_ms\" is not an integer number of milliseconds");
        return;
    }
    const std::int64_t t = time_v.as_int();
    check_envelope(record, key, t);
    record_event(key, t, record["value"], record["metadata"]);
}

void Checker::check_envelope(const JsonValue& record, const std::string& key, std::int64_t t) {
    if (m_out.last_ms && t < *m_out.last_ms) {
        problem(key + ": time_ms " + std::to_string(t) + " is earlier than the record before (" +
                std::to_string(*m_out.last_ms) + ")");
    }
    if (!m_out.first_ms) {
        m_out.first_ms = t;
    }
    m_out.last_ms = std::max(t, m_out.last_ms.value_or(t));
    const std::string& type = record["event_type"].as_string();
    const std::string_view expected = mlperf::event_type(key);
    if (type != expected) {
        problem(key + ": event_type is \"" + type + "\", expected \"" + std::string(expected) +
                "\"");
    }
    const JsonValue& meta = record["metadata"];
    if (!meta.is_object()) {
        problem(key + ": no \"metadata\" object");
    } else if (!meta["file"].is_string() || !meta["lineno"].is_integer()) {
        problem(key + R"(: metadata lacks the call site's "file" and "lineno")");
    }
}

void Checker::finish() {
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
            m_out.notes.emplace_back("no run_stop yet: the run is still running");
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

void Checker::problem_at(int line, const std::string& message) {
    if (!message.empty()) {
        m_out.problems.push_back({line, message});
    }
}

void Checker::start_segment(std::int64_t t) {
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

void Checker::check_init_complete() {
    if (m_init_checked) {
        return;
    }
    m_init_checked = true;
    for (const mlperf::Key& k : mlperf::k_keys) {
        if (required_init_key(&k) != nullptr && m_seen_init.count(std::string(k.name)) == 0) {
            m_out.problems.push_back({m_init_line, "required record " + std::string(k.name) +
                                                       " is missing from the init phase"});
        }
    }
}

void Checker::record_event(const std::string& key, std::int64_t t, const JsonValue& value,
                           const JsonValue& meta) {
    if (on_cache_clear_or_init(key, t, value) || on_init_record(key, t, value) ||
        on_run_marker(key, t, value, meta) || on_interval(key, t)) {
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
    if (key == key::epoch_start) {
        on_epoch_start(e, t);
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
    on_epoch_record(key, t, value);
}

} // namespace kakuren::report::detail

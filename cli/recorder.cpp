#include "cli/recorder.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli/text.hpp"
#include "launcher/signals.hpp"
#include "report/text.hpp"
#include "util/hash.hpp"
#include "util/system.hpp"

namespace kakuren::cli {
namespace {

std::string megabytes(std::int64_t bytes) {
    return fixed(static_cast<double>(bytes) / 1e6, 2) + " MB";
}

db::EpochRow epoch_row(const std::string& run_id, const trainer::EpochResult& r,
                       const std::string& ended_at) {
    db::EpochRow row;
    row.run_id = run_id;
    row.epoch = r.epoch;
    row.train_loss = r.train_loss;
    row.train_accuracy = r.train_accuracy;
    row.test_loss = r.test_loss;
    row.test_accuracy = r.test_accuracy;
    row.lr = r.lr;
    row.lr_scale = r.lr_scale;
    row.max_fraction = r.max_fraction;
    row.visible = r.visible;
    row.hidden = r.hidden;
    row.moved_back = r.moved_back;
    row.candidates = r.candidates;
    row.refreshed = r.refreshed;
    row.train_s = r.train_s;
    row.hidden_pass_s = r.hidden_pass_s;
    row.eval_s = r.eval_s;
    row.total_s = r.total_s;
    row.samples_per_s = r.samples_per_s;
    row.comm_s = r.comm_s;
    row.bytes_read = r.bytes_read;
    row.ended_at = ended_at;
    return row;
}

} // namespace

std::string epoch_line(const trainer::EpochResult& r, int num_epochs, std::int64_t num_samples) {
    const double realised =
        num_samples > 0 ? static_cast<double>(r.hidden) / static_cast<double>(num_samples) : 0.0;
    std::string line = "epoch " + std::to_string(r.epoch) + "/" + std::to_string(num_epochs);
    line += "  loss " + fixed(r.train_loss, 4) + "  test " +
            (r.metric_name == "accuracy" ? std::string("acc") : std::string(r.metric_name)) + " " +
            report::metric_value(r.metric_name, r.test_accuracy);
    line += "  lr " + fixed(r.lr, 4);
    if (r.lr_scale != 1.0) {
        line += "x" + fixed(r.lr_scale, 3);
    }
    line += "  hidden " + thousands(r.hidden) + "/" + thousands(num_samples) + " (" +
            percent(realised) + " of max " + percent(r.max_fraction) + ")";
    line += "  moved back " + thousands(r.moved_back);
    if (r.visible + r.hidden != num_samples) {
        // Draws with replacement (iswr): visible counts draws; N - hidden distinct samples.
        line += "  drawn " + thousands(r.visible) + " (" + thousands(num_samples - r.hidden) +
                " distinct)";
    }
    line += "  time " + fixed(r.total_s, 1) + "s (train " + fixed(r.train_s, 1) + ", refresh " +
            fixed(r.hidden_pass_s, 1) + ", eval " + fixed(r.eval_s, 1) +
            (r.comm_s > 0 ? ", waiting on other ranks " + fixed(r.comm_s, 2) : std::string()) + ")";
    // FNV-1a over the ids: every rank prints it, so their logs show they hid the same samples.
    util::Fnv1a digest; // little-endian bytes of each id, the same on every platform
    for (const std::int64_t id : r.hidden_ids) {
        for (int b = 0; b < 8; ++b) {
            digest.add_word((static_cast<std::uint64_t>(id) >> (8 * b)) & 0xffU);
        }
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%08llx",
                  static_cast<unsigned long long>(digest.value() & 0xffffffffULL));
    line += "  hidden set " + std::string(hex);
    return line;
}

void RunRecords::start(std::int64_t num_train) {
    if (m_record) {
        m_check_owner();
        m_store.check_same_file();
        m_store.set_run_num_samples(m_run_id, num_train);
    }
}

void RunRecords::epoch(const trainer::EpochResult& r, const std::string& ended_at) {
    if (!m_record) {
        return;
    }
    m_check_owner();
    // A deleted or replaced database would swallow every record from here on.
    m_store.check_same_file();
    m_store.record_epoch(epoch_row(m_run_id, r, ended_at), r.stats, r.hidden_ids,
                         static_cast<std::int64_t>(r.stats.size()));
}

std::optional<db::CheckpointRow> RunRecords::checkpoint(const checkpoint::Snapshot& snapshot) {
    if (m_checkpoints == nullptr) {
        return std::nullopt;
    }
    m_check_owner();
    m_store.check_same_file(); // a checkpoint the database never records is never used
    return m_checkpoints->save(snapshot);
}

void TrainLog::start(std::int64_t num_train, std::int64_t num_test) {
    m_out << util::iso8601_utc_now() << " start: " << thousands(num_train) << " training samples, "
          << thousands(num_test) << " test samples" << std::endl;
}

void TrainLog::epoch(const std::string& ended_at, const std::string& line) {
    m_out << ended_at << " " << line << std::endl;
}

void TrainLog::checkpoint(const db::CheckpointRow& row, const checkpoint::Snapshot& snapshot,
                          double write_s) {
    m_out << util::iso8601_utc_now() << " checkpoint " << row.name << " ("
          << snapshot.loop.position.describe() << ", " << row.reason
          << "): " << megabytes(row.size_bytes) << " in "
          << fixed(snapshot.serialize_s + write_s, 3) << " s (serialise "
          << fixed(snapshot.serialize_s, 3) << " s, write and commit " << fixed(write_s, 3) << " s)"
          << std::endl;
}

void ProgressDisplay::progress(const trainer::StepProgress& p) {
    if (!m_live_bar) {
        return;
    }
    m_meter.add(p);
    const double epoch_fraction =
        p.num_steps > 0 ? static_cast<double>(p.step) / static_cast<double>(p.num_steps) : 0.0;
    const int width = 24;
    const int filled = static_cast<int>(std::lround(epoch_fraction * width));
    std::string bar = "\r\033[2Kepoch " + std::to_string(p.epoch) + "/" +
                      std::to_string(p.num_epochs) + " [" + std::string(filled, '#') +
                      std::string(width - filled, '.') + "] " + p.phase + " " +
                      std::to_string(p.step) + "/" + std::to_string(p.num_steps) + "  hidden " +
                      percent(p.hidden_fraction) + "  " + m_meter.text();
    std::cerr << bar << std::flush;
    m_bar_shown = true;
}

void ProgressDisplay::epoch(const trainer::EpochResult& r, const std::string& line) {
    m_meter.epoch_done(r);
    clear_bar();
    if (m_lines) {
        m_line_out << line << std::endl;
    }
}

void ProgressDisplay::clear_bar() {
    if (m_bar_shown) {
        std::cerr << "\r\033[2K" << std::flush;
        m_bar_shown = false;
    }
}

void Recorder::on_start(std::int64_t num_train, std::int64_t num_test) {
    m_records.start(num_train);
    m_log.start(num_train, num_test);
}

void Recorder::on_epoch(const trainer::EpochResult& r) {
    const std::string ended_at = util::iso8601_utc_now();
    m_records.epoch(r, ended_at);
    const std::string line = epoch_line(r, m_num_epochs, static_cast<std::int64_t>(r.stats.size()));
    m_log.epoch(ended_at, line);
    m_display.epoch(r, line);
    if (m_pause_after > 0 && r.epoch >= m_pause_after) {
        launcher::request_pause(); // checked before the next epoch begins
    }
}

void Recorder::on_stopping() {
    if (m_watchdog != nullptr) {
        m_watchdog->acknowledge();
    }
}

void Recorder::on_checkpoint(const checkpoint::Snapshot& snapshot) {
    // A checkpoint is taken at a step boundary, whose stop check follows it: a stop that comes
    // during the write is honoured right after, however long the write takes.
    struct Hold {
        launcher::StopWatchdog* w;
        explicit Hold(launcher::StopWatchdog* watchdog) : w(watchdog) {
            if (w != nullptr) {
                w->hold(true);
            }
        }
        ~Hold() {
            if (w != nullptr) {
                w->hold(false);
            }
        }
        Hold(const Hold&) = delete;
        Hold& operator=(const Hold&) = delete;
    } hold(m_watchdog);
    const auto start = std::chrono::steady_clock::now();
    const std::optional<db::CheckpointRow> row = m_records.checkpoint(snapshot);
    if (!row) {
        return;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m_last_checkpoint = row->name;
    m_log.checkpoint(*row, snapshot, seconds);
}

} // namespace kakuren::cli

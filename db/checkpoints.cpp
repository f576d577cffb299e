// The checkpoints table (schema version 2): a committed checkpoint's row with its per-sample
// statistics and hidden set, listing, reading back and deleting them.
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "db/bitmap.hpp"
#include "db/sql.hpp"
#include "db/store.hpp"
#include "util/system.hpp"

namespace kakuren::db {

using sql::from_le_bytes;
using sql::Statement;
using sql::to_le_bytes;
using sql::Transaction;

namespace {

constexpr std::string_view k_checkpoint_columns =
    "run_id, name, epoch, step, epoch_end, attempt, reason, created_at, size_bytes, "
    "test_accuracy, mllog_bytes, manifest, num_samples, num_hidden";

CheckpointRow read_checkpoint(const Statement& s) {
    CheckpointRow r;
    r.run_id = s.text(0);
    r.name = s.text(1);
    r.epoch = s.int32(2);
    r.step = s.int64(3);
    r.epoch_end = s.int64(4) != 0;
    r.attempt = s.int32(5);
    r.reason = s.text(6);
    r.created_at = s.text(7);
    r.size_bytes = s.int64(8);
    r.test_accuracy = s.optional_real(9);
    r.mllog_bytes = s.int64(10);
    r.manifest = s.text(11);
    r.num_samples = s.int64(12);
    r.num_hidden = s.int64(13);
    return r;
}

} // namespace

void Store::record_checkpoint(const CheckpointRow& row, const util::SampleStatsView& state,
                              std::span<const std::int64_t> hidden_ids) {
    const std::string what = "database " + m_file.string() + ": cannot record checkpoint " +
                             row.name + " of run " + row.run_id;
    const std::int64_t n = row.num_samples;
    const auto expected = static_cast<std::size_t>(std::max<std::int64_t>(n, 0));
    if (n < 0 || state.loss.size() != expected || state.correct.size() != expected ||
        state.confidence.size() != expected)
        throw DbError(what + ": the sample state has " + std::to_string(state.loss.size()) +
                      " losses, " + std::to_string(state.correct.size()) + " correct flags and " +
                      std::to_string(state.confidence.size()) + " confidences for " +
                      std::to_string(n) + " samples");
    std::int64_t num_hidden = 0;
    const std::vector<std::uint8_t> bitmap = make_bitmap(hidden_ids, n, what, num_hidden);
    const auto loss = to_le_bytes(state.loss);
    const auto confidence = to_le_bytes(state.confidence);

    Transaction tx(m_db.get(), m_file, "cannot record checkpoint " + row.name);
    Statement s(m_db.get(), m_file,
                "INSERT INTO checkpoints (run_id, name, epoch, step, epoch_end, attempt, reason, "
                "created_at, size_bytes, test_accuracy, mllog_bytes, manifest, num_samples, "
                "loss, correct, confidence, num_hidden, hidden) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                "cannot record checkpoint " + row.name + " of run " + row.run_id);
    const std::string created_at =
        row.created_at.empty() ? util::iso8601_utc_now() : row.created_at;
    s.bind(1, row.run_id)
        .bind(2, row.name)
        .bind(3, row.epoch)
        .bind(4, row.step)
        .bind(5, row.epoch_end ? 1 : 0)
        .bind(6, row.attempt)
        .bind(7, row.reason)
        .bind(8, created_at)
        .bind(9, row.size_bytes);
    if (row.test_accuracy)
        s.bind(10, *row.test_accuracy);
    s.bind(11, row.mllog_bytes).bind(12, row.manifest).bind(13, n);
    s.bind_blob(14, loss.data(), loss.size());
    s.bind_blob(15, state.correct.data(), state.correct.size());
    s.bind_blob(16, confidence.data(), confidence.size());
    s.bind(17, num_hidden);
    s.bind_blob(18, bitmap.data(), bitmap.size());
    s.run();
    tx.commit();
}

std::vector<CheckpointRow> Store::checkpoints(const std::string& run_id) const {
    Statement s(m_db.get(), m_file,
                "SELECT " + std::string(k_checkpoint_columns) +
                    " FROM checkpoints WHERE run_id = ?1 ORDER BY epoch, epoch_end, step",
                "cannot list the checkpoints of run " + run_id);
    s.bind(1, run_id);
    std::vector<CheckpointRow> rows;
    while (s.step())
        rows.push_back(read_checkpoint(s));
    return rows;
}

std::optional<CheckpointState> Store::checkpoint_state(const std::string& run_id,
                                                       const std::string& name) const {
    const std::string what =
        "cannot read the per-sample state of checkpoint " + name + " of run " + run_id;
    Statement s(m_db.get(), m_file,
                "SELECT num_samples, loss, correct, confidence, hidden FROM checkpoints "
                "WHERE run_id = ?1 AND name = ?2",
                what);
    s.bind(1, run_id).bind(2, name);
    if (!s.step())
        return std::nullopt;
    const std::int64_t n = s.int64(0);
    const auto expected = static_cast<std::size_t>(std::max<std::int64_t>(n, 0));
    const auto loss = s.blob(1);
    const auto correct = s.blob(2);
    const auto confidence = s.blob(3);
    const auto hidden = s.blob(4);
    if (n < 0 || loss.size() != expected * sizeof(float) || correct.size() != expected ||
        confidence.size() != expected * sizeof(float) || hidden.size() != (expected + 7) / 8)
        throw DbError("database " + m_file.string() + ": " + what +
                      ": the stored arrays do not match its " + std::to_string(n) +
                      " samples (the database is damaged)");
    CheckpointState state{
        util::SampleStats(from_le_bytes<float>(loss),
                          std::vector<std::uint8_t>(correct.begin(), correct.end()),
                          from_le_bytes<float>(confidence)),
        bitmap_ids(hidden, n)};
    return state;
}

void Store::delete_checkpoints(const std::string& run_id, const std::vector<std::string>& names) {
    if (names.empty())
        return;
    const std::string what = "cannot delete checkpoints of run " + run_id;
    Transaction tx(m_db.get(), m_file, what);
    for (const std::string& name : names) {
        Statement one(m_db.get(), m_file, "DELETE FROM checkpoints WHERE run_id = ?1 AND name = ?2",
                      what);
        one.bind(1, run_id).bind(2, name);
        one.run();
    }
    tx.commit();
}

} // namespace kakuren::db

// The per-epoch half of the store: epoch rows, the latest per-sample state, each epoch's hidden
// set (schema version 1), and rewinding a run to an earlier epoch.
#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <utility>
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

// What every statement of one record_epoch call needs: the connection, its file and the error text.
struct EpochWrite {
    sqlite3* db;
    const std::filesystem::path& file;
    const std::string& what;
};

// Throws unless the sample state holds exactly num_samples losses, flags and confidences.
void check_state_size(const EpochWrite& w, const util::SampleStatsView& state,
                      std::int64_t num_samples) {
    const auto n = static_cast<std::size_t>(std::max<std::int64_t>(num_samples, 0));
    if (num_samples < 0 || state.loss.size() != n || state.correct.size() != n ||
        state.confidence.size() != n)
        throw DbError("database " + w.file.string() + ": " + w.what + ": the sample state has " +
                      std::to_string(state.loss.size()) + " losses, " +
                      std::to_string(state.correct.size()) + " correct flags and " +
                      std::to_string(state.confidence.size()) + " confidences for " +
                      std::to_string(num_samples) + " samples");
}

// Writes (or replaces) the row of the epochs table.
void insert_epoch_row(const EpochWrite& w, const EpochRow& row) {
    Statement s(w.db, w.file,
                "INSERT OR REPLACE INTO epochs (run_id, epoch, train_loss, train_accuracy, "
                "test_loss, test_accuracy, lr, lr_scale, max_fraction, visible, hidden, "
                "moved_back, candidates, refreshed, train_s, hidden_pass_s, eval_s, total_s, "
                "samples_per_s, ended_at, comm_s, bytes_read) VALUES (?1, ?2, ?3, ?4, ?5, "
                "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, "
                "?22)",
                w.what);
    const std::string ended_at = row.ended_at.empty() ? util::iso8601_utc_now() : row.ended_at;
    s.bind(1, row.run_id)
        .bind(2, row.epoch)
        .bind(3, row.train_loss)
        .bind(4, row.train_accuracy)
        .bind(5, row.test_loss)
        .bind(6, row.test_accuracy)
        .bind(7, row.lr)
        .bind(8, row.lr_scale)
        .bind(9, row.max_fraction)
        .bind(10, row.visible)
        .bind(11, row.hidden)
        .bind(12, row.moved_back)
        .bind(13, row.candidates)
        .bind(14, row.refreshed)
        .bind(15, row.train_s)
        .bind(16, row.hidden_pass_s)
        .bind(17, row.eval_s)
        .bind(18, row.total_s)
        .bind(19, row.samples_per_s)
        .bind(20, ended_at);
    if (row.comm_s) {
        s.bind(21, *row.comm_s);
    }
    if (row.bytes_read) {
        s.bind(22, *row.bytes_read);
    }
    s.run();
}

// Writes (or replaces) the run's latest per-sample state.
void insert_sample_state(const EpochWrite& w, const EpochRow& row,
                         const util::SampleStatsView& state, std::int64_t num_samples) {
    const auto loss = to_le_bytes(state.loss);
    const auto confidence = to_le_bytes(state.confidence);
    Statement s(w.db, w.file,
                "INSERT OR REPLACE INTO sample_state (run_id, epoch, num_samples, loss, "
                "correct, confidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                w.what);
    s.bind(1, row.run_id).bind(2, row.epoch).bind(3, num_samples);
    s.bind_blob(4, loss.data(), loss.size());
    s.bind_blob(5, state.correct.data(), state.correct.size());
    s.bind_blob(6, confidence.data(), confidence.size());
    s.run();
}

// Writes (or replaces) the epoch's hidden set as a bitmap; throws on an id outside the data set.
void insert_hidden_set(const EpochWrite& w, const EpochRow& row,
                       std::span<const std::int64_t> hidden_ids, std::int64_t num_samples) {
    std::int64_t num_hidden = 0;
    const std::vector<std::uint8_t> bitmap = make_bitmap(
        hidden_ids, num_samples, "database " + w.file.string() + ": " + w.what, num_hidden);
    Statement s(w.db, w.file,
                "INSERT OR REPLACE INTO hidden_sets (run_id, epoch, num_samples, num_hidden, "
                "bitmap) VALUES (?1, ?2, ?3, ?4, ?5)",
                w.what);
    s.bind(1, row.run_id).bind(2, row.epoch).bind(3, num_samples).bind(4, num_hidden);
    s.bind_blob(5, bitmap.data(), bitmap.size());
    s.run();
}

} // namespace

void Store::record_epoch(const EpochRow& row, const util::SampleStatsView& state,
                         std::span<const std::int64_t> hidden_ids, std::int64_t num_samples) {
    const std::string what =
        "cannot record epoch " + std::to_string(row.epoch) + " of run " + row.run_id;
    const EpochWrite w{m_db.get(), m_file, what};
    check_state_size(w, state, num_samples);

    Transaction tx(m_db.get(), m_file, what);
    insert_epoch_row(w, row);
    insert_sample_state(w, row, state, num_samples);
    // The bitmap is built inside the transaction: a bad id rolls back the rows above.
    insert_hidden_set(w, row, hidden_ids, num_samples);
    tx.commit();
}

std::vector<EpochRow> Store::epochs(const std::string& run_id) const {
    Statement s(m_db.get(), m_file,
                "SELECT run_id, epoch, train_loss, train_accuracy, test_loss, test_accuracy, lr, "
                "lr_scale, max_fraction, visible, hidden, moved_back, candidates, refreshed, "
                "train_s, hidden_pass_s, eval_s, total_s, samples_per_s, ended_at, comm_s, "
                "bytes_read "
                "FROM epochs WHERE run_id = ?1 ORDER BY epoch",
                "cannot read the epochs of run " + run_id);
    s.bind(1, run_id);
    std::vector<EpochRow> rows;
    while (s.step()) {
        EpochRow e;
        e.run_id = s.text(0);
        e.epoch = s.int32(1);
        e.train_loss = s.real(2);
        e.train_accuracy = s.real(3);
        e.test_loss = s.real(4);
        e.test_accuracy = s.real(5);
        e.lr = s.real(6);
        e.lr_scale = s.real(7);
        e.max_fraction = s.real(8);
        e.visible = s.int64(9);
        e.hidden = s.int64(10);
        e.moved_back = s.int64(11);
        e.candidates = s.int64(12);
        e.refreshed = s.int64(13);
        e.train_s = s.real(14);
        e.hidden_pass_s = s.real(15);
        e.eval_s = s.real(16);
        e.total_s = s.real(17);
        e.samples_per_s = s.real(18);
        e.ended_at = s.text(19);
        e.comm_s = s.optional_real(20);
        if (!s.is_null(21)) {
            e.bytes_read = s.int64(21);
        }
        rows.push_back(std::move(e));
    }
    return rows;
}

std::optional<util::SampleStats> Store::sample_state(const std::string& run_id, int* epoch) const {
    const std::string what = "cannot read the sample state of run " + run_id;
    Statement s(m_db.get(), m_file,
                "SELECT epoch, num_samples, loss, correct, confidence FROM sample_state "
                "WHERE run_id = ?1",
                what);
    s.bind(1, run_id);
    if (!s.step())
        return std::nullopt;
    const std::int64_t n = s.int64(1);
    const auto loss = s.blob(2);
    const auto correct = s.blob(3);
    const auto confidence = s.blob(4);
    const auto expected = static_cast<std::size_t>(std::max<std::int64_t>(n, 0));
    if (loss.size() != expected * sizeof(float) || correct.size() != expected ||
        confidence.size() != expected * sizeof(float))
        throw DbError("database " + m_file.string() + ": " + what +
                      ": the stored arrays do not match its " + std::to_string(n) +
                      " samples (the database is damaged)");
    if (epoch != nullptr)
        *epoch = s.int32(0);
    return util::SampleStats(from_le_bytes<float>(loss),
                             std::vector<std::uint8_t>(correct.begin(), correct.end()),
                             from_le_bytes<float>(confidence));
}

std::optional<std::vector<std::int64_t>> Store::hidden_set(const std::string& run_id,
                                                           int epoch) const {
    const std::string what =
        "cannot read the hidden set of epoch " + std::to_string(epoch) + " of run " + run_id;
    Statement s(m_db.get(), m_file,
                "SELECT num_samples, num_hidden, bitmap FROM hidden_sets "
                "WHERE run_id = ?1 AND epoch = ?2",
                what);
    s.bind(1, run_id).bind(2, epoch);
    if (!s.step())
        return std::nullopt;
    const std::int64_t n = s.int64(0);
    const auto bitmap = s.blob(2);
    if (n < 0 || bitmap.size() != static_cast<std::size_t>((n + 7) / 8))
        throw DbError("database " + m_file.string() + ": " + what + ": the bitmap has " +
                      std::to_string(bitmap.size()) + " bytes for " + std::to_string(n) +
                      " samples (the database is damaged)");
    std::vector<std::int64_t> ids;
    ids.reserve(static_cast<std::size_t>(std::max<std::int64_t>(s.int64(1), 0)));
    for (std::size_t byte = 0; byte < bitmap.size(); ++byte) {
        std::uint8_t bits = bitmap[byte];
        while (bits != 0) {
            const int bit = std::countr_zero(bits);
            const auto id = static_cast<std::int64_t>(byte * 8) + bit;
            if (id < n)
                ids.push_back(id);
            bits = static_cast<std::uint8_t>(bits & (bits - 1));
        }
    }
    return ids;
}

std::vector<std::pair<int, bool>> Store::sample_history(const std::string& run_id,
                                                        std::int64_t sample_id) const {
    const std::string what =
        "cannot read the history of sample " + std::to_string(sample_id) + " of run " + run_id;
    // Only the one byte that holds the sample's bit leaves SQLite.
    Statement s(m_db.get(), m_file,
                "SELECT epoch, num_samples, substr(bitmap, ?2, 1) FROM hidden_sets "
                "WHERE run_id = ?1 ORDER BY epoch",
                what);
    s.bind(1, run_id).bind(2, sample_id >= 0 ? sample_id / 8 + 1 : std::int64_t{1});
    std::vector<std::pair<int, bool>> history;
    while (s.step()) {
        const std::int64_t n = s.int64(1);
        if (sample_id < 0 || sample_id >= n)
            throw DbError("sample id " + std::to_string(sample_id) + " is out of range [0, " +
                          std::to_string(n) + ") for run " + run_id);
        const auto byte = s.blob(2);
        if (byte.size() != 1)
            throw DbError("database " + m_file.string() + ": " + what + ": the bitmap of epoch " +
                          std::to_string(s.int32(0)) + " is too short (the database is damaged)");
        history.emplace_back(s.int32(0), ((byte[0] >> (sample_id % 8)) & 1U) != 0);
    }
    return history;
}

void Store::rewind_run(const std::string& run_id, int epochs_done) {
    const std::string what =
        "cannot rewind run " + run_id + " to epoch " + std::to_string(epochs_done);
    Transaction tx(m_db.get(), m_file, what);
    for (const char* sql : {"DELETE FROM epochs WHERE run_id = ?1 AND epoch > ?2",
                            "DELETE FROM hidden_sets WHERE run_id = ?1 AND epoch > ?2",
                            "DELETE FROM sample_state WHERE run_id = ?1 AND epoch > ?2"}) {
        Statement s(m_db.get(), m_file, sql, what);
        s.bind(1, run_id).bind(2, epochs_done);
        s.run();
    }
    tx.commit();
}

} // namespace kakuren::db

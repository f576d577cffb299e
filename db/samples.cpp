// The per-epoch and per-sample half of the store: epochs, sample state, hidden sets,
// checkpoints and rewinding a run to one of them (schema versions 1-2).
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "db/sql.hpp"
#include "db/store.hpp"
#include "util/system.hpp"

namespace kakuren::db {

using sql::from_le_bytes;
using sql::Statement;
using sql::to_le_bytes;
using sql::Transaction;

void Store::record_epoch(const EpochRow& row, const SampleState& state,
                         std::span<const std::int64_t> hidden_ids, std::int64_t num_samples) {
    const std::string what =
        "cannot record epoch " + std::to_string(row.epoch) + " of run " + row.run_id;
    const auto n = static_cast<std::size_t>(std::max<std::int64_t>(num_samples, 0));
    if (num_samples < 0 || state.loss.size() != n || state.correct.size() != n ||
        state.confidence.size() != n)
        throw DbError("database " + m_file.string() + ": " + what + ": the sample state has " +
                      std::to_string(state.loss.size()) + " losses, " +
                      std::to_string(state.correct.size()) + " correct flags and " +
                      std::to_string(state.confidence.size()) + " confidences for " +
                      std::to_string(num_samples) + " samples");

    Transaction tx(m_db.get(), m_file, what);
    {
        Statement s(m_db.get(), m_file,
                    "INSERT OR REPLACE INTO epochs (run_id, epoch, train_loss, train_accuracy, "
                    "test_loss, test_accuracy, lr, lr_scale, max_fraction, visible, hidden, "
                    "moved_back, candidates, refreshed, train_s, hidden_pass_s, eval_s, total_s, "
                    "samples_per_s, ended_at, comm_s, bytes_read) VALUES (?1, ?2, ?3, ?4, ?5, "
                    "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, "
                    "?22)",
                    what);
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
    {
        const auto loss = to_le_bytes(state.loss);
        const auto confidence = to_le_bytes(state.confidence);
        Statement s(m_db.get(), m_file,
                    "INSERT OR REPLACE INTO sample_state (run_id, epoch, num_samples, loss, "
                    "correct, confidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    what);
        s.bind(1, row.run_id).bind(2, state.epoch).bind(3, num_samples);
        s.bind_blob(4, loss.data(), loss.size());
        s.bind_blob(5, state.correct.data(), state.correct.size());
        s.bind_blob(6, confidence.data(), confidence.size());
        s.run();
    }
    {
        // The bitmap is built inside the transaction: a bad id rolls back the rows above.
        std::vector<std::uint8_t> bitmap((n + 7) / 8, 0);
        std::int64_t num_hidden = 0;
        for (const std::int64_t id : hidden_ids) {
            if (id < 0 || id >= num_samples)
                throw DbError("database " + m_file.string() + ": " + what + ": hidden sample id " +
                              std::to_string(id) + " is out of range [0, " +
                              std::to_string(num_samples) + ")");
            auto& byte = bitmap[static_cast<std::size_t>(id / 8)];
            const auto bit = static_cast<std::uint8_t>(1U << (id % 8));
            if ((byte & bit) == 0) {
                byte |= bit;
                ++num_hidden;
            }
        }
        Statement s(m_db.get(), m_file,
                    "INSERT OR REPLACE INTO hidden_sets (run_id, epoch, num_samples, num_hidden, "
                    "bitmap) VALUES (?1, ?2, ?3, ?4, ?5)",
                    what);
        s.bind(1, row.run_id).bind(2, row.epoch).bind(3, num_samples).bind(4, num_hidden);
        s.bind_blob(5, bitmap.data(), bitmap.size());
        s.run();
    }
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

std::optional<SampleState> Store::sample_state(const std::string& run_id) const {
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
    SampleState state;
    state.epoch = s.int32(0);
    state.loss = from_le_bytes<float>(loss);
    state.correct.assign(correct.begin(), correct.end());
    state.confidence = from_le_bytes<float>(confidence);
    return state;
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

// ---- checkpoints (schema version 2) ----

namespace {

template <typename T> std::vector<std::uint8_t> span_to_le_bytes(std::span<const T> values) {
    return to_le_bytes(std::vector<T>(values.begin(), values.end()));
}

/// ceil(n/8) bytes, bit (i % 8) of byte (i / 8) set for each id; counts distinct ids. Throws
/// DbError naming `what` for an id outside [0, n).
std::vector<std::uint8_t> make_bitmap(std::span<const std::int64_t> ids, std::int64_t n,
                                      const std::string& what, std::int64_t& count) {
    std::vector<std::uint8_t> bitmap(static_cast<std::size_t>((n + 7) / 8), 0);
    count = 0;
    for (const std::int64_t id : ids) {
        if (id < 0 || id >= n)
            throw DbError(what + ": hidden sample id " + std::to_string(id) +
                          " is out of range [0, " + std::to_string(n) + ")");
        auto& byte = bitmap[static_cast<std::size_t>(id / 8)];
        const auto bit = static_cast<std::uint8_t>(1U << (id % 8));
        if ((byte & bit) == 0) {
            byte |= bit;
            ++count;
        }
    }
    return bitmap;
}

std::vector<std::int64_t> bitmap_ids(std::span<const std::uint8_t> bitmap, std::int64_t n) {
    std::vector<std::int64_t> ids;
    for (std::size_t byte = 0; byte < bitmap.size(); ++byte) {
        std::uint8_t bits = bitmap[byte];
        while (bits != 0) {
            const auto id = static_cast<std::int64_t>(byte * 8) + std::countr_zero(bits);
            if (id < n)
                ids.push_back(id);
            bits = static_cast<std::uint8_t>(bits & (bits - 1));
        }
    }
    return ids;
}

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

void Store::record_checkpoint(const CheckpointRow& row, const SampleStateView& state,
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
    const auto loss = span_to_le_bytes(state.loss);
    const auto confidence = span_to_le_bytes(state.confidence);

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
    CheckpointState state;
    state.loss = from_le_bytes<float>(loss);
    state.correct.assign(correct.begin(), correct.end());
    state.confidence = from_le_bytes<float>(confidence);
    state.hidden_ids = bitmap_ids(hidden, n);
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

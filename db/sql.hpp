#pragma once
// Private to db/: the SQLite plumbing the store's files share — a prepared statement and a
// transaction that turn every failure into a DbError naming the file, what was being done and
// what the user can do, and the little-endian encoding of per-sample arrays.
#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "db/store.hpp"

namespace kakuren::db::sql {

/// What a user can do about a failure with this SQLite result code; empty if nothing useful.
inline std::string hint_for(int rc) {
    switch (rc & 0xff) {
    case SQLITE_READONLY:
        return " (the database is read-only: make the file and its folder writable, or use a "
               "workspace you can write to)";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return " (another kakuren process held the database for more than 10 s: wait for it to "
               "finish or stop it, then retry)";
    case SQLITE_CANTOPEN:
        return " (check that the folder exists and that you may write to it)";
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return " (the file is not a kakuren database or is damaged: restore it from a backup, "
               "recover what SQLite can with `sqlite3 kakuren.db .recover | sqlite3 new.db`, or "
               "point kakuren at another workspace)";
    case SQLITE_FULL:
        return " (the disk is full: free some space and retry)";
    case SQLITE_IOERR:
        return " (an I/O error: check the disk and the file system)";
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return " (permission denied: check the file's permissions)";
    default:
        return {};
    }
}

struct StatementFinalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

/// A prepared statement bound to its connection; every failure becomes a DbError naming the
/// database file and what was being done.
class Statement {
  public:
    Statement(sqlite3* db, const std::filesystem::path& file, std::string_view sql,
              std::string what)
        : m_db(db), m_file(file), m_what(std::move(what)) {
        sqlite3_stmt* raw = nullptr;
        const int rc =
            sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
        m_stmt.reset(raw);
        check(rc);
    }

    Statement& bind(int index, std::int64_t value) {
        check(sqlite3_bind_int64(m_stmt.get(), index, value));
        return *this;
    }
    Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
    /// A finite value binds as REAL; NaN and +-infinity bind as the text "nan", "inf" or
    /// "-inf" (schema version 6): SQLite would store a NaN as NULL, which reads back as 0.
    Statement& bind(int index, double value) {
        if (!std::isfinite(value)) {
            return bind(index, std::string_view(std::isnan(value) ? "nan"
                                                : value > 0       ? "inf"
                                                                  : "-inf"));
        }
        check(sqlite3_bind_double(m_stmt.get(), index, value));
        return *this;
    }
    /// Binds text; the caller keeps it alive until the statement is done.
    Statement& bind(int index, std::string_view value) {
        check(sqlite3_bind_text64(m_stmt.get(), index, value.data(), value.size(), SQLITE_STATIC,
                                  SQLITE_UTF8));
        return *this;
    }
    Statement& bind(int index, const std::string& value) {
        return bind(index, std::string_view(value));
    }
    Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
    /// Text, or NULL when empty (optional columns).
    Statement& bind_or_null(int index, const std::string& value) {
        if (value.empty()) {
            check(sqlite3_bind_null(m_stmt.get(), index));
            return *this;
        }
        return bind(index, value);
    }
    /// Binds a blob; the caller keeps the bytes alive until the statement is done.
    Statement& bind_blob(int index, const void* data, std::size_t size) {
        // A zero-length blob with a null pointer would bind NULL, which NOT NULL rejects.
        static const char k_empty = 0;
        check(sqlite3_bind_blob64(m_stmt.get(), index, size == 0 ? &k_empty : data, size,
                                  SQLITE_STATIC));
        return *this;
    }

    /// Runs one step; true if a row is ready.
    bool step() {
        const int rc = sqlite3_step(m_stmt.get());
        if (rc == SQLITE_ROW)
            return true;
        if (rc == SQLITE_DONE)
            return false;
        check(rc);
        return false;
    }
    /// Runs a statement that returns no rows.
    void run() {
        while (step()) {
        }
    }

    bool is_null(int col) const { return sqlite3_column_type(m_stmt.get(), col) == SQLITE_NULL; }
    std::int64_t int64(int col) const { return sqlite3_column_int64(m_stmt.get(), col); }
    int int32(int col) const { return sqlite3_column_int(m_stmt.get(), col); }
    /// A REAL column's value; the text "nan", "inf" or "-inf" (see bind) reads back as that
    /// non-finite value.
    double real(int col) const {
        if (sqlite3_column_type(m_stmt.get(), col) == SQLITE_TEXT) {
            const std::string value = text(col);
            if (value == "nan") {
                return std::numeric_limits<double>::quiet_NaN();
            }
            if (value == "inf" || value == "-inf") {
                const double inf = std::numeric_limits<double>::infinity();
                return value == "inf" ? inf : -inf;
            }
        }
        return sqlite3_column_double(m_stmt.get(), col);
    }
    std::optional<double> optional_real(int col) const {
        return is_null(col) ? std::nullopt : std::optional<double>(real(col));
    }
    /// Text of a column; "" for NULL.
    std::string text(int col) const {
        const auto* p = sqlite3_column_text(m_stmt.get(), col);
        const int n = sqlite3_column_bytes(m_stmt.get(), col);
        return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
                 : std::string();
    }
    /// Bytes of a blob column, valid until the next step.
    std::span<const std::uint8_t> blob(int col) const {
        const void* p = sqlite3_column_blob(m_stmt.get(), col);
        const int n = sqlite3_column_bytes(m_stmt.get(), col);
        if (p == nullptr || n <= 0)
            return {};
        return {static_cast<const std::uint8_t*>(p), static_cast<std::size_t>(n)};
    }

  private:
    void check(int rc) const {
        if (rc == SQLITE_OK)
            return;
        throw DbError("database " + m_file.string() + ": " + m_what + ": " + sqlite3_errmsg(m_db) +
                      hint_for(rc));
    }

    sqlite3* m_db;
    const std::filesystem::path& m_file;
    std::string m_what;
    std::unique_ptr<sqlite3_stmt, StatementFinalizer> m_stmt;
};

/// Runs SQL text (several statements allowed, no parameters).
inline void exec(sqlite3* db, const std::filesystem::path& file, std::string_view sql,
                 const std::string& what) {
    const std::string text(sql); // sqlite3_exec needs a terminated string
    char* raw_message = nullptr;
    const int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, &raw_message);
    const std::unique_ptr<char, decltype(&sqlite3_free)> message(raw_message, &sqlite3_free);
    if (rc != SQLITE_OK)
        throw DbError("database " + file.string() + ": " + what + ": " +
                      (message ? message.get() : sqlite3_errstr(rc)) + hint_for(rc));
}

/// BEGIN IMMEDIATE ... COMMIT; rolls back unless committed. IMMEDIATE takes the write lock up
/// front, so a waiting writer goes through the busy timeout instead of failing mid-way.
class Transaction {
  public:
    Transaction(sqlite3* db, const std::filesystem::path& file, std::string what)
        : m_db(db), m_file(file), m_what(std::move(what)) {
        exec(m_db, m_file, "BEGIN IMMEDIATE", m_what + ": cannot start a write transaction");
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction() {
        if (!m_done)
            sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr); // nothing to report
    }
    void commit() {
        exec(m_db, m_file, "COMMIT", m_what + ": cannot commit");
        m_done = true;
    }

  private:
    sqlite3* m_db;
    const std::filesystem::path& m_file;
    std::string m_what;
    bool m_done = false;
};

// Per-sample arrays are stored little-endian whatever the host.
template <typename T> std::vector<std::uint8_t> to_le_bytes(std::span<const T> values) {
    std::vector<std::uint8_t> bytes(values.size() * sizeof(T));
    if (!bytes.empty())
        std::memcpy(bytes.data(), values.data(), bytes.size());
    if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1)
        for (std::size_t i = 0; i < bytes.size(); i += sizeof(T))
            std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(i),
                         bytes.begin() + static_cast<std::ptrdiff_t>(i + sizeof(T)));
    return bytes;
}

template <typename T> std::vector<T> from_le_bytes(std::span<const std::uint8_t> bytes) {
    std::vector<T> values(bytes.size() / sizeof(T));
    if (!values.empty())
        std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
    if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1) {
        auto* raw = reinterpret_cast<std::uint8_t*>(values.data());
        for (std::size_t i = 0; i < values.size() * sizeof(T); i += sizeof(T))
            std::reverse(raw + i, raw + i + sizeof(T));
    }
    return values;
}

} // namespace kakuren::db::sql

#include "db/store.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <system_error>
#include <utility>

#include "db/schema.hpp"
#include "util/system.hpp"

namespace kakuren::db {

namespace {

constexpr int k_busy_timeout_ms = 10'000;

/// What a user can do about a failure with this SQLite result code; empty if nothing useful.
std::string hint_for(int rc) {
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
    Statement& bind(int index, double value) {
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
    double real(int col) const { return sqlite3_column_double(m_stmt.get(), col); }
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
void exec(sqlite3* db, const std::filesystem::path& file, std::string_view sql,
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

bool is_final_status(RunStatus s) {
    return s != RunStatus::created && s != RunStatus::running;
}

// Per-sample arrays are stored little-endian whatever the host.
template <typename T> std::vector<std::uint8_t> to_le_bytes(const std::vector<T>& values) {
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

constexpr std::string_view k_run_columns =
    "id, name, recipe_path, recipe_text, recipe_hash, strategy, fraction, seed, num_samples, "
    "num_epochs, status, created_at, started_at, ended_at, run_dir, reason, epochs_done, "
    "final_accuracy, best_accuracy, mean_realised_fraction, sweep, "
    // Schema 5: the metric, and the best of a lower-is-better metric (MAE).
    "(SELECT metric FROM runs WHERE runs.id = run_summary.id), "
    "(SELECT MIN(e.test_accuracy) FROM epochs e WHERE e.run_id = run_summary.id)";

RunRow read_run(const Statement& s) {
    RunRow r;
    r.id = s.text(0);
    r.name = s.text(1);
    r.recipe_path = s.text(2);
    r.recipe_text = s.text(3);
    r.recipe_hash = s.text(4);
    r.strategy = s.text(5);
    r.fraction = s.real(6);
    r.seed = s.int64(7);
    r.num_samples = s.int64(8);
    r.num_epochs = s.int32(9);
    r.status = run_status_from_string(s.text(10));
    r.created_at = s.text(11);
    r.started_at = s.text(12);
    r.ended_at = s.text(13);
    r.run_dir = s.text(14);
    r.reason = s.text(15);
    r.epochs_done = s.int64(16);
    r.final_accuracy = s.optional_real(17);
    r.best_accuracy = s.optional_real(18);
    r.mean_realised_fraction = s.real(19);
    r.sweep = s.text(20);
    if (const std::string metric = s.text(21); !metric.empty()) {
        r.metric = metric;
    }
    if (r.metric == "MAE") {
        r.best_accuracy = s.optional_real(22);
    }
    return r;
}

constexpr std::string_view k_job_columns =
    "run_id, submission, backend, job_id, host, state, reason, requeues, submitted_at, "
    "ended_at, script";

JobRow read_job(const Statement& s) {
    JobRow j;
    j.run_id = s.text(0);
    j.submission = s.int32(1);
    j.backend = s.text(2);
    j.job_id = s.text(3);
    j.host = s.text(4);
    j.state = s.text(5);
    j.reason = s.text(6);
    j.requeues = s.int32(7);
    j.submitted_at = s.text(8);
    j.ended_at = s.text(9);
    j.script = s.text(10);
    return j;
}

} // namespace

std::string to_string(RunStatus s) {
    switch (s) {
    case RunStatus::created:
        return "created";
    case RunStatus::running:
        return "running";
    case RunStatus::succeeded:
        return "succeeded";
    case RunStatus::finished:
        return "finished";
    case RunStatus::failed:
        return "failed";
    case RunStatus::interrupted:
        return "interrupted";
    case RunStatus::crashed:
        return "crashed";
    }
    return "unknown";
}

RunStatus run_status_from_string(const std::string& s) {
    for (const RunStatus status :
         {RunStatus::created, RunStatus::running, RunStatus::succeeded, RunStatus::finished,
          RunStatus::failed, RunStatus::interrupted, RunStatus::crashed})
        if (to_string(status) == s)
            return status;
    throw DbError("unknown run status '" + s +
                  "'; expected created, running, succeeded, finished, failed, interrupted or "
                  "crashed");
}

void Store::Closer::operator()(sqlite3* db) const {
    sqlite3_close_v2(db);
}

Store::Store(std::unique_ptr<sqlite3, Closer> db, std::filesystem::path file)
    : m_db(std::move(db)), m_file(std::move(file)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

int Store::latest_schema_version() {
    return static_cast<int>(k_migrations.size());
}

Store Store::open(const std::filesystem::path& file, bool create) {
    const std::string name = file.string();
    // The folder is the workspace: created (or refused) by whoever chose it, never here.
    if (file.has_parent_path() && !std::filesystem::is_directory(file.parent_path()))
        throw DbError("database " + name + ": its folder " + file.parent_path().string() +
                      " does not exist (or is not a folder)");
    // A file marked read-only is refused even where the OS would let us write (root): the
    // user said "do not change this", and SQLite would otherwise write to it regardless.
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        (st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) == 0)
        throw DbError("database " + name +
                      ": the file is read-only; kakuren records runs in it: make it writable "
                      "(chmod u+w " +
                      name + ") or use another workspace");

    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(
        name.c_str(), &raw, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), nullptr);
    std::unique_ptr<sqlite3, Closer> db(raw); // closed even when opening failed
    if (rc != SQLITE_OK)
        throw DbError("database " + name + ": cannot open: " +
                      (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)) + hint_for(rc));
    sqlite3_extended_result_codes(db.get(), 1);
    if (sqlite3_db_readonly(db.get(), "main") == 1)
        throw DbError("database " + name +
                      ": opened read-only (no write permission); kakuren records runs in it: "
                      "make the file and its folder writable or use another workspace");
    if (const int busy_rc = sqlite3_busy_timeout(db.get(), k_busy_timeout_ms); busy_rc != SQLITE_OK)
        throw DbError("database " + name +
                      ": cannot set the busy timeout: " + sqlite3_errmsg(db.get()));

    // WAL: readers (kakuren list/show) never block the training process, nor it them.
    exec(db.get(), file, "PRAGMA journal_mode = WAL", "cannot switch to WAL mode");
    exec(db.get(), file, "PRAGMA foreign_keys = ON", "cannot enable foreign keys");
    exec(db.get(), file, "PRAGMA synchronous = NORMAL", "cannot set synchronous mode");

    Store store(std::move(db), file);
    if (::stat(file.c_str(), &st) != 0)
        throw DbError("database " + name + ": vanished while it was opened");
    store.m_dev = static_cast<std::uint64_t>(st.st_dev);
    store.m_ino = static_cast<std::uint64_t>(st.st_ino);
    const int latest = latest_schema_version();
    int version = store.schema_version();
    if (version > latest)
        throw DbError("database " + name + " was written by a newer kakuren (schema version " +
                      std::to_string(version) + "; this kakuren knows up to " +
                      std::to_string(latest) + "): upgrade kakuren, or use another workspace");
    while (version < latest) {
        Transaction tx(store.m_db.get(), store.m_file,
                       "migrating to schema version " + std::to_string(version + 1));
        // Another process may have migrated between our read and the write lock.
        version = store.schema_version();
        if (version >= latest)
            break;
        const std::string what = "migrating to schema version " + std::to_string(version + 1);
        exec(store.m_db.get(), file, k_migrations[static_cast<std::size_t>(version)], what);
        exec(store.m_db.get(), file, "PRAGMA user_version = " + std::to_string(version + 1), what);
        tx.commit();
        ++version;
    }
    return store;
}

int Store::schema_version() const {
    Statement s(m_db.get(), m_file, "PRAGMA user_version", "cannot read the schema version");
    return s.step() ? s.int32(0) : 0;
}

void Store::insert_run(const RunRow& run) {
    Transaction tx(m_db.get(), m_file, "cannot insert run " + run.id);
    {
        Statement exists(m_db.get(), m_file, "SELECT 1 FROM runs WHERE id = ?1",
                         "cannot look up run " + run.id);
        exists.bind(1, run.id);
        if (exists.step())
            throw DbError("database " + m_file.string() + ": a run with id " + run.id +
                          " already exists");
    }
    Statement s(m_db.get(), m_file,
                "INSERT INTO runs (id, name, recipe_path, recipe_text, recipe_hash, strategy, "
                "fraction, seed, num_samples, num_epochs, status, created_at, started_at, "
                "ended_at, run_dir, reason, metric) VALUES "
                "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                "cannot insert run " + run.id);
    const std::string status = to_string(run.status);
    const std::string created_at =
        run.created_at.empty() ? util::iso8601_utc_now() : run.created_at;
    s.bind(1, run.id)
        .bind(2, run.name)
        .bind(3, run.recipe_path)
        .bind(4, run.recipe_text)
        .bind(5, run.recipe_hash)
        .bind(6, run.strategy)
        .bind(7, run.fraction)
        .bind(8, run.seed)
        .bind(9, run.num_samples)
        .bind(10, run.num_epochs)
        .bind(11, status)
        .bind(12, created_at)
        .bind_or_null(13, run.started_at)
        .bind_or_null(14, run.ended_at)
        .bind(15, run.run_dir)
        .bind_or_null(16, run.reason)
        .bind(17, run.metric);
    s.run();
    tx.commit();
}

void Store::set_run_status(const std::string& run_id, RunStatus status, const std::string& reason) {
    const std::string what = "cannot set the status of run " + run_id;
    Transaction tx(m_db.get(), m_file, what);
    Statement s(m_db.get(), m_file,
                "UPDATE runs SET status = ?2, reason = ?3, "
                "started_at = CASE WHEN ?2 = 'running' THEN COALESCE(started_at, ?4) "
                "ELSE started_at END, "
                "ended_at = CASE WHEN ?5 THEN ?4 ELSE ended_at END "
                "WHERE id = ?1",
                what);
    const std::string status_text = to_string(status);
    const std::string now = util::iso8601_utc_now();
    s.bind(1, run_id)
        .bind(2, status_text)
        .bind_or_null(3, reason)
        .bind(4, now)
        .bind(5, static_cast<int>(is_final_status(status)));
    s.run();
    if (sqlite3_changes(m_db.get()) != 1)
        throw DbError("database " + m_file.string() + ": no run with id " + run_id);
    tx.commit();
}

void Store::set_run_num_samples(const std::string& run_id, std::int64_t num_samples) {
    const std::string what = "cannot set the sample count of run " + run_id;
    Statement s(m_db.get(), m_file, "UPDATE runs SET num_samples = ?2 WHERE id = ?1", what);
    s.bind(1, run_id).bind(2, num_samples);
    s.run();
    if (sqlite3_changes(m_db.get()) != 1)
        throw DbError("database " + m_file.string() + ": no run with id " + run_id);
}

std::optional<RunRow> Store::find_run(const std::string& id_or_prefix) const {
    if (id_or_prefix.empty())
        return std::nullopt;
    const std::string what = "cannot look up run " + id_or_prefix;
    {
        Statement s(m_db.get(), m_file,
                    "SELECT " + std::string(k_run_columns) + " FROM run_summary WHERE id = ?1",
                    what);
        s.bind(1, id_or_prefix);
        if (s.step())
            return read_run(s);
    }
    // substr/length count characters on both sides; ids are ASCII anyway.
    Statement s(m_db.get(), m_file,
                "SELECT " + std::string(k_run_columns) +
                    " FROM run_summary WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id",
                what);
    s.bind(1, id_or_prefix);
    std::vector<RunRow> matches;
    while (s.step())
        matches.push_back(read_run(s));
    if (matches.empty())
        return std::nullopt;
    if (matches.size() == 1)
        return std::move(matches.front());
    std::string listed;
    for (std::size_t i = 0; i < matches.size() && i < 5; ++i)
        listed += (i ? ", " : "") + matches[i].id;
    if (matches.size() > 5)
        listed += " and " + std::to_string(matches.size() - 5) + " more";
    throw AmbiguousRun("run id prefix '" + id_or_prefix + "' is ambiguous: it matches " + listed +
                       "; give more characters of the id");
}

std::vector<RunRow> Store::list_runs() const {
    Statement s(m_db.get(), m_file,
                "SELECT " + std::string(k_run_columns) +
                    " FROM run_summary ORDER BY created_at DESC, id DESC",
                "cannot list runs");
    std::vector<RunRow> runs;
    while (s.step())
        runs.push_back(read_run(s));
    return runs;
}

int Store::begin_attempt(const std::string& run_id, const std::string& host, std::int64_t pid,
                         std::int64_t pid_start_ticks) {
    return begin_attempt(run_id, host, pid, pid_start_ticks, AttemptPlace{});
}

int Store::begin_attempt(const std::string& run_id, const std::string& host, std::int64_t pid,
                         std::int64_t pid_start_ticks, const AttemptPlace& place) {
    const std::string what = "cannot start an attempt of run " + run_id;
    Transaction tx(m_db.get(), m_file, what);
    {
        Statement exists(m_db.get(), m_file, "SELECT 1 FROM runs WHERE id = ?1", what);
        exists.bind(1, run_id);
        if (!exists.step())
            throw DbError("database " + m_file.string() + ": no run with id " + run_id);
    }
    int attempt = 1;
    {
        Statement s(m_db.get(), m_file,
                    "SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE run_id = ?1", what);
        s.bind(1, run_id);
        if (s.step())
            attempt = s.int32(0);
    }
    const std::string now = util::iso8601_utc_now();
    {
        Statement s(m_db.get(), m_file,
                    "INSERT INTO attempts (run_id, attempt, host, pid, pid_start_ticks, "
                    "started_at, status, job_id, world_size, nodes) VALUES (?1, ?2, ?3, ?4, ?5, "
                    "?6, 'running', NULLIF(?7, ''), ?8, NULLIF(?9, ''))",
                    what);
        s.bind(1, run_id).bind(2, attempt).bind(3, host).bind(4, pid).bind(5, pid_start_ticks);
        s.bind(6, now).bind(7, place.job_id).bind(8, place.world_size).bind(9, place.nodes);
        s.run();
    }
    {
        // A resumed run is running again: its previous end no longer applies.
        Statement s(m_db.get(), m_file,
                    "UPDATE runs SET status = 'running', started_at = COALESCE(started_at, ?2), "
                    "ended_at = NULL, reason = NULL WHERE id = ?1",
                    what);
        s.bind(1, run_id).bind(2, now);
        s.run();
    }
    tx.commit();
    return attempt;
}

void Store::end_attempt(const std::string& run_id, int attempt, const std::string& status,
                        const std::string& reason) {
    const RunStatus run_status = run_status_from_string(status);
    if (!is_final_status(run_status))
        throw DbError("cannot end attempt " + std::to_string(attempt) + " of run " + run_id +
                      " with status '" + status +
                      "'; expected succeeded, finished, failed, interrupted or crashed");
    const std::string what = "cannot end attempt " + std::to_string(attempt) + " of run " + run_id;
    Transaction tx(m_db.get(), m_file, what);
    const std::string now = util::iso8601_utc_now();
    {
        Statement s(m_db.get(), m_file,
                    "UPDATE attempts SET ended_at = ?3, status = ?4, reason = ?5 "
                    "WHERE run_id = ?1 AND attempt = ?2",
                    what);
        s.bind(1, run_id).bind(2, attempt).bind(3, now).bind(4, status).bind_or_null(5, reason);
        s.run();
        if (sqlite3_changes(m_db.get()) != 1)
            throw DbError("database " + m_file.string() + ": run " + run_id + " has no attempt " +
                          std::to_string(attempt));
    }
    {
        Statement s(m_db.get(), m_file,
                    "UPDATE runs SET status = ?2, ended_at = ?3, reason = ?4 WHERE id = ?1", what);
        s.bind(1, run_id).bind(2, status).bind(3, now).bind_or_null(4, reason);
        s.run();
    }
    tx.commit();
}

std::vector<AttemptRow> Store::attempts(const std::string& run_id) const {
    Statement s(m_db.get(), m_file,
                "SELECT run_id, attempt, host, pid, pid_start_ticks, started_at, ended_at, "
                "status, reason, job_id, world_size, nodes, heartbeat_ms FROM attempts "
                "WHERE run_id = ?1 ORDER BY attempt",
                "cannot list the attempts of run " + run_id);
    s.bind(1, run_id);
    std::vector<AttemptRow> rows;
    while (s.step()) {
        AttemptRow a;
        a.run_id = s.text(0);
        a.attempt = s.int32(1);
        a.host = s.text(2);
        a.pid = s.int64(3);
        a.pid_start_ticks = s.int64(4);
        a.started_at = s.text(5);
        a.ended_at = s.text(6);
        a.status = s.text(7);
        a.reason = s.text(8);
        a.job_id = s.text(9);
        a.world_size = s.int32(10);
        a.nodes = s.text(11);
        a.heartbeat_ms = s.int64(12);
        rows.push_back(std::move(a));
    }
    return rows;
}

bool is_final_job_state(const std::string& state) {
    return state == "completed" || state == "failed" || state == "cancelled";
}

int Store::insert_job(const JobRow& job) {
    const std::string what = "cannot record a job of run " + job.run_id;
    Transaction tx(m_db.get(), m_file, what);
    int submission = job.submission;
    if (submission == 0) {
        Statement s(m_db.get(), m_file,
                    "SELECT COALESCE(MAX(submission), 0) + 1 FROM jobs WHERE run_id = ?1", what);
        s.bind(1, job.run_id);
        if (s.step())
            submission = s.int32(0);
    }
    Statement s(m_db.get(), m_file,
                "INSERT INTO jobs (run_id, submission, backend, job_id, host, state, reason, "
                "requeues, submitted_at, ended_at, script) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                "NULLIF(?7, ''), ?8, ?9, NULLIF(?10, ''), ?11)",
                what);
    s.bind(1, job.run_id).bind(2, submission).bind(3, job.backend).bind(4, job.job_id);
    // bind keeps pointers to the text: the values must outlive the statement's run.
    const std::string state = job.state.empty() ? std::string("pending") : job.state;
    const std::string submitted_at =
        job.submitted_at.empty() ? util::iso8601_utc_now() : job.submitted_at;
    s.bind(5, job.host).bind(6, state);
    s.bind(7, job.reason).bind(8, job.requeues);
    s.bind(9, submitted_at);
    s.bind(10, job.ended_at).bind(11, job.script);
    s.run();
    tx.commit();
    return submission;
}

void Store::set_job_id(const std::string& run_id, int submission, const std::string& job_id) {
    Statement s(m_db.get(), m_file,
                "UPDATE jobs SET job_id = ?3 WHERE run_id = ?1 AND submission = ?2",
                "cannot record the job id of run " + run_id);
    s.bind(1, run_id).bind(2, submission).bind(3, job_id);
    s.run();
}

bool Store::set_job_state(const std::string& run_id, int submission, const std::string& state,
                          const std::string& reason) {
    Statement s(m_db.get(), m_file,
                "UPDATE jobs SET state = ?3, reason = CASE WHEN ?3 = 'completed' AND ?4 = '' THEN "
                "NULL ELSE COALESCE(NULLIF(?4, ''), reason) END, "
                "ended_at = CASE WHEN ?3 IN ('completed', 'failed', 'cancelled') THEN ?5 "
                "ELSE NULL END WHERE run_id = ?1 AND submission = ?2 AND state NOT IN "
                "('completed', 'failed', 'cancelled') AND (state != ?3 OR ?4 != '')",
                "cannot record the state of a job of run " + run_id);
    const std::string now = util::iso8601_utc_now();
    s.bind(1, run_id).bind(2, submission).bind(3, state).bind(4, reason);
    s.bind(5, now);
    s.run();
    return sqlite3_changes(m_db.get()) > 0;
}

bool Store::restart_job(const std::string& run_id, int submission) {
    Statement s(m_db.get(), m_file,
                "UPDATE jobs SET state = 'running', ended_at = NULL WHERE run_id = ?1 AND "
                "submission = ?2 AND state != 'cancelled'",
                "cannot record the restart of a job of run " + run_id);
    s.bind(1, run_id).bind(2, submission);
    s.run();
    return sqlite3_changes(m_db.get()) > 0;
}

void Store::count_requeue(const std::string& run_id, int submission, const std::string& reason) {
    Statement s(m_db.get(), m_file,
                "UPDATE jobs SET state = 'requeued', requeues = requeues + 1, reason = ?3 "
                "WHERE run_id = ?1 AND submission = ?2",
                "cannot record a requeue of run " + run_id);
    s.bind(1, run_id).bind(2, submission).bind(3, reason);
    s.run();
}

std::vector<JobRow> Store::jobs(const std::string& run_id) const {
    Statement s(m_db.get(), m_file,
                "SELECT " + std::string(k_job_columns) +
                    " FROM jobs WHERE run_id = ?1 ORDER BY submission",
                "cannot list the jobs of run " + run_id);
    s.bind(1, run_id);
    std::vector<JobRow> rows;
    while (s.step())
        rows.push_back(read_job(s));
    return rows;
}

std::vector<JobRow> Store::latest_jobs() const {
    Statement s(m_db.get(), m_file,
                "SELECT " + std::string(k_job_columns) +
                    " FROM jobs j WHERE submission = (SELECT MAX(submission) FROM jobs k "
                    "WHERE k.run_id = j.run_id) ORDER BY run_id",
                "cannot list jobs");
    std::vector<JobRow> rows;
    while (s.step())
        rows.push_back(read_job(s));
    return rows;
}

void Store::set_run_sweep(const std::string& run_id, const std::string& sweep) {
    Statement s(m_db.get(), m_file, "UPDATE runs SET sweep = NULLIF(?2, '') WHERE id = ?1",
                "cannot record the sweep of run " + run_id);
    s.bind(1, run_id).bind(2, sweep);
    s.run();
}

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

std::vector<std::string> Store::reap_dead_runs(const std::string& host,
                                               bool (*is_alive)(std::int64_t, std::int64_t)) {
    if (is_alive == nullptr)
        is_alive = &util::process_alive;
    return reap_dead_runs(
        [&](const OwnerProbe& p) { return p.host != host || is_alive(p.pid, p.pid_start_ticks); },
        [](const OwnerProbe& p) {
            return "process " + std::to_string(p.pid) + " on " + p.host +
                   " ended without recording an end (killed or crashed)";
        });
}

std::vector<std::string>
Store::reap_dead_runs(const std::function<bool(const OwnerProbe&)>& is_alive,
                      const std::function<std::string(const OwnerProbe&)>& reason_for) {
    std::vector<OwnerProbe> dead;
    {
        Statement s(m_db.get(), m_file,
                    "SELECT a.run_id, r.run_dir, a.attempt, a.host, a.pid, a.pid_start_ticks, "
                    "COALESCE(a.heartbeat_ms, 0) FROM attempts a JOIN runs r ON r.id = a.run_id "
                    "WHERE a.status = 'running' ORDER BY a.run_id, a.attempt",
                    "cannot look for crashed runs");
        while (s.step()) {
            OwnerProbe p;
            p.run_id = s.text(0);
            p.run_dir = s.text(1);
            p.attempt = s.int32(2);
            p.host = s.text(3);
            p.pid = s.int64(4);
            p.pid_start_ticks = s.int64(5);
            p.heartbeat_ms = s.int64(6);
            if (!is_alive(p))
                dead.push_back(std::move(p));
        }
    }
    std::vector<std::string> reaped;
    if (dead.empty())
        return reaped;
    Transaction tx(m_db.get(), m_file, "cannot mark crashed runs");
    const std::string now = util::iso8601_utc_now();
    for (const OwnerProbe& c : dead) {
        const std::string reason = reason_for(c);
        const std::string what = "cannot mark run " + c.run_id + " as crashed";
        {
            // status = 'running' again: the process may have ended properly meanwhile.
            Statement s(m_db.get(), m_file,
                        "UPDATE attempts SET status = 'crashed', ended_at = ?3, reason = ?4 "
                        "WHERE run_id = ?1 AND attempt = ?2 AND status = 'running'",
                        what);
            s.bind(1, c.run_id).bind(2, c.attempt).bind(3, now).bind(4, reason);
            s.run();
            if (sqlite3_changes(m_db.get()) == 0)
                continue;
        }
        // The run follows only its latest attempt (an older stale attempt says nothing about a
        // newer one that may be running).
        Statement s(m_db.get(), m_file,
                    "UPDATE runs SET status = 'crashed', ended_at = ?3, reason = ?4 "
                    "WHERE id = ?1 AND status = 'running' AND "
                    "?2 = (SELECT MAX(attempt) FROM attempts WHERE run_id = ?1)",
                    what);
        s.bind(1, c.run_id).bind(2, c.attempt).bind(3, now).bind(4, reason);
        s.run();
        if (sqlite3_changes(m_db.get()) == 1)
            reaped.push_back(c.run_id);
    }
    tx.commit();
    return reaped;
}

void Store::heartbeat(const std::string& run_id, int attempt) {
    Statement s(m_db.get(), m_file,
                "UPDATE attempts SET heartbeat_ms = ?3 WHERE run_id = ?1 AND attempt = ?2 AND "
                "status = 'running'",
                "cannot record the heartbeat of run " + run_id);
    s.bind(1, run_id).bind(2, attempt).bind(3, util::now_ms());
    s.run();
}

void Store::check_same_file() const {
    struct stat st {};
    const bool present = ::stat(m_file.c_str(), &st) == 0;
    if (present && static_cast<std::uint64_t>(st.st_dev) == m_dev &&
        static_cast<std::uint64_t>(st.st_ino) == m_ino)
        return;
    throw DbReplaced("the database " + m_file.string() + " was " +
                     (present ? "replaced by another file" : "deleted") +
                     " while this process used it: nothing more is recorded (it would be lost). "
                     "Put the database back (or keep the new one) and continue the run with "
                     "kakuren resume, which starts from the newest checkpoint that database "
                     "records");
}

void Store::check_integrity() const {
    std::string problems;
    try {
        Statement s(m_db.get(), m_file, "PRAGMA quick_check(5)", "cannot check the database");
        while (s.step()) {
            const std::string line = s.text(0);
            if (line != "ok")
                problems += (problems.empty() ? "" : "; ") + line;
        }
    } catch (const DbError&) {
        problems = sqlite3_errmsg(m_db.get());
    }
    if (!problems.empty())
        throw DbError("database " + m_file.string() + " is damaged (" + problems +
                      "): restore it from a backup, or recover what SQLite can with "
                      "`sqlite3 " +
                      m_file.string() + " .recover | sqlite3 recovered.db`");
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

void Store::update_run_recipe(const std::string& run_id, const std::string& recipe_text,
                              const std::string& recipe_hash, int num_epochs) {
    const std::string what = "cannot update the recipe of run " + run_id;
    Statement s(m_db.get(), m_file,
                "UPDATE runs SET recipe_text = ?2, recipe_hash = ?3, num_epochs = ?4 WHERE id = ?1",
                what);
    s.bind(1, run_id).bind(2, recipe_text).bind(3, recipe_hash).bind(4, num_epochs);
    s.run();
    if (sqlite3_changes(m_db.get()) != 1)
        throw DbError("database " + m_file.string() + ": no run with id " + run_id);
}

} // namespace kakuren::db

// The store itself: opening (and migrating) the database file, and checking that it is still the
// same, undamaged file. The tables' queries live beside it: runs.cpp, attempts.cpp, jobs.cpp,
// epochs.cpp, checkpoints.cpp (and tunes.cpp).
#include "db/store.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <utility>

#include "db/schema.hpp"
#include "db/sql.hpp"

namespace kakuren::db {

using sql::exec;
using sql::hint_for;
using sql::Statement;
using sql::Transaction;

namespace {

constexpr int k_busy_timeout_ms = 10'000;

} // namespace

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

namespace {

// Throws unless the file's folder exists and the file, if present, is not marked read-only.
void check_openable(const std::filesystem::path& file) {
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
}

// Refuses a read-only connection, then sets the busy timeout, WAL, foreign keys and sync mode.
void configure(sqlite3* db, const std::filesystem::path& file) {
    const std::string name = file.string();
    sqlite3_extended_result_codes(db, 1);
    if (sqlite3_db_readonly(db, "main") == 1)
        throw DbError("database " + name +
                      ": opened read-only (no write permission); kakuren records runs in it: "
                      "make the file and its folder writable or use another workspace");
    if (const int busy_rc = sqlite3_busy_timeout(db, k_busy_timeout_ms); busy_rc != SQLITE_OK)
        throw DbError("database " + name + ": cannot set the busy timeout: " + sqlite3_errmsg(db));

    // WAL: readers (kakuren list/show) never block the training process, nor it them.
    exec(db, file, "PRAGMA journal_mode = WAL", "cannot switch to WAL mode");
    exec(db, file, "PRAGMA foreign_keys = ON", "cannot enable foreign keys");
    exec(db, file, "PRAGMA synchronous = NORMAL", "cannot set synchronous mode");
}

// Applies the migrations the store lacks, one transaction each; refuses a newer schema.
void migrate(Store& store, const std::filesystem::path& file) {
    const std::string name = file.string();
    const int latest = Store::latest_schema_version();
    int version = store.schema_version();
    if (version > latest)
        throw DbError("database " + name + " was written by a newer kakuren (schema version " +
                      std::to_string(version) + "; this kakuren knows up to " +
                      std::to_string(latest) + "): upgrade kakuren, or use another workspace");
    while (version < latest) {
        Transaction tx(store.handle(), file,
                       "migrating to schema version " + std::to_string(version + 1));
        // Another process may have migrated between our read and the write lock.
        version = store.schema_version();
        if (version >= latest)
            break;
        const std::string what = "migrating to schema version " + std::to_string(version + 1);
        exec(store.handle(), file, k_migrations[static_cast<std::size_t>(version)], what);
        exec(store.handle(), file, "PRAGMA user_version = " + std::to_string(version + 1), what);
        tx.commit();
        ++version;
    }
}

} // namespace

Store Store::open(const std::filesystem::path& file, bool create) {
    const std::string name = file.string();
    check_openable(file);

    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(
        name.c_str(), &raw, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), nullptr);
    std::unique_ptr<sqlite3, Closer> db(raw); // closed even when opening failed
    if (rc != SQLITE_OK)
        throw DbError("database " + name + ": cannot open: " +
                      (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)) + hint_for(rc));
    configure(db.get(), file);

    Store store(std::move(db), file);
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0)
        throw DbError("database " + name + ": vanished while it was opened");
    store.m_dev = static_cast<std::uint64_t>(st.st_dev);
    store.m_ino = static_cast<std::uint64_t>(st.st_ino);
    migrate(store, file);
    return store;
}

int Store::schema_version() const {
    Statement s(m_db.get(), m_file, "PRAGMA user_version", "cannot read the schema version");
    return s.step() ? s.int32(0) : 0;
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

} // namespace kakuren::db

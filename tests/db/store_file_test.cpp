// The store's database file: schema versions and migrations, WAL and the busy timeout, readers
// and writers around a write transaction, ownership (reaping, the file deleted or replaced) and
// damage found by the integrity check. The records: store_test.cpp.
#include "db/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "store_support.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace fs = std::filesystem;
using namespace kakuren::db;
using namespace kakuren::db::store_support;

namespace {

using kakuren::testing::TempDir;

void raw_exec(sqlite3* db, const char* sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
    const std::string text = message ? message : "";
    sqlite3_free(message);
    ASSERT_EQ(rc, SQLITE_OK) << text;
}

int raw_user_version(const fs::path& file) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
    int version = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return version;
}

} // namespace

TEST(StoreSchema, FreshDatabaseHasTheLatestVersion) {
    TempDir dir;
    // The folder is the workspace: the launcher creates it (or refuses to), never the store.
    EXPECT_THROW(Store::open(dir.path() / "nested" / "kakuren.db"), DbError);
    EXPECT_FALSE(fs::exists(dir.path() / "nested"));
    const fs::path file = dir.path() / "kakuren.db";
    EXPECT_THROW(Store::open(file, false), DbError) << "create = false never creates it";
    EXPECT_FALSE(fs::exists(file));
    {
        const Store store = Store::open(file);
        EXPECT_EQ(store.schema_version(), Store::latest_schema_version());
        EXPECT_GE(Store::latest_schema_version(), 1);
        EXPECT_TRUE(store.list_runs().empty());
    }
    EXPECT_EQ(raw_user_version(file), Store::latest_schema_version());
}

TEST(StoreSchema, MigratesAnEmptyFileAndAnEmptyDatabase) {
    TempDir dir;
    const fs::path empty_file = dir.path() / "empty.db";
    std::ofstream(empty_file).close();
    EXPECT_EQ(Store::open(empty_file).schema_version(), Store::latest_schema_version());

    // A database at version 0 (created by someone else, no tables yet).
    const fs::path version0 = dir.path() / "v0.db";
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(version0.c_str(), &db), SQLITE_OK);
    raw_exec(db, "CREATE TABLE unrelated (x INTEGER)");
    sqlite3_close(db);
    Store store = Store::open(version0);
    EXPECT_EQ(store.schema_version(), Store::latest_schema_version());
    store.insert_run(make_run("r1"));
    EXPECT_TRUE(store.find_run("r1").has_value());
}

TEST(StoreSchema, SetsWalForeignKeysAndBusyTimeout) {
    TempDir dir;
    const Store store = Store::open(dir.path() / "kakuren.db");
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(store.handle(), "PRAGMA journal_mode", -1, &stmt, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
    sqlite3_finalize(stmt);
    ASSERT_EQ(sqlite3_prepare_v2(store.handle(), "PRAGMA foreign_keys", -1, &stmt, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(stmt, 0), 1);
    sqlite3_finalize(stmt);
    ASSERT_EQ(sqlite3_prepare_v2(store.handle(), "PRAGMA busy_timeout", -1, &stmt, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(stmt, 0), 10000);
    sqlite3_finalize(stmt);
}

TEST(StoreSchema, NewerDatabaseIsRefused) {
    TempDir dir;
    const fs::path file = dir.path() / "kakuren.db";
    { Store::open(file); }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    const std::string set_version =
        "PRAGMA user_version = " + std::to_string(Store::latest_schema_version() + 1);
    raw_exec(db, set_version.c_str());
    sqlite3_close(db);
    const std::string message = error_of([&] { Store::open(file); });
    EXPECT_NE(message.find("database " + file.string() + " was written by a newer kakuren"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("upgrade kakuren"), std::string::npos) << message;
}

TEST(StoreSchema, NotADatabaseIsReportedClearly) {
    TempDir dir;
    const fs::path file = dir.path() / "kakuren.db";
    std::ofstream(file) << std::string(4096, 'x');
    const std::string message = error_of([&] { Store::open(file); });
    EXPECT_NE(message.find("database " + file.string() + ": "), std::string::npos) << message;
    EXPECT_NE(message.find("not a kakuren database"), std::string::npos) << message;
}

TEST(StoreSchema, ReadOnlyFileIsRefusedWithAHint) {
    TempDir dir;
    const fs::path file = dir.path() / "kakuren.db";
    {
        Store store = Store::open(file);
        store.insert_run(make_run("r1"));
    }
    ASSERT_EQ(chmod(file.c_str(), 0444), 0);
    const std::string message = error_of([&] { Store::open(file); });
    // Refused for every user, root included (root could write through the mode bits).
    EXPECT_NE(message.find("database " + file.string() + ": the file is read-only"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("chmod u+w"), std::string::npos) << message;
    ASSERT_EQ(chmod(file.c_str(), 0644), 0);
    EXPECT_TRUE(Store::open(file).find_run("r1").has_value());
}

TEST(StoreSchema, ReopenKeepsData) {
    TempDir dir;
    const fs::path file = dir.path() / "kakuren.db";
    {
        Store store = Store::open(file);
        store.insert_run(make_run("r1"));
        store.record_epoch(make_epoch("r1", 1, 0.7, 2), make_state(10).view(),
                           std::vector<std::int64_t>{3, 4}, 10);
    }
    Store moved = Store::open(file);
    Store store = std::move(moved);
    const auto run = store.find_run("r1");
    ASSERT_TRUE(run.has_value());
    EXPECT_EQ(run->name, "fmnist-cnn");
    EXPECT_EQ(store.epochs("r1").size(), 1U);
    EXPECT_EQ(store.hidden_set("r1", 1), (std::vector<std::int64_t>{3, 4}));
}

TEST(StoreConcurrency, ReadersAndWritersWaitForAWriteTransaction) {
    TempDir dir;
    const fs::path file = dir.path() / "kakuren.db";
    Store writer = Store::open(file);
    writer.insert_run(make_run("r1"));
    Store reader = Store::open(file);

    raw_exec(writer.handle(), "BEGIN IMMEDIATE");
    raw_exec(writer.handle(), "UPDATE runs SET name = 'renamed' WHERE id = 'r1'");

    // A reader is not blocked by the writer (WAL) and sees the last committed state.
    const auto runs = reader.list_runs();
    ASSERT_EQ(runs.size(), 1U);
    EXPECT_EQ(runs[0].name, "fmnist-cnn");

    // A second writer waits on the busy timeout instead of failing with "database is locked":
    // the lock is released only once it is seen sleeping in SQLite's busy handler, and its
    // insert then goes through after the first commit.
    std::atomic<pid_t> tid{0};
    std::atomic<bool> inserted{false};
    std::thread second([&] {
        tid = static_cast<pid_t>(::syscall(SYS_gettid));
        EXPECT_NO_THROW(reader.insert_run(make_run("r2")));
        inserted = true;
    });
    const bool waiting = kakuren::testing::wait_until([&] {
        const long call = tid == 0 ? -1 : kakuren::testing::blocked_syscall(tid);
        return call == SYS_nanosleep || call == SYS_clock_nanosleep;
    });
    EXPECT_TRUE(waiting) << "the second writer never waited on the lock";
    EXPECT_FALSE(inserted.load());
    raw_exec(writer.handle(), "COMMIT");
    second.join();
    EXPECT_TRUE(inserted.load());
    EXPECT_EQ(reader.find_run("r1")->name, "renamed");
    EXPECT_EQ(reader.list_runs().size(), 2U);
    // A third connection opening meanwhile would also have waited; opening now just works.
    EXPECT_EQ(Store::open(file).list_runs().size(), 2U);
}

TEST(StoreOwnership, ReapsOnlyWhatTheProbeDeclaresGoneOnAnyHost) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    for (const char* id : {"gone", "alive", "elsewhere"})
        store.insert_run(make_run(id));
    store.begin_attempt("gone", "node1", 1, 5);
    store.begin_attempt("alive", "node1", 1, 5); // PID 1 twice: a PID says nothing here
    store.begin_attempt("elsewhere", "node2", 1, 5);
    store.heartbeat("elsewhere", 1);
    const auto beat = store.attempts("elsewhere").at(0).heartbeat_ms;
    EXPECT_GT(beat, 0);
    EXPECT_EQ(store.attempts("alive").at(0).heartbeat_ms, 0) << "none yet";
    std::vector<OwnerProbe> seen;
    const auto reaped = store.reap_dead_runs(
        [&](const OwnerProbe& p) {
            seen.push_back(p);
            return p.run_id != "gone";
        },
        [](const OwnerProbe& p) { return "owner of " + p.run_id + " is gone"; });
    EXPECT_EQ(reaped, std::vector<std::string>{"gone"});
    ASSERT_EQ(seen.size(), 3U) << "every running attempt, on every host";
    EXPECT_EQ(seen[1].run_dir, "/work/runs/elsewhere");
    EXPECT_EQ(seen[1].heartbeat_ms, beat);
    EXPECT_EQ(store.find_run("gone")->reason, "owner of gone is gone");
    EXPECT_EQ(store.find_run("alive")->status, RunStatus::running);
}

TEST(StoreOwnership, NoticesItsFileDeletedOrReplaced) {
    TempDir dir;
    const fs::path file = dir.path() / "kakuren.db";
    Store store = Store::open(file);
    EXPECT_NO_THROW(store.check_same_file());
    fs::rename(file, dir.path() / "moved.db");
    try {
        store.check_same_file();
        FAIL() << "not noticed";
    } catch (const DbReplaced& e) {
        EXPECT_NE(std::string(e.what()).find("was deleted while this process used it"),
                  std::string::npos)
            << e.what();
    }
    fs::copy_file(dir.path() / "moved.db", file); // a restored copy: another file
    try {
        store.check_same_file();
        FAIL() << "not noticed";
    } catch (const DbReplaced& e) {
        EXPECT_NE(std::string(e.what()).find("was replaced by another file"), std::string::npos)
            << e.what();
    }
}

TEST(StoreIntegrity, QuickCheckFindsGarbageInTheMiddleOfTheFile) {
    // Before: garbage in the middle of the database went unnoticed until something read it.
    TempDir dir;
    const fs::path file = dir.path() / "kakuren.db";
    {
        Store store = Store::open(file);
        for (int i = 0; i < 200; ++i)
            store.insert_run(make_run("run-" + std::to_string(i)));
        EXPECT_NO_THROW(store.check_integrity());
        raw_exec(store.handle(), "PRAGMA wal_checkpoint(TRUNCATE)");
    }
    {
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2));
        const std::string garbage(3000, '\x5a');
        f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    }
    try {
        Store store = Store::open(file);
        store.check_integrity();
        FAIL() << "the damage was not found";
    } catch (const DbError& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("damaged"), std::string::npos) << message;
        EXPECT_NE(message.find(".recover"), std::string::npos) << "what to do: " << message;
    }
}

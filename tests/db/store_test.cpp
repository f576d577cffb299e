#include "db/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>
#include <thread>

#include "support/db_rows.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace fs = std::filesystem;
using namespace kakuren::db;

namespace {

using kakuren::testing::TempDir;

RunRow make_run(const std::string& id, const std::string& created_at = "2026-11-26T15:07:22.123Z") {
    return kakuren::testing::run_row(id, created_at);
}

EpochRow make_epoch(const std::string& run_id, int epoch, double test_accuracy,
                    std::int64_t hidden) {
    EpochRow row;
    row.run_id = run_id;
    row.epoch = epoch;
    row.train_loss = 0.5 / epoch;
    row.train_accuracy = 0.8;
    row.test_loss = 0.4;
    row.test_accuracy = test_accuracy;
    row.lr = 0.05;
    row.lr_scale = 1.25;
    row.max_fraction = 0.3;
    row.visible = 10 - hidden;
    row.hidden = hidden;
    row.moved_back = 1;
    row.candidates = hidden + 1;
    row.refreshed = hidden;
    row.train_s = 1.5;
    row.hidden_pass_s = 0.25;
    row.eval_s = 0.5;
    row.total_s = 2.25;
    row.samples_per_s = 1234.5;
    row.ended_at = "2026-11-26T15:08:00.000Z";
    return row;
}

SampleState make_state(int epoch, std::int64_t n) {
    SampleState state;
    state.epoch = epoch;
    for (std::int64_t i = 0; i < n; ++i) {
        state.loss.push_back(static_cast<float>(i) * 0.25f);
        state.correct.push_back(static_cast<std::uint8_t>(i % 2));
        state.confidence.push_back(1.0f / static_cast<float>(i + 1));
    }
    return state;
}

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

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const DbError& e) {
        return e.what();
    }
    return "(no DbError)";
}

bool is_alive_never(std::int64_t, std::int64_t) {
    return false;
}
bool is_alive_unless_pid_666(std::int64_t pid, std::int64_t) {
    return pid != 666;
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
        store.record_epoch(make_epoch("r1", 1, 0.7, 2), make_state(1, 10),
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

TEST(StoreRuns, InsertAndFindRoundTrip) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    RunRow run = make_run("20261126-150722-ab12");
    run.reason = "";
    store.insert_run(run);
    const auto found = store.find_run(run.id);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->id, run.id);
    EXPECT_EQ(found->name, run.name);
    EXPECT_EQ(found->recipe_path, run.recipe_path);
    EXPECT_EQ(found->recipe_text, run.recipe_text);
    EXPECT_EQ(found->recipe_hash, run.recipe_hash);
    EXPECT_EQ(found->strategy, run.strategy);
    EXPECT_DOUBLE_EQ(found->fraction, 0.3);
    EXPECT_EQ(found->seed, 7);
    EXPECT_EQ(found->num_samples, 10);
    EXPECT_EQ(found->num_epochs, 3);
    EXPECT_EQ(found->status, RunStatus::created);
    EXPECT_EQ(found->created_at, run.created_at);
    EXPECT_EQ(found->started_at, "");
    EXPECT_EQ(found->ended_at, "");
    EXPECT_EQ(found->run_dir, run.run_dir);
    EXPECT_EQ(found->reason, "");
    EXPECT_EQ(found->epochs_done, 0);
    EXPECT_FALSE(found->final_accuracy.has_value());
    EXPECT_FALSE(found->best_accuracy.has_value());
    EXPECT_DOUBLE_EQ(found->mean_realised_fraction, 0.0);

    const std::string message = error_of([&] { store.insert_run(run); });
    EXPECT_NE(message.find("already exists"), std::string::npos) << message;
}

TEST(StoreRuns, PrefixLookup) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    for (const char* id : {"abc1", "abd2", "abd3", "xyz9"})
        store.insert_run(make_run(id));
    EXPECT_EQ(store.find_run("x")->id, "xyz9");
    EXPECT_EQ(store.find_run("abc")->id, "abc1");
    EXPECT_EQ(store.find_run("abd3")->id, "abd3");
    EXPECT_FALSE(store.find_run("q").has_value());
    EXPECT_FALSE(store.find_run("abc1x").has_value());
    EXPECT_FALSE(store.find_run("").has_value());
    // Wildcards in a prefix are plain characters.
    EXPECT_FALSE(store.find_run("a%").has_value());
    EXPECT_FALSE(store.find_run("a_c").has_value());

    const std::string message = error_of([&] { store.find_run("abd"); });
    EXPECT_EQ(message, "run id prefix 'abd' is ambiguous: it matches abd2, abd3; give more "
                       "characters of the id");
}

TEST(StoreRuns, AmbiguousPrefixListsAtMostFiveCandidates) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    for (int i = 0; i < 7; ++i)
        store.insert_run(make_run("run" + std::to_string(i)));
    store.insert_run(make_run("run")); // an exact id wins over being a prefix of others
    EXPECT_EQ(store.find_run("run")->id, "run");
    const std::string message = error_of([&] { store.find_run("ru"); });
    EXPECT_EQ(message, "run id prefix 'ru' is ambiguous: it matches run, run0, run1, run2, run3 "
                       "and 3 more; give more characters of the id");
}

TEST(StoreRuns, ListIsNewestFirstAndSetStatus) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("old", "2026-01-01T00:00:00.000Z"));
    store.insert_run(make_run("new", "2026-02-01T00:00:00.000Z"));
    store.insert_run(make_run("mid", "2026-01-15T00:00:00.000Z"));
    const auto runs = store.list_runs();
    ASSERT_EQ(runs.size(), 3U);
    EXPECT_EQ(runs[0].id, "new");
    EXPECT_EQ(runs[1].id, "mid");
    EXPECT_EQ(runs[2].id, "old");

    store.set_run_status("mid", RunStatus::failed, "data files missing");
    const auto mid = store.find_run("mid");
    EXPECT_EQ(mid->status, RunStatus::failed);
    EXPECT_EQ(mid->reason, "data files missing");
    EXPECT_FALSE(mid->ended_at.empty());
    const std::string message = error_of([&] { store.set_run_status("nope", RunStatus::failed); });
    EXPECT_NE(message.find("no run with id nope"), std::string::npos) << message;
}

TEST(StoreRuns, StatusNames) {
    for (const RunStatus s :
         {RunStatus::created, RunStatus::running, RunStatus::succeeded, RunStatus::finished,
          RunStatus::failed, RunStatus::interrupted, RunStatus::crashed})
        EXPECT_EQ(run_status_from_string(to_string(s)), s);
    EXPECT_EQ(to_string(RunStatus::interrupted), "interrupted");
    EXPECT_THROW(run_status_from_string("done"), DbError);
}

TEST(StoreAttempts, Lifecycle) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));

    EXPECT_EQ(store.begin_attempt("r1", "node1", 1234, 99), 1);
    auto run = store.find_run("r1");
    EXPECT_EQ(run->status, RunStatus::running);
    const std::string first_start = run->started_at;
    EXPECT_FALSE(first_start.empty());
    EXPECT_TRUE(run->ended_at.empty());

    store.end_attempt("r1", 1, "interrupted", "SIGUSR1 before the time limit");
    run = store.find_run("r1");
    EXPECT_EQ(run->status, RunStatus::interrupted);
    EXPECT_EQ(run->reason, "SIGUSR1 before the time limit");
    EXPECT_FALSE(run->ended_at.empty());

    EXPECT_EQ(store.begin_attempt("r1", "node2", 4321, 77), 2);
    run = store.find_run("r1");
    EXPECT_EQ(run->status, RunStatus::running);
    EXPECT_EQ(run->started_at, first_start); // the first attempt's start stays
    EXPECT_TRUE(run->ended_at.empty());
    EXPECT_TRUE(run->reason.empty());

    store.end_attempt("r1", 2, "succeeded");
    run = store.find_run("r1");
    EXPECT_EQ(run->status, RunStatus::succeeded);

    const auto attempts = store.attempts("r1");
    ASSERT_EQ(attempts.size(), 2U);
    EXPECT_EQ(attempts[0].run_id, "r1");
    EXPECT_EQ(attempts[0].attempt, 1);
    EXPECT_EQ(attempts[0].host, "node1");
    EXPECT_EQ(attempts[0].pid, 1234);
    EXPECT_EQ(attempts[0].pid_start_ticks, 99);
    EXPECT_EQ(attempts[0].status, "interrupted");
    EXPECT_EQ(attempts[0].reason, "SIGUSR1 before the time limit");
    EXPECT_FALSE(attempts[0].started_at.empty());
    EXPECT_FALSE(attempts[0].ended_at.empty());
    EXPECT_EQ(attempts[1].attempt, 2);
    EXPECT_EQ(attempts[1].host, "node2");
    EXPECT_EQ(attempts[1].status, "succeeded");
    EXPECT_EQ(attempts[1].reason, "");
}

TEST(StoreAttempts, Errors) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    EXPECT_NE(error_of([&] { store.begin_attempt("nope", "h", 1, 1); }).find("no run with id nope"),
              std::string::npos);
    store.begin_attempt("r1", "h", 1, 1);
    EXPECT_NE(error_of([&] { store.end_attempt("r1", 5, "failed"); }).find("has no attempt 5"),
              std::string::npos);
    EXPECT_NE(error_of([&] { store.end_attempt("r1", 1, "done"); }).find("unknown run status"),
              std::string::npos);
    EXPECT_NE(error_of([&] { store.end_attempt("r1", 1, "running"); }).find("cannot end attempt"),
              std::string::npos);
    EXPECT_EQ(store.attempts("r1").at(0).status, "running");
}

TEST(StoreAttempts, ReapDeadRuns) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    for (const char* id : {"dead", "alive", "other-host", "done"})
        store.insert_run(make_run(id));
    store.begin_attempt("dead", "node1", 666, 5);
    store.begin_attempt("alive", "node1", 777, 5);
    store.begin_attempt("other-host", "node2", 666, 5);
    store.begin_attempt("done", "node1", 666, 5);
    store.end_attempt("done", 1, "finished");

    const auto reaped = store.reap_dead_runs("node1", &is_alive_unless_pid_666);
    EXPECT_EQ(reaped, std::vector<std::string>{"dead"});
    const auto dead = store.find_run("dead");
    EXPECT_EQ(dead->status, RunStatus::crashed);
    EXPECT_EQ(dead->reason,
              "process 666 on node1 ended without recording an end (killed or crashed)");
    EXPECT_FALSE(dead->ended_at.empty());
    const auto attempt = store.attempts("dead").at(0);
    EXPECT_EQ(attempt.status, "crashed");
    EXPECT_EQ(attempt.reason, dead->reason);
    EXPECT_FALSE(attempt.ended_at.empty());
    EXPECT_EQ(store.find_run("alive")->status, RunStatus::running);
    EXPECT_EQ(store.find_run("other-host")->status, RunStatus::running); // not ours to judge
    EXPECT_EQ(store.find_run("done")->status, RunStatus::finished);

    // Nothing left to reap on node1 except "alive", which a never-alive check now takes.
    EXPECT_EQ(store.reap_dead_runs("node1", &is_alive_never), std::vector<std::string>{"alive"});
    EXPECT_TRUE(store.reap_dead_runs("node1", &is_alive_never).empty());
}

TEST(StoreAttempts, ReapingAStaleOldAttemptLeavesANewerOneAlone) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    store.begin_attempt("r1", "node1", 666, 1); // never ended
    store.begin_attempt("r1", "node2", 777, 1); // the requeued attempt runs elsewhere
    EXPECT_TRUE(store.reap_dead_runs("node1", &is_alive_never).empty());
    EXPECT_EQ(store.attempts("r1").at(0).status, "crashed");
    EXPECT_EQ(store.find_run("r1")->status, RunStatus::running);
}

TEST(StoreRuns, TheMetricNameIsKeptAndTheBestMaeIsTheLowest) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    RunRow mae = make_run("r-mae");
    mae.metric = "MAE";
    store.insert_run(mae);
    store.insert_run(make_run("r-acc"));
    const std::int64_t n = 10;
    for (const char* id : {"r-mae", "r-acc"}) {
        store.record_epoch(make_epoch(id, 1, 0.30, 0), make_state(1, n), {}, n);
        store.record_epoch(make_epoch(id, 2, 0.12, 0), make_state(2, n), {}, n);
        store.record_epoch(make_epoch(id, 3, 0.20, 0), make_state(3, n), {}, n);
    }
    const RunRow got_mae = *store.find_run("r-mae");
    EXPECT_EQ(got_mae.metric, "MAE");
    EXPECT_DOUBLE_EQ(*got_mae.final_accuracy, 0.20);
    EXPECT_DOUBLE_EQ(*got_mae.best_accuracy, 0.12) << "lower is better";
    const RunRow got_acc = *store.find_run("r-acc");
    EXPECT_EQ(got_acc.metric, "accuracy");
    EXPECT_DOUBLE_EQ(*got_acc.best_accuracy, 0.30);
}

TEST(StoreEpochs, RecordEpochRoundTrip) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    const std::int64_t n = 10;

    // Epoch 1: nothing hidden.
    store.record_epoch(make_epoch("r1", 1, 0.70, 0), make_state(1, n), {}, n);
    // Epoch 2: the first and the last sample.
    const std::vector<std::int64_t> ends = {0, n - 1};
    store.record_epoch(make_epoch("r1", 2, 0.80, 2), make_state(2, n), ends, n);
    // Epoch 3: everything.
    std::vector<std::int64_t> all(n);
    std::iota(all.begin(), all.end(), 0);
    SampleState last = make_state(3, n);
    last.loss[4] = std::numeric_limits<float>::infinity();
    store.record_epoch(make_epoch("r1", 3, 0.75, n), last, all, n);

    const auto epochs = store.epochs("r1");
    ASSERT_EQ(epochs.size(), 3U);
    const EpochRow expected = make_epoch("r1", 2, 0.80, 2);
    const EpochRow& got = epochs[1];
    EXPECT_EQ(got.run_id, "r1");
    EXPECT_EQ(got.epoch, 2);
    EXPECT_DOUBLE_EQ(got.train_loss, expected.train_loss);
    EXPECT_DOUBLE_EQ(got.train_accuracy, expected.train_accuracy);
    EXPECT_DOUBLE_EQ(got.test_loss, expected.test_loss);
    EXPECT_DOUBLE_EQ(got.test_accuracy, 0.80);
    EXPECT_DOUBLE_EQ(got.lr, expected.lr);
    EXPECT_DOUBLE_EQ(got.lr_scale, expected.lr_scale);
    EXPECT_DOUBLE_EQ(got.max_fraction, expected.max_fraction);
    EXPECT_EQ(got.visible, 8);
    EXPECT_EQ(got.hidden, 2);
    EXPECT_EQ(got.moved_back, 1);
    EXPECT_EQ(got.candidates, 3);
    EXPECT_EQ(got.refreshed, 2);
    EXPECT_DOUBLE_EQ(got.train_s, 1.5);
    EXPECT_DOUBLE_EQ(got.hidden_pass_s, 0.25);
    EXPECT_DOUBLE_EQ(got.eval_s, 0.5);
    EXPECT_DOUBLE_EQ(got.total_s, 2.25);
    EXPECT_DOUBLE_EQ(got.samples_per_s, 1234.5);
    EXPECT_EQ(got.ended_at, expected.ended_at);
    EXPECT_FALSE(got.comm_s.has_value()) << "an epoch recorded without it reads back as NULL";

    EXPECT_EQ(store.hidden_set("r1", 1), std::vector<std::int64_t>{});
    EXPECT_EQ(store.hidden_set("r1", 2), ends);
    EXPECT_EQ(store.hidden_set("r1", 3), all);
    EXPECT_FALSE(store.hidden_set("r1", 4).has_value());

    // The latest state replaced the earlier ones.
    const auto state = store.sample_state("r1");
    ASSERT_TRUE(state.has_value());
    EXPECT_EQ(state->epoch, 3);
    EXPECT_EQ(state->loss.size(), 10U);
    EXPECT_TRUE(std::isinf(state->loss[4]));
    EXPECT_EQ(state->loss[3], 0.75f);
    EXPECT_EQ(state->correct, last.correct);
    EXPECT_EQ(state->confidence, last.confidence);
    EXPECT_FALSE(store.sample_state("other").has_value());

    const auto run = store.find_run("r1");
    EXPECT_EQ(run->epochs_done, 3);
    EXPECT_DOUBLE_EQ(*run->final_accuracy, 0.75);
    EXPECT_DOUBLE_EQ(*run->best_accuracy, 0.80);
    EXPECT_DOUBLE_EQ(run->mean_realised_fraction, (0.0 + 2 + 10) / (10.0 * 3));
}

TEST(StoreEpochs, CommunicationTimeRoundTrips) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    EpochRow row = make_epoch("r1", 1, 0.5, 0);
    row.comm_s = 0.125; // schema v5: seconds waited on the other ranks
    store.record_epoch(row, make_state(1, 10), {}, 10);
    const auto epochs = store.epochs("r1");
    ASSERT_EQ(epochs.size(), 1U);
    ASSERT_TRUE(epochs[0].comm_s.has_value());
    EXPECT_DOUBLE_EQ(*epochs[0].comm_s, 0.125);
}

TEST(StoreEpochs, RecordingAnEpochAgainReplacesIt) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    store.record_epoch(make_epoch("r1", 1, 0.5, 1), make_state(1, 10), std::vector<std::int64_t>{5},
                       10);
    // A resumed run redoes epoch 1.
    store.record_epoch(make_epoch("r1", 1, 0.6, 2), make_state(1, 10),
                       std::vector<std::int64_t>{6, 7}, 10);
    ASSERT_EQ(store.epochs("r1").size(), 1U);
    EXPECT_DOUBLE_EQ(store.epochs("r1")[0].test_accuracy, 0.6);
    EXPECT_EQ(store.hidden_set("r1", 1), (std::vector<std::int64_t>{6, 7}));
}

TEST(StoreEpochs, OutOfRangeIdIsRejectedAndNothingIsWritten) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    store.record_epoch(make_epoch("r1", 1, 0.5, 1), make_state(1, 10), std::vector<std::int64_t>{2},
                       10);

    for (const std::int64_t bad : {std::int64_t{10}, std::int64_t{-1}}) {
        const std::vector<std::int64_t> ids = {1, bad};
        const std::string message = error_of(
            [&] { store.record_epoch(make_epoch("r1", 2, 0.9, 2), make_state(2, 10), ids, 10); });
        EXPECT_NE(
            message.find("hidden sample id " + std::to_string(bad) + " is out of range [0, 10)"),
            std::string::npos)
            << message;
        EXPECT_EQ(store.epochs("r1").size(), 1U);      // epoch 2 row rolled back
        EXPECT_EQ(store.sample_state("r1")->epoch, 1); // state of epoch 1 kept
        EXPECT_FALSE(store.hidden_set("r1", 2).has_value());
    }
    // The store is usable afterwards (no transaction left open).
    store.record_epoch(make_epoch("r1", 2, 0.9, 1), make_state(2, 10), std::vector<std::int64_t>{9},
                       10);
    EXPECT_EQ(store.epochs("r1").size(), 2U);
}

TEST(StoreEpochs, MismatchedStateAndUnknownRunAreRejected) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    SampleState short_state = make_state(1, 9);
    EXPECT_NE(error_of([&] {
                  store.record_epoch(make_epoch("r1", 1, 0.5, 0), short_state, {}, 10);
              }).find("for 10 samples"),
              std::string::npos);
    const std::string message = error_of(
        [&] { store.record_epoch(make_epoch("ghost", 1, 0.5, 0), make_state(1, 10), {}, 10); });
    EXPECT_NE(message.find("FOREIGN KEY"), std::string::npos) << message;
    EXPECT_TRUE(store.epochs("r1").empty());
}

TEST(StoreEpochs, SampleHistory) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    store.record_epoch(make_epoch("r1", 1, 0.5, 0), make_state(1, 10), {}, 10);
    store.record_epoch(make_epoch("r1", 2, 0.5, 2), make_state(2, 10),
                       std::vector<std::int64_t>{3, 9}, 10);
    store.record_epoch(make_epoch("r1", 3, 0.5, 1), make_state(3, 10), std::vector<std::int64_t>{9},
                       10);
    using History = std::vector<std::pair<int, bool>>;
    EXPECT_EQ(store.sample_history("r1", 9), (History{{1, false}, {2, true}, {3, true}}));
    EXPECT_EQ(store.sample_history("r1", 3), (History{{1, false}, {2, true}, {3, false}}));
    EXPECT_EQ(store.sample_history("r1", 0), (History{{1, false}, {2, false}, {3, false}}));
    EXPECT_TRUE(store.sample_history("other", 0).empty());
    EXPECT_NE(error_of([&] { store.sample_history("r1", 10); }).find("out of range [0, 10)"),
              std::string::npos);
}

TEST(StoreEpochs, ImageNetSizedRunStaysUsable) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    const std::int64_t n = 1'281'167;
    RunRow run = make_run("big");
    run.num_samples = n;
    store.insert_run(run);
    const SampleState state = make_state(1, n);
    std::vector<std::int64_t> hidden;
    for (std::int64_t i = 0; i < n; i += 3)
        hidden.push_back(i);
    hidden.push_back(n - 1);
    for (int epoch = 1; epoch <= 15; ++epoch)
        store.record_epoch(make_epoch("big", epoch, 0.5, static_cast<std::int64_t>(hidden.size())),
                           state, hidden, n);
    const auto history = store.sample_history("big", n - 1);
    ASSERT_EQ(history.size(), 15U);
    for (const auto& [epoch, was_hidden] : history)
        EXPECT_TRUE(was_hidden) << epoch;
    const auto history_one = store.sample_history("big", 1);
    for (const auto& [epoch, was_hidden] : history_one)
        EXPECT_FALSE(was_hidden) << epoch;
    EXPECT_EQ(store.hidden_set("big", 15)->size(), hidden.size());
    EXPECT_EQ(store.sample_state("big")->loss.size(), static_cast<std::size_t>(n));
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

TEST(StoreRuns, NumSamplesIsSetAfterInsertAndFeedsTheRealisedFraction) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    store.set_run_num_samples("r1", 8);
    EXPECT_EQ(store.find_run("r1")->num_samples, 8);
    EXPECT_THROW(store.set_run_num_samples("nope", 8), kakuren::db::DbError);
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

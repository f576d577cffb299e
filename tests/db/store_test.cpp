// The store's records: runs, attempts (and reaping dead ones), epochs with their per-sample
// state. The database file itself (schema, locking, ownership, damage): store_file_test.cpp.
#include "db/store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "store_support.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace kakuren::db;
using kakuren::util::SampleStats;
using namespace kakuren::db::store_support;

namespace {

using kakuren::testing::TempDir;

bool is_alive_never(std::int64_t, std::int64_t) {
    return false;
}
bool is_alive_unless_pid_666(std::int64_t pid, std::int64_t) {
    return pid != 666;
}

} // namespace

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
        store.record_epoch(make_epoch(id, 1, 0.30, 0), make_state(n).view(), {}, n);
        store.record_epoch(make_epoch(id, 2, 0.12, 0), make_state(n).view(), {}, n);
        store.record_epoch(make_epoch(id, 3, 0.20, 0), make_state(n).view(), {}, n);
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
    store.record_epoch(make_epoch("r1", 1, 0.70, 0), make_state(n).view(), {}, n);
    // Epoch 2: the first and the last sample.
    const std::vector<std::int64_t> ends = {0, n - 1};
    store.record_epoch(make_epoch("r1", 2, 0.80, 2), make_state(n).view(), ends, n);
    // Epoch 3: everything.
    std::vector<std::int64_t> all(n);
    std::iota(all.begin(), all.end(), 0);
    SampleStats last = make_state(n);
    last.loss()[4] = std::numeric_limits<float>::infinity();
    store.record_epoch(make_epoch("r1", 3, 0.75, n), last.view(), all, n);

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
    int state_epoch = 0;
    const auto state = store.sample_state("r1", &state_epoch);
    ASSERT_TRUE(state.has_value());
    EXPECT_EQ(state_epoch, 3);
    EXPECT_EQ(state->size(), 10U);
    EXPECT_TRUE(std::isinf(state->loss()[4]));
    EXPECT_EQ(state->loss()[3], 0.75f);
    EXPECT_TRUE(std::ranges::equal(state->correct(), last.correct()));
    EXPECT_TRUE(std::ranges::equal(state->confidence(), last.confidence()));
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
    store.record_epoch(row, make_state(10).view(), {}, 10);
    const auto epochs = store.epochs("r1");
    ASSERT_EQ(epochs.size(), 1U);
    ASSERT_TRUE(epochs[0].comm_s.has_value());
    EXPECT_DOUBLE_EQ(*epochs[0].comm_s, 0.125);
}

TEST(StoreEpochs, RecordingAnEpochAgainReplacesIt) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    store.record_epoch(make_epoch("r1", 1, 0.5, 1), make_state(10).view(),
                       std::vector<std::int64_t>{5}, 10);
    // A resumed run redoes epoch 1.
    store.record_epoch(make_epoch("r1", 1, 0.6, 2), make_state(10).view(),
                       std::vector<std::int64_t>{6, 7}, 10);
    ASSERT_EQ(store.epochs("r1").size(), 1U);
    EXPECT_DOUBLE_EQ(store.epochs("r1")[0].test_accuracy, 0.6);
    EXPECT_EQ(store.hidden_set("r1", 1), (std::vector<std::int64_t>{6, 7}));
}

TEST(StoreEpochs, OutOfRangeIdIsRejectedAndNothingIsWritten) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    store.record_epoch(make_epoch("r1", 1, 0.5, 1), make_state(10).view(),
                       std::vector<std::int64_t>{2}, 10);

    for (const std::int64_t bad : {std::int64_t{10}, std::int64_t{-1}}) {
        const std::vector<std::int64_t> ids = {1, bad};
        const std::string message = error_of([&] {
            store.record_epoch(make_epoch("r1", 2, 0.9, 2), make_state(10).view(), ids, 10);
        });
        EXPECT_NE(
            message.find("hidden sample id " + std::to_string(bad) + " is out of range [0, 10)"),
            std::string::npos)
            << message;
        EXPECT_EQ(store.epochs("r1").size(), 1U); // epoch 2 row rolled back
        int state_epoch = 0;
        EXPECT_TRUE(store.sample_state("r1", &state_epoch).has_value());
        EXPECT_EQ(state_epoch, 1); // state of epoch 1 kept
        EXPECT_FALSE(store.hidden_set("r1", 2).has_value());
    }
    // The store is usable afterwards (no transaction left open).
    store.record_epoch(make_epoch("r1", 2, 0.9, 1), make_state(10).view(),
                       std::vector<std::int64_t>{9}, 10);
    EXPECT_EQ(store.epochs("r1").size(), 2U);
}

TEST(StoreEpochs, MismatchedStateAndUnknownRunAreRejected) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    const SampleStats short_state = make_state(9);
    EXPECT_NE(error_of([&] {
                  store.record_epoch(make_epoch("r1", 1, 0.5, 0), short_state.view(), {}, 10);
              }).find("for 10 samples"),
              std::string::npos);
    const std::string message = error_of(
        [&] { store.record_epoch(make_epoch("ghost", 1, 0.5, 0), make_state(10).view(), {}, 10); });
    EXPECT_NE(message.find("FOREIGN KEY"), std::string::npos) << message;
    EXPECT_TRUE(store.epochs("r1").empty());
}

TEST(StoreEpochs, SampleHistory) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    store.record_epoch(make_epoch("r1", 1, 0.5, 0), make_state(10).view(), {}, 10);
    store.record_epoch(make_epoch("r1", 2, 0.5, 2), make_state(10).view(),
                       std::vector<std::int64_t>{3, 9}, 10);
    store.record_epoch(make_epoch("r1", 3, 0.5, 1), make_state(10).view(),
                       std::vector<std::int64_t>{9}, 10);
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
    const SampleStats state = make_state(n);
    std::vector<std::int64_t> hidden;
    for (std::int64_t i = 0; i < n; i += 3)
        hidden.push_back(i);
    hidden.push_back(n - 1);
    for (int epoch = 1; epoch <= 15; ++epoch)
        store.record_epoch(make_epoch("big", epoch, 0.5, static_cast<std::int64_t>(hidden.size())),
                           state.view(), hidden, n);
    const auto history = store.sample_history("big", n - 1);
    ASSERT_EQ(history.size(), 15U);
    for (const auto& [epoch, was_hidden] : history)
        EXPECT_TRUE(was_hidden) << epoch;
    const auto history_one = store.sample_history("big", 1);
    for (const auto& [epoch, was_hidden] : history_one)
        EXPECT_FALSE(was_hidden) << epoch;
    EXPECT_EQ(store.hidden_set("big", 15)->size(), hidden.size());
    EXPECT_EQ(store.sample_state("big")->size(), static_cast<std::size_t>(n));
}

TEST(StoreRuns, NumSamplesIsSetAfterInsertAndFeedsTheRealisedFraction) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(make_run("r1"));
    store.set_run_num_samples("r1", 8);
    EXPECT_EQ(store.find_run("r1")->num_samples, 8);
    EXPECT_THROW(store.set_run_num_samples("nope", 8), kakuren::db::DbError);
}

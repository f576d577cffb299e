// Schema version 2: the checkpoints table, its queries, and the migration of a version-1 store.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "db/schema.hpp"
#include "db/store.hpp"

#include "support/db_rows.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace kakuren::db;
using kakuren::util::SampleStats;

namespace {

using Dir = kakuren::testing::TempDir;
using kakuren::testing::run_row;

CheckpointRow checkpoint_row(const std::string& name, int epoch, std::int64_t step, bool end) {
    CheckpointRow row;
    row.run_id = "r1";
    row.name = name;
    row.epoch = epoch;
    row.step = step;
    row.epoch_end = end;
    row.attempt = 1;
    row.reason = end ? "epoch" : "steps";
    row.size_bytes = 1000 + epoch;
    if (end) {
        row.test_accuracy = 0.5 + epoch * 0.1;
    }
    row.mllog_bytes = 4000 + epoch;
    row.manifest = std::string(64, 'a') + "  model.pt\n";
    row.num_samples = 10;
    return row;
}

/// The per-sample statistics of 10 samples.
SampleStats ten_samples() {
    return {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
            {1, 0, 1, 0, 1, 0, 1, 0, 1, 0},
            {.1f, .2f, .3f, .4f, .5f, .6f, .7f, .8f, .9f, 1}};
}

TEST(CheckpointStore, RecordsListsReadsAndDeletesCheckpoints) {
    Dir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    EXPECT_EQ(store.schema_version(), Store::latest_schema_version());
    store.insert_run(run_row("r1"));
    const SampleStats state = ten_samples();
    const std::vector<std::int64_t> hidden = {1, 4, 9};
    // Recorded out of order; listed by position.
    store.record_checkpoint(checkpoint_row("0002-000003", 2, 3, false), state.view(), hidden);
    store.record_checkpoint(checkpoint_row("0001-end", 1, 0, true), state.view(), {});
    store.record_checkpoint(checkpoint_row("0002-end", 2, 0, true), state.view(), hidden);
    store.record_checkpoint(checkpoint_row("0002-000010", 2, 10, false), state.view(), hidden);

    const auto rows = store.checkpoints("r1");
    std::vector<std::string> names;
    names.reserve(rows.size());
    for (const auto& r : rows) {
        names.push_back(r.name);
    }
    EXPECT_EQ(names,
              (std::vector<std::string>{"0001-end", "0002-000003", "0002-000010", "0002-end"}));
    const CheckpointRow& end = rows.back();
    EXPECT_EQ(end.epoch, 2);
    EXPECT_TRUE(end.epoch_end);
    EXPECT_EQ(end.reason, "epoch");
    EXPECT_EQ(end.size_bytes, 1002);
    ASSERT_TRUE(end.test_accuracy.has_value());
    EXPECT_DOUBLE_EQ(*end.test_accuracy, 0.7);
    EXPECT_EQ(end.mllog_bytes, 4002);
    EXPECT_EQ(end.manifest, std::string(64, 'a') + "  model.pt\n");
    EXPECT_EQ(end.num_hidden, 3);
    EXPECT_FALSE(rows[1].test_accuracy.has_value());
    EXPECT_FALSE(end.created_at.empty());

    const auto back = store.checkpoint_state("r1", "0002-end");
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->stats, state);
    EXPECT_EQ(back->hidden_ids, hidden);
    EXPECT_FALSE(store.checkpoint_state("r1", "0009-end").has_value());

    // The same name twice is refused, and nothing is written.
    EXPECT_THROW(store.record_checkpoint(checkpoint_row("0002-end", 2, 0, true), state.view(), {}),
                 DbError);
    EXPECT_THROW(store.record_checkpoint(checkpoint_row("0003-end", 3, 0, true), state.view(),
                                         std::vector<std::int64_t>{10}),
                 DbError);
    EXPECT_EQ(store.checkpoints("r1").size(), 4U);

    store.delete_checkpoints("r1", {"0001-end", "0002-000003", "nope"});
    EXPECT_EQ(store.checkpoints("r1").size(), 2U);
}

TEST(CheckpointStore, RewindForgetsEpochsAfterACheckpoint) {
    Dir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    store.insert_run(run_row("r1"));
    for (int e = 1; e <= 3; ++e) {
        EpochRow row;
        row.run_id = "r1";
        row.epoch = e;
        const SampleStats s(std::vector<float>(10, 1.0f), std::vector<std::uint8_t>(10, 0),
                            std::vector<float>(10, 0.5f));
        store.record_epoch(row, s.view(), std::vector<std::int64_t>{2}, 10);
    }
    store.rewind_run("r1", 2);
    EXPECT_EQ(store.epochs("r1").size(), 2U);
    EXPECT_FALSE(store.hidden_set("r1", 3).has_value());
    EXPECT_TRUE(store.hidden_set("r1", 2).has_value());
    EXPECT_FALSE(store.sample_state("r1").has_value()) << "it was epoch 3's";
    store.rewind_run("r1", 0);
    EXPECT_TRUE(store.epochs("r1").empty());

    store.update_run_recipe("r1", "[run]\nseed = 2\n", "h2", 5);
    const auto run = store.find_run("r1");
    EXPECT_EQ(run->recipe_text, "[run]\nseed = 2\n");
    EXPECT_EQ(run->recipe_hash, "h2");
    EXPECT_EQ(run->num_epochs, 5);
}

TEST(CheckpointStore, AVersionOneDatabaseIsMigratedKeepingItsRuns) {
    Dir dir;
    const fs::path file = dir.path() / "kakuren.db";
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    const std::string v1(k_schema_v1);
    ASSERT_EQ(sqlite3_exec(db, v1.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "PRAGMA user_version = 1; INSERT INTO runs (id, name, recipe_path, "
                           "recipe_text, recipe_hash, strategy, fraction, seed, num_samples, "
                           "num_epochs, created_at, run_dir) VALUES ('old', 'n', '/r', 't', 'h', "
                           "'none', 0, 1, 10, 2, '2026-01-01T00:00:00.000Z', '/runs/old')",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);

    Store store = Store::open(file);
    EXPECT_EQ(store.schema_version(), Store::latest_schema_version());
    EXPECT_TRUE(store.find_run("old").has_value());
    EXPECT_TRUE(store.checkpoints("old").empty());
}

} // namespace

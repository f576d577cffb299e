// Schema version 6 (issue 23 #5): a NaN or infinite value of a REAL column is kept (as the text
// 'nan' / 'inf' / '-inf') and read back as itself, never as NULL read back as 0; the best
// accuracy is the best finite one.
#include <sqlite3.h>

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "db/store.hpp"
#include "support/db_rows.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace kakuren::db;
using kakuren::testing::TempDir;
using kakuren::util::SampleStats;

constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();
constexpr double k_inf = std::numeric_limits<double>::infinity();

EpochRow epoch_row(int epoch, double train_loss, double test_loss, double test_accuracy) {
    EpochRow row;
    row.run_id = "r1";
    row.epoch = epoch;
    row.train_loss = train_loss;
    row.test_loss = test_loss;
    row.test_accuracy = test_accuracy;
    row.lr = 0.05;
    row.lr_scale = 1;
    row.visible = 10;
    return row;
}

/// The per-sample statistics of the 10 samples (the same after every epoch).
const SampleStats k_state(std::vector<float>(10, 0.5F), std::vector<std::uint8_t>(10, 1),
                          std::vector<float>(10, 0.9F));

/// typeof(column) of epoch `epoch` of run r1, straight from SQLite.
std::string stored_type(const std::filesystem::path& file, const char* column, int epoch) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    const std::string sql = std::string("SELECT typeof(") + column + ") || ':' || " + column +
                            " FROM epochs WHERE run_id = 'r1' AND epoch = " + std::to_string(epoch);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
    std::string out = "(no row)";
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
}

TEST(StoreNonFinite, NanAndInfinityAreKeptAndReadBack) {
    TempDir dir;
    const auto file = dir.path() / "kakuren.db";
    Store store = Store::open(file);
    store.insert_run(kakuren::testing::run_row("r1"));
    store.record_epoch(epoch_row(1, 0.7, 0.6, 0.55), k_state.view(), {}, 10);
    store.record_epoch(epoch_row(2, k_nan, k_inf, 0.80), k_state.view(), {}, 10);
    store.record_epoch(epoch_row(3, -k_inf, k_nan, k_nan), k_state.view(), {}, 10);

    EXPECT_EQ(stored_type(file, "train_loss", 2), "text:nan");
    EXPECT_EQ(stored_type(file, "test_loss", 2), "text:inf");
    EXPECT_EQ(stored_type(file, "train_loss", 3), "text:-inf");
    EXPECT_EQ(stored_type(file, "train_loss", 1), "real:0.7");

    const auto epochs = store.epochs("r1");
    ASSERT_EQ(epochs.size(), 3U);
    EXPECT_DOUBLE_EQ(epochs[0].train_loss, 0.7);
    EXPECT_TRUE(std::isnan(epochs[1].train_loss));
    EXPECT_EQ(epochs[1].test_loss, k_inf);
    EXPECT_EQ(epochs[2].train_loss, -k_inf);
    EXPECT_TRUE(std::isnan(epochs[2].test_loss));

    // The last epoch's metric was NaN: the final one says so; the best is the best finite one.
    const RunRow run = *store.find_run("r1");
    ASSERT_TRUE(run.final_accuracy.has_value());
    EXPECT_TRUE(std::isnan(*run.final_accuracy));
    ASSERT_TRUE(run.best_accuracy.has_value());
    EXPECT_DOUBLE_EQ(*run.best_accuracy, 0.80);
}

TEST(StoreNonFinite, TheBestOfAnMaeRunIsTheLowestFiniteOne) {
    TempDir dir;
    Store store = Store::open(dir.path() / "kakuren.db");
    RunRow row = kakuren::testing::run_row("r1");
    row.metric = "MAE";
    store.insert_run(row);
    store.record_epoch(epoch_row(1, 0.7, 0.6, 0.30), k_state.view(), {}, 10);
    store.record_epoch(epoch_row(2, 0.6, 0.5, 0.20), k_state.view(), {}, 10);
    store.record_epoch(epoch_row(3, k_nan, k_nan, k_nan), k_state.view(), {}, 10);
    const RunRow run = *store.find_run("r1");
    EXPECT_TRUE(std::isnan(*run.final_accuracy));
    EXPECT_DOUBLE_EQ(*run.best_accuracy, 0.20);
}

} // namespace

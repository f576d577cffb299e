// runs.run_dir is stored relative to the workspace, and older absolute rows still resolve when
// the workspace was copied or moved (issue 23 #16).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

#include "db/run_paths.hpp"
#include "db/store.hpp"
#include "support/db_rows.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using kakuren::db::Store;
using kakuren::testing::TempDir;

namespace {

/// The run_dir column as stored, read through SQLite itself.
std::string stored_column(const Store& store, const std::string& id) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(store.handle(), "SELECT run_dir FROM runs WHERE id = ?1", -1,
                                 &stmt, nullptr),
              SQLITE_OK);
    sqlite3_bind_text(stmt, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
}

} // namespace

TEST(RunPaths, AFolderInsideTheWorkspaceIsStoredRelativeAndReadBackAbsolute) {
    TempDir ws;
    Store store = Store::open(ws / "kakuren.db");
    auto row = kakuren::testing::run_row("r1");
    row.run_dir = (ws / "runs" / "r1").string();
    store.insert_run(row);
    EXPECT_EQ(stored_column(store, "r1"), "runs/r1");
    EXPECT_EQ(store.find_run("r1")->run_dir, (ws / "runs" / "r1").string());
    EXPECT_EQ(store.list_runs().at(0).run_dir, (ws / "runs" / "r1").string());

    // A folder outside the workspace has only its absolute name.
    auto outside = kakuren::testing::run_row("r2");
    outside.run_dir = "/elsewhere/runs/r2";
    store.insert_run(outside);
    EXPECT_EQ(stored_column(store, "r2"), "/elsewhere/runs/r2");
}

TEST(RunPaths, ACopiedWorkspaceFindsItsOwnRunFolders) {
    TempDir root;
    const fs::path original = root / "original", copy = root / "copy";
    fs::create_directories(original / "runs" / "r1");
    {
        Store store = Store::open(original / "kakuren.db");
        auto row = kakuren::testing::run_row("r1");
        row.run_dir = (original / "runs" / "r1").string();
        store.insert_run(row);
    }
    fs::copy(original, copy, fs::copy_options::recursive);
    fs::remove_all(original);
    const Store store = Store::open(copy / "kakuren.db");
    EXPECT_EQ(store.find_run("r1")->run_dir, (copy / "runs" / "r1").string());
}

TEST(RunPaths, AnOldAbsoluteRowResolvesUnderTheWorkspaceOnlyWhenItsFolderIsGone) {
    TempDir root;
    const fs::path db = root / "ws" / "kakuren.db";
    fs::create_directories(root / "ws" / "runs" / "r1");
    fs::create_directories(root / "old" / "runs" / "r1");
    const std::string old_dir = (root / "old" / "runs" / "r1").string();
    using kakuren::db::resolved_run_dir;
    EXPECT_EQ(resolved_run_dir(db, old_dir, "r1"), old_dir) << "it exists: as it is";
    fs::remove_all(root / "old");
    EXPECT_EQ(resolved_run_dir(db, old_dir, "r1"), (root / "ws" / "runs" / "r1").string());
    EXPECT_EQ(resolved_run_dir(db, "/gone/runs/r9", "r9"), "/gone/runs/r9")
        << "nothing better under this workspace: unchanged (the message names it)";
    EXPECT_EQ(resolved_run_dir(db, "runs/r1", "r1"), (root / "ws" / "runs" / "r1").string());
}

// kakuren tune's records (db/tunes.hpp): a tune, its trials and rounds, written and read back.
#include <gtest/gtest.h>

#include "db/tunes.hpp"
#include "support/db_rows.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace kakuren::db;

TuneRow tune_row(const std::string& id) {
    TuneRow t;
    t.id = id;
    t.recipe_path = "/work/tiny.toml";
    t.recipe_text = "[run]\nseed = 1\n";
    t.budget = "24";
    t.budget_epochs = 24;
    t.eta = 2;
    t.rank_by = "work";
    return t;
}

TEST(TuneStore, ATuneItsTrialsAndRoundsRoundTrip) {
    kakuren::testing::TempDir dir;
    Store store = Store::open(dir / "kakuren.db");
    insert_tune(
        store, tune_row("tune-a-1"),
        {{0, "none", {"hiding.strategy=\"none\""}, ""},
         {1, "rotate r=0.65", {"hiding.strategy=\"rotate\"", "hiding.rotate_ratio=0.65"}, ""}});
    insert_tune_round(store, "tune-a-1", {1, 2, {0, 1}});
    store.insert_run(kakuren::testing::run_row("r1"));
    set_trial_run(store, "tune-a-1", 1, "r1");
    insert_tune_round(store, "tune-a-1", {2, 4, {1, 0}});

    const auto t = find_tune(store, "tune-a");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->id, "tune-a-1");
    EXPECT_EQ(t->rank_by, "work");
    EXPECT_EQ(t->budget_epochs, 24);
    EXPECT_EQ(t->status, "running");
    EXPECT_TRUE(t->ended_at.empty());
    const auto trials = tune_trials(store, "tune-a-1");
    ASSERT_EQ(trials.size(), 2U);
    EXPECT_EQ(trials[1].overrides,
              (std::vector<std::string>{"hiding.strategy=\"rotate\"", "hiding.rotate_ratio=0.65"}));
    EXPECT_EQ(trials[0].run_id, "");
    EXPECT_EQ(trials[1].run_id, "r1");
    const auto rounds = tune_rounds(store, "tune-a-1");
    ASSERT_EQ(rounds.size(), 2U);
    EXPECT_EQ(rounds[1].epochs, 4);
    EXPECT_EQ(rounds[1].survivors, (std::vector<int>{1, 0}));
    EXPECT_THROW(insert_tune_round(store, "tune-a-1", {2, 8, {0}}), DbError) << "decided once";

    set_tune_status(store, "tune-a-1", "done");
    EXPECT_FALSE(find_tune(store, "tune-a-1")->ended_at.empty());
    insert_tune(store, tune_row("tune-a-2"), {});
    EXPECT_THROW((void)find_tune(store, "tune-a"), AmbiguousRun);
    EXPECT_FALSE(find_tune(store, "tune-b"));
}

} // namespace

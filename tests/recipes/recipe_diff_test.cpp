// What kakuren resume compares: the changes between two resolved recipes, and which of them
// break an exact continuation.
#include "recipes/recipe_diff.hpp"

#include <gtest/gtest.h>

#include "recipes/recipe.hpp"

using kakuren::recipes::breaks_exactness;
using kakuren::recipes::changes_between;
using kakuren::recipes::describe;
using kakuren::recipes::parse;
using kakuren::recipes::to_toml;

namespace {

std::string resolved(const std::string& text) {
    return to_toml(parse(text, "x.toml"));
}

const std::string k_base = "[data]\ndataset = \"synthetic\"\n";

} // namespace

TEST(RecipeDiff, ASameRecipeHasNoChanges) {
    EXPECT_TRUE(changes_between(resolved(k_base), resolved(k_base)).empty());
}

TEST(RecipeDiff, NamesEachChangedKeyWithBothValues) {
    const auto changes = changes_between(resolved(k_base + "[schedule]\nepochs = 3\n"),
                                         resolved(k_base + "[schedule]\nepochs = 5\n"
                                                           "[run]\nseed = 7\n"));
    // Resolved values: the LR milestones that follow from the epochs change with them.
    ASSERT_EQ(changes.size(), 3U) << describe(changes);
    EXPECT_EQ(changes[0].key, "run.seed");
    EXPECT_EQ(changes[2].key, "schedule.milestones");
    EXPECT_EQ(changes[1].key, "schedule.epochs");
    EXPECT_EQ(changes[1].before, "3");
    EXPECT_EQ(changes[1].after, "5");
    EXPECT_EQ(describe({changes[1]}), "schedule.epochs (3 -> 5)");
}

TEST(RecipeDiff, AKeyTheOlderRecipeLacksIsNotAChange) {
    // A checkpoint written by an older kakuren lacks today's keys: they had their defaults.
    const std::string today = resolved(k_base);
    std::string older;
    for (std::size_t at = 0, next; at < today.size(); at = next + 1) {
        next = today.find('\n', at);
        const std::string line = today.substr(at, next - at);
        if (!line.starts_with("seed = ")) {
            older += line + "\n";
        }
    }
    ASSERT_NE(older, today);
    EXPECT_TRUE(changes_between(older, today).empty());
}

TEST(RecipeDiff, OnlyWhatGivesTheCheckpointAnotherMeaningBreaksExactness) {
    for (const char* key : {"data.dataset", "data.train_samples", "model.kind", "optimizer.kind",
                            "run.seed", "task.kind"}) {
        EXPECT_TRUE(breaks_exactness(key)) << key;
    }
    for (const char* key : {"schedule.epochs", "optimizer.lr", "hiding.strategy", "hiding.fraction",
                            "checkpoint.every_epochs", "run.threads"}) {
        EXPECT_FALSE(breaks_exactness(key)) << key;
    }
}

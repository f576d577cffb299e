// Schedule defaults that fit any run length (recipes/run_length.hpp): a recipe that shortens
// schedule.epochs without writing milestones or a warm-up loads, with the defaults scaled;
// values the user wrote stay checked.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "recipes/recipe.hpp"
#include "recipes/run_length.hpp"

namespace fs = std::filesystem;
using kakuren::recipes::parse;
using kakuren::recipes::Recipe;
using kakuren::recipes::RecipeError;
using kakuren::recipes::scale_milestones;

namespace {

const std::string k_synthetic = "[data]\ndataset = \"synthetic\"\n";

Recipe with_epochs(int epochs, const std::string& more = "") {
    return parse(k_synthetic + "[schedule]\nepochs = " + std::to_string(epochs) + "\n" + more,
                 "x.toml", {});
}

std::vector<std::string> errors_of(const std::string& text) {
    try {
        parse(text, "x.toml", {});
    } catch (const RecipeError& e) {
        return e.messages();
    }
    ADD_FAILURE() << "parsed without an error";
    return {};
}

} // namespace

// The README's main recipe, shortened on the command line as a new user does.
TEST(RunLength, TheShippedRecipeShortensWithASet) {
    const fs::path recipe = fs::path(KAKUREN_SOURCE_DIR) / "recipes/fashion_mnist_cnn.toml";
    const Recipe full = kakuren::recipes::load(recipe, {});
    EXPECT_EQ((std::vector<int>{10, 13}), full.schedule.milestones);
    EXPECT_EQ(1, full.schedule.warmup_epochs);
    const Recipe four = kakuren::recipes::load(recipe, {"schedule.epochs=4"});
    EXPECT_EQ((std::vector<int>{2, 3}), four.schedule.milestones);
    const Recipe one = kakuren::recipes::load(recipe, {"schedule.epochs=1"});
    EXPECT_EQ(0, one.schedule.warmup_epochs);
    EXPECT_TRUE(one.schedule.milestones.empty());
}

TEST(RunLength, ScaledMilestonesKeepTheirFractionOfTheRun) {
    const std::vector<int> d = {10, 13};
    EXPECT_EQ((std::vector<int>{10, 13}), scale_milestones(d, 15, 15));
    EXPECT_EQ((std::vector<int>{20, 26}), scale_milestones(d, 15, 30));
    EXPECT_EQ((std::vector<int>{5, 6}), scale_milestones(d, 15, 8));
    EXPECT_EQ((std::vector<int>{2, 3}), scale_milestones(d, 15, 4));
    // Two milestones that land on one epoch become one; none at epoch 0 or past the end.
    EXPECT_EQ((std::vector<int>{2}), scale_milestones(d, 15, 3));
    EXPECT_EQ((std::vector<int>{1}), scale_milestones(d, 15, 2));
    EXPECT_TRUE(scale_milestones(d, 15, 1).empty());
}

TEST(RunLength, AFourEpochRunLoadsWithScaledDefaultMilestones) {
    const Recipe r = with_epochs(4);
    EXPECT_EQ((std::vector<int>{2, 3}), r.schedule.milestones);
    EXPECT_EQ(1, r.schedule.warmup_epochs); // in range: unchanged
    EXPECT_EQ("default, scaled to schedule.epochs = 4", r.origins.at("schedule.milestones"));
    EXPECT_EQ("default", r.origins.at("schedule.warmup_epochs"));
    const std::string shown = kakuren::recipes::show(r);
    EXPECT_NE(
        std::string::npos,
        shown.find("schedule.milestones = [2, 3]  # default, scaled to schedule.epochs = 4\n"))
        << shown;
}

TEST(RunLength, AOneEpochRunLoadsWithNoWarmUpAndNoMilestones) {
    const Recipe r = with_epochs(1);
    EXPECT_EQ(0, r.schedule.warmup_epochs);
    EXPECT_TRUE(r.schedule.milestones.empty());
    EXPECT_EQ("default, scaled to schedule.epochs = 1", r.origins.at("schedule.warmup_epochs"));
}

TEST(RunLength, ShortenedByASetOverrideToo) {
    const Recipe r = parse(k_synthetic, "x.toml", {"schedule.epochs=1"});
    EXPECT_EQ(0, r.schedule.warmup_epochs);
    EXPECT_TRUE(r.schedule.milestones.empty());
}

TEST(RunLength, DefaultsInRangeAreNotTouched) {
    const Recipe r = with_epochs(14);
    EXPECT_EQ((std::vector<int>{10, 13}), r.schedule.milestones);
    EXPECT_EQ("default", r.origins.at("schedule.milestones"));
}

TEST(RunLength, ExplicitValuesStayCheckedAndSayHowToGetTheScaledDefaults) {
    EXPECT_EQ(std::vector<std::string>{"x.toml:5:14: error: schedule.milestones = [10, 13] is out "
                                       "of range; expected each element < schedule.epochs = 4 "
                                       "(leave schedule.milestones unset and the default ones "
                                       "scale with schedule.epochs)"},
              errors_of(k_synthetic + "[schedule]\nepochs = 4\nmilestones = [10, 13]\n"));
    EXPECT_EQ(std::vector<std::string>{"x.toml:5:17: error: schedule.warmup_epochs = 1 must be "
                                       "less than schedule.epochs = 1 (leave it unset and the "
                                       "default warm-up fits any schedule.epochs)"},
              errors_of(k_synthetic + "[schedule]\nepochs = 1\nwarmup_epochs = 1\n"));
}

TEST(RunLength, OtherScheduleKindsAndDecayFactorsKeepTheMilestones) {
    // Cosine schedules have no milestones: nothing to scale, nothing to check.
    const Recipe cosine = with_epochs(4, "kind = \"cosine\"\n");
    EXPECT_EQ("default", cosine.origins.at("schedule.milestones"));
    // decay_factors must match the milestones one to one: the user sees the mismatch instead.
    EXPECT_FALSE(
        errors_of(k_synthetic + "[schedule]\nepochs = 4\ndecay_factors = [0.5, 0.25]\n").empty());
}

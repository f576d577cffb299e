// Config validation (as data: a broken field beside the exact message), names, plan accessors.
#include "hiding/policy.hpp"
#include "stats.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace kakuren::hiding {
namespace {

using testing::Stats;

struct InvalidCase {
    std::string name;
    std::function<void(Config&)> mutate;
    std::string message;
};

const double k_nan = std::numeric_limits<double>::quiet_NaN();

const std::vector<std::string> k_all_strategies = testing::all_strategy_names();

TEST(Validate, RejectsEachInvalidFieldWithItsMessage) {
    const std::vector<InvalidCase> cases = {
        {"fraction negative", [](Config& c) { c.fraction = -0.1; },
         "hiding.fraction = -0.1 is out of range; expected 0 <= fraction < 1"},
        {"fraction one", [](Config& c) { c.fraction = 1.0; },
         "hiding.fraction = 1 is out of range; expected 0 <= fraction < 1"},
        {"fraction 1.4", [](Config& c) { c.fraction = 1.4; },
         "hiding.fraction = 1.4 is out of range; expected 0 <= fraction < 1"},
        {"fraction nan", [](Config& c) { c.fraction = k_nan; },
         "hiding.fraction = nan is out of range; expected 0 <= fraction < 1"},
        {"tau negative", [](Config& c) { c.tau = -0.5; },
         "hiding.tau = -0.5 is out of range; expected 0 <= tau <= 1"},
        {"tau above one", [](Config& c) { c.tau = 1.01; },
         "hiding.tau = 1.01 is out of range; expected 0 <= tau <= 1"},
        {"tau nan", [](Config& c) { c.tau = k_nan; },
         "hiding.tau = nan is out of range; expected 0 <= tau <= 1"},
        {"refresh zero", [](Config& c) { c.refresh_every = 0; },
         "hiding.refresh_every = 0 is out of range; expected refresh_every >= 1"},
        {"decay above one",
         [](Config& c) {
             c.fraction_decay = {1.0, 1.5};
         },
         "hiding.fraction_decay[1] = 1.5 is out of range; expected 0 <= decay <= 1"},
        {"decay negative", [](Config& c) { c.fraction_decay = {-0.2}; },
         "hiding.fraction_decay[0] = -0.2 is out of range; expected 0 <= decay <= 1"},
        {"infobatch ratio one", [](Config& c) { c.params["infobatch_ratio"] = 1.0; },
         "hiding.infobatch_ratio = 1 is out of range; expected 0 <= infobatch_ratio < 1"},
        {"infobatch delta above one", [](Config& c) { c.params["infobatch_delta"] = 1.5; },
         "hiding.infobatch_delta = 1.5 is out of range; expected 0 <= infobatch_delta <= 1"},
        {"sb beta negative", [](Config& c) { c.params["sb_beta"] = -1.0; },
         "hiding.sb_beta = -1 is out of range; expected sb_beta >= 0"},
        {"sb beta nan", [](Config& c) { c.params["sb_beta"] = k_nan; },
         "hiding.sb_beta = nan is out of range; expected sb_beta >= 0"},
        {"rotate fraction above one", [](Config& c) { c.params["rotate_fraction"] = 1.2; },
         "hiding.rotate_fraction = 1.2 is out of range; expected 0 <= rotate_fraction <= 1"},
        {"rotate ratio one", [](Config& c) { c.params["rotate_ratio"] = 1.0; },
         "hiding.rotate_ratio = 1 is out of range; expected 0 <= rotate_ratio < 1"},
        {"rotate full epochs negative", [](Config& c) { c.params["rotate_full_epochs"] = -1; },
         "hiding.rotate_full_epochs = -1 is out of range; expected rotate_full_epochs >= 0"},
        {"rotate tau above one", [](Config& c) { c.params["rotate_tau"] = 1.5; },
         "hiding.rotate_tau = 1.5 is out of range; expected 0 <= rotate_tau <= 1"},
        {"rotate full epochs not integral", [](Config& c) { c.params["rotate_full_epochs"] = 1.5; },
         "hiding.rotate_full_epochs = 1.5 is not an integer"},
        {"sb beta infinite",
         [](Config& c) { c.params["sb_beta"] = std::numeric_limits<double>::infinity(); },
         "hiding.sb_beta = inf is out of range; expected sb_beta >= 0"},
        {"unknown parameter", [](Config& c) { c.params["rotate_speed"] = 1.0; },
         "hiding.rotate_speed is not a strategy parameter; known: infobatch_ratio, "
         "infobatch_delta, sb_beta, rotate_fraction, rotate_ratio, rotate_full_epochs, "
         "rotate_tau"},
        {"shared key as a parameter", [](Config& c) { c.params["fraction"] = 0.5; },
         "hiding.fraction is not a strategy parameter; known: infobatch_ratio, "
         "infobatch_delta, sb_beta, rotate_fraction, rotate_ratio, rotate_full_epochs, "
         "rotate_tau"},
        {"unknown strategy", [](Config& c) { c.strategy = "kakurenb0"; },
         "hiding.strategy = \"kakurenb0\" is not a known strategy; expected one of none, "
         "kakurenbo, random, infobatch, iswr, selective_backprop, rotate"},
        {"unknown compensation",
         [](Config& c) { c.lr_compensation = static_cast<LrCompensation>(99); },
         "hiding.lr_compensation has an unknown value"},
    };
    for (const auto& test_case : cases) {
        for (const auto& strategy : k_all_strategies) {
            Config config;
            config.strategy = strategy;
            test_case.mutate(config);
            try {
                make_policy(config);
                ADD_FAILURE() << test_case.name << ": no exception";
            } catch (const UsageError& e) {
                EXPECT_EQ(e.what(), test_case.message) << test_case.name;
            }
        }
    }
}

TEST(Validate, AcceptsTheEdgesOfEachRange) {
    Config config;
    config.strategy = "kakurenbo";
    EXPECT_NO_THROW(validate(config)); // the defaults
    config.fraction = 0.0;
    config.tau = 0.0;
    config.refresh_every = 1;
    config.fraction_decay = {};
    EXPECT_NO_THROW(make_policy(config));
    config.fraction = 0.999;
    config.tau = 1.0;
    config.fraction_decay = {1.0, 0.0};
    EXPECT_NO_THROW(make_policy(config));
    config.params["infobatch_ratio"] = 0.0;
    config.params["infobatch_delta"] = 0.0;
    config.params["sb_beta"] = 0.0;
    config.params["rotate_fraction"] = 0.0;
    config.params["rotate_ratio"] = 0.0;
    config.params["rotate_full_epochs"] = 0;
    EXPECT_NO_THROW(make_policy(config));
    config.params["infobatch_ratio"] = 0.999;
    config.params["infobatch_delta"] = 1.0;
    config.params["rotate_fraction"] = 1.0;
    config.params["rotate_ratio"] = 0.999;
    EXPECT_NO_THROW(make_policy(config));
}

TEST(PlanEpochDeathTest, AssertsStatsOfOneLengthAndANonNegativeEpoch) {
    // The trainer's promise, not user input: a broken one aborts with a message (in every build).
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    for (const auto& strategy : k_all_strategies) {
        Config config;
        config.strategy = strategy;
        auto policy = make_policy(config);
        Stats stats = Stats::initial(4);
        stats.confidence.pop_back();
        EXPECT_DEATH(policy->plan_epoch(EpochContext{}, stats.view()),
                     "internal error: .*sample stats spans .* differ in length")
            << strategy;
        EpochContext ctx;
        ctx.epoch = -1;
        EXPECT_DEATH(policy->plan_epoch(ctx, Stats::initial(4).view()),
                     "internal error: .*negative epoch")
            << strategy;
    }
}

TEST(EpochPlan, RealisedFractionIsHiddenOverSamples) {
    EpochPlan plan;
    EXPECT_DOUBLE_EQ(plan.realised_fraction(), 0.0);
    plan.num_samples = 8;
    plan.hidden_ids = {1, 4};
    EXPECT_DOUBLE_EQ(plan.realised_fraction(), 0.25);
}

TEST(Names, StrategiesAndCompensationModes) {
    EXPECT_EQ(k_all_strategies,
              (std::vector<std::string>{"none", "kakurenbo", "random", "infobatch", "iswr",
                                        "selective_backprop", "rotate"}));
    for (const auto& strategy : k_all_strategies) {
        Config config;
        config.strategy = strategy;
        EXPECT_EQ(make_policy(config)->name(), strategy);
    }
    EXPECT_EQ(to_string(LrCompensation::scheduled), "scheduled");
    EXPECT_EQ(to_string(LrCompensation::realised), "realised");
    EXPECT_EQ(to_string(LrCompensation::off), "off");
    for (const LrCompensation c : lr_compensations()) {
        EXPECT_EQ(lr_compensation_named(to_string(c)), c);
    }
    EXPECT_EQ(lr_compensations().size(), 3U);
    EXPECT_EQ(lr_compensation_named("realized"), std::nullopt);
}

} // namespace
} // namespace kakuren::hiding

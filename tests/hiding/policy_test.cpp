// Config validation (as data: a broken field beside the exact message), names, plan accessors.
#include "hiding/policy.hpp"
#include "stats.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <stdexcept>
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

const std::vector<Strategy> k_all_strategies = {
    Strategy::none, Strategy::kakurenbo,          Strategy::random, Strategy::infobatch,
    Strategy::iswr, Strategy::selective_backprop, Strategy::rotate};

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
        {"infobatch ratio one", [](Config& c) { c.infobatch_ratio = 1.0; },
         "hiding.infobatch_ratio = 1 is out of range; expected 0 <= infobatch_ratio < 1"},
        {"infobatch delta above one", [](Config& c) { c.infobatch_delta = 1.5; },
         "hiding.infobatch_delta = 1.5 is out of range; expected 0 <= infobatch_delta <= 1"},
        {"sb beta negative", [](Config& c) { c.sb_beta = -1.0; },
         "hiding.sb_beta = -1 is out of range; expected sb_beta >= 0"},
        {"sb beta nan", [](Config& c) { c.sb_beta = k_nan; },
         "hiding.sb_beta = nan is out of range; expected sb_beta >= 0"},
        {"rotate fraction above one", [](Config& c) { c.rotate_fraction = 1.2; },
         "hiding.rotate_fraction = 1.2 is out of range; expected 0 <= rotate_fraction <= 1"},
        {"rotate ratio one", [](Config& c) { c.rotate_ratio = 1.0; },
         "hiding.rotate_ratio = 1 is out of range; expected 0 <= rotate_ratio < 1"},
        {"rotate full epochs negative", [](Config& c) { c.rotate_full_epochs = -1; },
         "hiding.rotate_full_epochs = -1 is out of range; expected rotate_full_epochs >= 0"},
        {"rotate tau above one", [](Config& c) { c.rotate_tau = 1.5; },
         "hiding.rotate_tau = 1.5 is out of range; expected 0 <= rotate_tau <= 1"},
        {"unknown strategy", [](Config& c) { c.strategy = static_cast<Strategy>(99); },
         "hiding.strategy has an unknown value"},
        {"unknown compensation",
         [](Config& c) { c.lr_compensation = static_cast<LrCompensation>(99); },
         "hiding.lr_compensation has an unknown value"},
    };
    for (const auto& test_case : cases) {
        for (auto strategy : k_all_strategies) {
            Config config;
            config.strategy = strategy;
            test_case.mutate(config);
            try {
                make_policy(config);
                ADD_FAILURE() << test_case.name << ": no exception";
            } catch (const std::invalid_argument& e) {
                EXPECT_EQ(e.what(), test_case.message) << test_case.name;
            }
        }
    }
}

TEST(Validate, AcceptsTheEdgesOfEachRange) {
    Config config;
    config.strategy = Strategy::kakurenbo;
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
    config.infobatch_ratio = 0.0;
    config.infobatch_delta = 0.0;
    config.sb_beta = 0.0;
    config.rotate_fraction = 0.0;
    config.rotate_ratio = 0.0;
    config.rotate_full_epochs = 0;
    EXPECT_NO_THROW(make_policy(config));
    config.infobatch_ratio = 0.999;
    config.infobatch_delta = 1.0;
    config.rotate_fraction = 1.0;
    config.rotate_ratio = 0.999;
    EXPECT_NO_THROW(make_policy(config));
}

TEST(PlanEpoch, RejectsStatsOfDifferentLengthsAndNegativeEpochs) {
    Config config;
    config.strategy = Strategy::kakurenbo;
    for (auto strategy : k_all_strategies) {
        config.strategy = strategy;
        auto policy = make_policy(config);
        Stats stats = Stats::initial(4);
        stats.confidence.pop_back();
        EXPECT_THROW(policy->plan_epoch(EpochContext{}, stats.view()), std::invalid_argument);
        EpochContext ctx;
        ctx.epoch = -1;
        EXPECT_THROW(policy->plan_epoch(ctx, Stats::initial(4).view()), std::invalid_argument);
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
    EXPECT_EQ(to_string(Strategy::none), "none");
    EXPECT_EQ(to_string(Strategy::kakurenbo), "kakurenbo");
    EXPECT_EQ(to_string(Strategy::random), "random");
    EXPECT_EQ(to_string(Strategy::infobatch), "infobatch");
    EXPECT_EQ(to_string(Strategy::iswr), "iswr");
    EXPECT_EQ(to_string(Strategy::selective_backprop), "selective_backprop");
    EXPECT_EQ(to_string(Strategy::rotate), "rotate");
    for (auto strategy : k_all_strategies) {
        Config config;
        config.strategy = strategy;
        EXPECT_EQ(make_policy(config)->name(), to_string(strategy));
    }
    EXPECT_EQ(to_string(LrCompensation::scheduled), "scheduled");
    EXPECT_EQ(to_string(LrCompensation::realised), "realised");
    EXPECT_EQ(to_string(LrCompensation::off), "off");
}

} // namespace
} // namespace kakuren::hiding

// rotate: KAKURENBO's candidates hidden at random with probability r, the kept ones reweighted,
// no refresh pass, full data in the last epochs.
#include "hiding/policy.hpp"
#include "stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace kakuren::hiding {
namespace {

using testing::draws;
using testing::sorted;
using testing::Stats;
using testing::weight_by_id;
using Ids = std::vector<std::int64_t>;

Config rotate(double fraction, double ratio, int full_epochs = 1) {
    Config config;
    config.strategy = "rotate";
    config.params["rotate_fraction"] = fraction;
    config.params["rotate_ratio"] = ratio;
    config.params["rotate_full_epochs"] = full_epochs;
    config.params["rotate_tau"] = 0.7;
    config.seed = 13;
    return config;
}

EpochContext at_epoch(int epoch, int num_epochs = 10) {
    EpochContext ctx;
    ctx.epoch = epoch;
    ctx.num_epochs = num_epochs;
    ctx.warmup_epochs = 1;
    return ctx;
}

// Ten samples, distinct losses: the five lowest are ids 1 (0.1), 5 (0.2), 3 (0.3), 8 (0.4), 7
// (0.5).
const std::vector<float> k_ten_losses = {0.9F, 0.1F, 0.8F, 0.3F, 0.7F,
                                         0.2F, 0.6F, 0.5F, 0.4F, 1.0F};

TEST(Rotate, HidesNothingBeforeAnySampleIsConfident) {
    const EpochPlan p =
        make_policy(rotate(0.9, 0.65))->plan_epoch(at_epoch(0), Stats::initial(10).view());
    EXPECT_TRUE(p.hidden_ids.empty());
    EXPECT_EQ(p.num_candidates, 9); // floor(0.9 * 10)
    EXPECT_EQ(p.num_moved_back, 9); // all wrong
    EXPECT_TRUE(p.train_weights.empty());
}

TEST(Rotate, HidesEligibleCandidatesWhoseDrawIsBelowTheRatioAndReweightsTheOthers) {
    Stats stats = Stats::confident(k_ten_losses);
    stats.confidence[3] = 0.5F; // a candidate, but unsure: moved back
    for (const int epoch : {1, 2, 3, 4}) {
        const EpochPlan p =
            make_policy(rotate(0.5, 0.6))->plan_epoch(at_epoch(epoch), stats.view());
        const std::vector<double> u = draws(10, 13, epoch, k_prune_stream);
        Ids hidden;
        for (std::int64_t id : {1, 5, 7, 8}) {
            if (u[static_cast<std::size_t>(id)] < 0.6) {
                hidden.push_back(id);
            }
        }
        EXPECT_EQ(p.hidden_ids, sorted(hidden)) << epoch;
        EXPECT_EQ(p.num_candidates, 5);
        EXPECT_EQ(p.num_moved_back, 1);
        EXPECT_DOUBLE_EQ(p.max_fraction, 0.6);
        const std::vector<float> w = weight_by_id(p);
        for (std::int64_t id : p.train_ids) {
            const bool eligible = id == 1 || id == 5 || id == 7 || id == 8;
            EXPECT_FLOAT_EQ(w[static_cast<std::size_t>(id)], eligible ? 2.5F : 1.0F) << id;
        }
        EXPECT_TRUE(p.refresh_ids.empty()); // refreshed by training, never by a forward pass
        EXPECT_DOUBLE_EQ(p.lr_scale, 1.0);
    }
}

TEST(Rotate, NeedsRotateTauNotKakurenbosTau) {
    Stats stats = Stats::confident(k_ten_losses);
    stats.confidence[1] = 0.8F; // confident enough for tau 0.7, not for rotate_tau 0.9
    Config config = rotate(0.5, 0.999);
    config.tau = 0.0;
    config.params["rotate_tau"] = 0.9;
    const EpochPlan p = make_policy(config)->plan_epoch(at_epoch(1), stats.view());
    EXPECT_EQ(p.num_moved_back, 1);
    EXPECT_EQ(std::count(p.hidden_ids.begin(), p.hidden_ids.end(), 1), 0);
    config.params["rotate_tau"] = 0.7;
    EXPECT_EQ(make_policy(config)->plan_epoch(at_epoch(1), stats.view()).num_moved_back, 0);
}

TEST(Rotate, RatioZeroHidesNothing) {
    const EpochPlan p = make_policy(rotate(0.5, 0.0))
                            ->plan_epoch(at_epoch(2), Stats::confident(k_ten_losses).view());
    EXPECT_TRUE(p.hidden_ids.empty());
    EXPECT_TRUE(p.train_weights.empty());
}

TEST(Rotate, TrainsTheLastEpochsOnTheFullData) {
    const Stats stats = Stats::confident(k_ten_losses);
    auto policy = make_policy(rotate(1.0, 0.99, 2));
    EXPECT_FALSE(policy->plan_epoch(at_epoch(7), stats.view()).hidden_ids.empty());
    for (const int epoch : {8, 9}) {
        const EpochPlan p = policy->plan_epoch(at_epoch(epoch), stats.view());
        EXPECT_TRUE(p.hidden_ids.empty()) << epoch;
        EXPECT_TRUE(p.train_weights.empty());
        EXPECT_DOUBLE_EQ(p.max_fraction, 0.0);
    }
}

TEST(Rotate, EveryStrategyPlansTheSameEpochTheSameWay) {
    for (const auto& strategy : testing::all_strategy_names()) {
        Config config = rotate(0.8, 0.5);
        config.strategy = strategy;
        const Stats stats = Stats::confident(k_ten_losses);
        const EpochPlan a = make_policy(config)->plan_epoch(at_epoch(3), stats.view());
        const EpochPlan b = make_policy(config)->plan_epoch(at_epoch(3), stats.view());
        EXPECT_EQ(a.train_ids, b.train_ids) << strategy;
        EXPECT_EQ(a.train_weights, b.train_weights) << strategy;
        EXPECT_EQ(a.hidden_ids, b.hidden_ids) << strategy;
        EXPECT_EQ(a.refresh_ids, b.refresh_ids) << strategy;
    }
}

} // namespace
} // namespace kakuren::hiding

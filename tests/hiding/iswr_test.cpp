// Importance sampling with replacement: a full forward pass, then N draws proportional to the
// loss, plain mean loss.
#include "hiding/policy.hpp"
#include "stats.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace kakuren::hiding {
namespace {

using testing::draws;
using testing::sorted;
using testing::Stats;
using Ids = std::vector<std::int64_t>;

Config iswr() {
    Config config;
    config.strategy = "iswr";
    config.seed = 3;
    return config;
}

EpochContext at_epoch(int epoch) {
    EpochContext ctx;
    ctx.epoch = epoch;
    ctx.num_epochs = 10;
    return ctx;
}

TEST(Iswr, AsksForAFullRefreshBeforeEveryEpochButTheFirst) {
    auto policy = make_policy(iswr());
    EXPECT_FALSE(policy->wants_full_refresh(at_epoch(0)));
    EXPECT_TRUE(policy->wants_full_refresh(at_epoch(1)));
    EXPECT_TRUE(policy->wants_full_refresh(at_epoch(9)));
    for (auto strategy :
         {"none", "kakurenbo", "random", "infobatch", "selective_backprop", "rotate"}) {
        Config config;
        config.strategy = strategy;
        EXPECT_FALSE(make_policy(config)->wants_full_refresh(at_epoch(3)));
    }
}

TEST(Iswr, FirstEpochTrainsEverySampleOnce) {
    const EpochPlan p = make_policy(iswr())->plan_epoch(at_epoch(0), Stats::initial(8).view());
    EXPECT_EQ(sorted(p.train_ids), (Ids{0, 1, 2, 3, 4, 5, 6, 7}));
    EXPECT_TRUE(p.hidden_ids.empty());
}

TEST(Iswr, DrawsNIdsByInvertingTheCumulativeLoss) {
    // Weights 1, 2, 1 (total 4): u * 4 < 1 -> id 0, < 3 -> id 1, else id 2.
    const EpochPlan p =
        make_policy(iswr())->plan_epoch(at_epoch(2), Stats::confident({1.0F, 2.0F, 1.0F}).view());
    const std::vector<double> u = draws(3, 3, 2, k_draw_stream);
    Ids expected;
    for (double x : u) {
        expected.push_back(x * 4 < 1 ? 0 : x * 4 < 3 ? 1 : 2);
    }
    EXPECT_EQ(p.train_ids, expected);
    EXPECT_TRUE(p.train_weights.empty()); // plain mean loss, no correction
    EXPECT_TRUE(p.refresh_ids.empty());
    EXPECT_DOUBLE_EQ(p.lr_scale, 1.0);
}

TEST(Iswr, NeverDrawsAZeroLossSampleAndRecordsTheUndrawnAsHidden) {
    const EpochPlan p = make_policy(iswr())->plan_epoch(
        at_epoch(1), Stats::confident({0.0F, 0.0F, 1.5F, 0.0F}).view());
    EXPECT_EQ(p.train_ids, (Ids{2, 2, 2, 2}));
    EXPECT_EQ(p.hidden_ids, (Ids{0, 1, 3}));
    EXPECT_EQ(p.num_distinct_trained(), 1);
    EXPECT_DOUBLE_EQ(p.realised_fraction(), 0.75);
}

TEST(Iswr, CountsANonFiniteLossAsTheLargestFiniteOne) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const EpochPlan p = make_policy(iswr())->plan_epoch(
        at_epoch(1), Stats::confident({0.0F, 2.0F, nan, 0.0F, inf, -1.0F}).view());
    EXPECT_EQ(p.train_ids.size(), 6U);
    for (std::int64_t id : p.train_ids) {
        EXPECT_TRUE(id == 1 || id == 2 || id == 4) << id;
    }
}

TEST(Iswr, DrawsUniformlyWhenEveryLossIsZero) {
    const EpochPlan p = make_policy(iswr())->plan_epoch(
        at_epoch(1), Stats::confident(std::vector<float>(50, 0.0F)).view());
    EXPECT_EQ(p.train_ids.size(), 50U);
    EXPECT_GT(p.num_distinct_trained(), 20); // 50 uniform draws hit about 32 of 50
}

TEST(Iswr, DrawsInProportionToTheLoss) {
    std::vector<float> losses(4000);
    for (std::size_t i = 0; i < losses.size(); ++i) {
        losses[i] = i % 2 == 0 ? 1.0F : 3.0F;
    }
    const EpochPlan p =
        make_policy(iswr())->plan_epoch(at_epoch(5), Stats::confident(losses).view());
    const auto odd = std::count_if(p.train_ids.begin(), p.train_ids.end(),
                                   [](std::int64_t id) { return id % 2 == 1; });
    const double share = static_cast<double>(odd) / 4000.0;
    EXPECT_NEAR(share, 0.75, 0.03); // 3 / (1 + 3); sd 0.007
}

} // namespace
} // namespace kakuren::hiding

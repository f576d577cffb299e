// The full-data baseline: every sample, every epoch, in a fresh order.
#include "hiding/policy.hpp"
#include "stats.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

namespace kakuren::hiding {
namespace {

using testing::sorted;
using testing::Stats;
using Ids = std::vector<std::int64_t>;

Config none() {
    Config config;
    config.strategy = "none";
    config.fraction = 0.3; // ignored by this strategy
    config.seed = 5;
    return config;
}

TEST(NonePolicy, TrainsEveryIdShuffledAndHidesNothing) {
    EpochContext ctx;
    ctx.epoch = 4;
    ctx.num_epochs = 10;
    const Stats stats = Stats::confident(std::vector<float>(50, 0.01F)); // would all be hidden
    const EpochPlan p = make_policy(none())->plan_epoch(ctx, stats.view());
    Ids all(50);
    std::iota(all.begin(), all.end(), std::int64_t{0});
    EXPECT_NE(p.train_ids, all);
    EXPECT_EQ(sorted(p.train_ids), all);
    EXPECT_TRUE(p.hidden_ids.empty());
    EXPECT_TRUE(p.refresh_ids.empty());
    EXPECT_TRUE(p.train_weights.empty());
    EXPECT_EQ(p.num_samples, 50);
    EXPECT_EQ(p.num_candidates, 0);
    EXPECT_EQ(p.num_moved_back, 0);
    EXPECT_DOUBLE_EQ(p.max_fraction, 0.0);
    EXPECT_DOUBLE_EQ(p.lr_scale, 1.0);
    EXPECT_DOUBLE_EQ(p.realised_fraction(), 0.0);
}

TEST(NonePolicy, OrderIsTheSameShuffleAsKakurenboTrainStream) {
    EpochContext ctx;
    ctx.epoch = 2;
    const EpochPlan p = make_policy(none())->plan_epoch(ctx, Stats::initial(20).view());
    Ids expected(20);
    std::iota(expected.begin(), expected.end(), std::int64_t{0});
    shuffle(expected, 5, 2, k_train_stream);
    EXPECT_EQ(p.train_ids, expected);
    ctx.epoch = 3;
    EXPECT_NE(make_policy(none())->plan_epoch(ctx, Stats::initial(20).view()).train_ids, expected);
}

TEST(NonePolicy, NoSamplesGivesAnEmptyPlan) {
    const EpochPlan p = make_policy(none())->plan_epoch(EpochContext{}, Stats::initial(0).view());
    EXPECT_TRUE(p.train_ids.empty());
    EXPECT_EQ(p.num_samples, 0);
}

TEST(NonePolicy, IsNamedNone) {
    EXPECT_EQ(make_policy(none())->name(), "none");
}

} // namespace
} // namespace kakuren::hiding

// Uniform random dynamic hiding: floor(F_e * N) random samples every epoch, KAKURENBO's LR
// compensation, no refresh.
#include "hiding/policy.hpp"
#include "stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace kakuren::hiding {
namespace {

using testing::sorted;
using testing::Stats;
using Ids = std::vector<std::int64_t>;

Config random_hiding(double fraction) {
    Config config;
    config.strategy = "random";
    config.fraction = fraction;
    config.seed = 7;
    return config;
}

EpochContext at_epoch(int epoch, std::vector<int> milestones = {}, int warmup_epochs = 0) {
    EpochContext ctx;
    ctx.epoch = epoch;
    ctx.num_epochs = 20;
    ctx.warmup_epochs = warmup_epochs;
    ctx.lr_milestones = std::move(milestones);
    return ctx;
}

Ids iota_ids(std::int64_t n) {
    Ids ids(static_cast<std::size_t>(n));
    std::iota(ids.begin(), ids.end(), std::int64_t{0});
    return ids;
}

TEST(RandomHiding, HidesTheHeadOfThePruneStreamPermutationFromTheFirstEpoch) {
    const EpochPlan p =
        make_policy(random_hiding(0.3))->plan_epoch(at_epoch(0), Stats::initial(10).view());
    Ids order = iota_ids(10);
    shuffle(order, 7, 0, k_prune_stream);
    const Ids expected = sorted(Ids(order.begin(), order.begin() + 3)); // floor(0.3 * 10)
    EXPECT_EQ(p.hidden_ids, expected);
    EXPECT_EQ(p.num_candidates, 3);
    EXPECT_EQ(p.num_moved_back, 0);
    Ids all = p.train_ids;
    all.insert(all.end(), p.hidden_ids.begin(), p.hidden_ids.end());
    EXPECT_EQ(sorted(all), iota_ids(10));
    EXPECT_TRUE(p.refresh_ids.empty());
    EXPECT_TRUE(p.train_weights.empty());
    EXPECT_DOUBLE_EQ(p.realised_fraction(), 0.3);
}

TEST(RandomHiding, IgnoresTheStatistics) {
    auto policy = make_policy(random_hiding(0.4));
    const EpochPlan a = policy->plan_epoch(at_epoch(3), Stats::initial(50).view());
    std::vector<float> losses(50);
    std::iota(losses.begin(), losses.end(), 0.0F);
    const EpochPlan b = policy->plan_epoch(at_epoch(3), Stats::confident(losses).view());
    EXPECT_EQ(a.hidden_ids, b.hidden_ids);
    EXPECT_EQ(a.train_ids, b.train_ids);
    const EpochPlan c = policy->plan_epoch(at_epoch(4), Stats::initial(50).view());
    EXPECT_NE(a.hidden_ids, c.hidden_ids); // a new draw every epoch
}

TEST(RandomHiding, FollowsTheFractionDecayAndCompensatesLikeKakurenbo) {
    Config config = random_hiding(0.5);
    config.fraction_decay = {1.0, 0.5};
    auto policy = make_policy(config);
    const Stats stats = Stats::initial(20);
    const EpochPlan warmup = policy->plan_epoch(at_epoch(0, {5}, 1), stats.view());
    EXPECT_EQ(warmup.hidden_ids.size(), 10U);
    EXPECT_DOUBLE_EQ(warmup.lr_scale, 1.0); // during warm-up
    const EpochPlan before = policy->plan_epoch(at_epoch(4, {5}, 1), stats.view());
    EXPECT_DOUBLE_EQ(before.lr_scale, 2.0); // 1 / (1 - 0.5)
    const EpochPlan after = policy->plan_epoch(at_epoch(5, {5}, 1), stats.view());
    EXPECT_EQ(after.hidden_ids.size(), 5U); // floor(0.25 * 20)
    EXPECT_DOUBLE_EQ(after.max_fraction, 0.25);
    EXPECT_DOUBLE_EQ(after.lr_scale, 1.0 / 0.75);
}

} // namespace
} // namespace kakuren::hiding

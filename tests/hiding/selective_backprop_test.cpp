// Selective Backprop at epoch level: keep with probability percentile^beta of the last loss; the
// others get the forward refresh only.
#include "hiding/policy.hpp"
#include "stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace kakuren::hiding {
namespace {

using testing::draws;
using testing::sorted;
using testing::Stats;
using Ids = std::vector<std::int64_t>;

Config selective_backprop(double beta) {
    Config config;
    config.strategy = "selective_backprop";
    config.params["sb_beta"] = beta;
    config.seed = 5;
    return config;
}

EpochContext at_epoch(int epoch) {
    EpochContext ctx;
    ctx.epoch = epoch;
    ctx.num_epochs = 10;
    ctx.warmup_epochs = 0;
    return ctx;
}

// Percentiles #{j : loss_j <= loss_i} / N: 1, 0.25, 0.75, 0.5.
const std::vector<float> k_losses = {0.4F, 0.1F, 0.3F, 0.2F};
const std::vector<double> k_percentiles = {1.0, 0.25, 0.75, 0.5};

TEST(SelectiveBackprop, KeepsEverythingWhileAllLossesAreEqual) {
    const EpochPlan p =
        make_policy(selective_backprop(1.0))->plan_epoch(at_epoch(0), Stats::initial(6).view());
    EXPECT_TRUE(p.hidden_ids.empty()); // every percentile is 1
    EXPECT_EQ(p.train_ids.size(), 6U);
}

TEST(SelectiveBackprop, KeepsASampleWhenItsDrawIsBelowPercentileToTheBeta) {
    for (const double beta : {1.0, 2.0, 50.0}) {
        for (const int epoch : {1, 2, 3}) {
            const EpochPlan p =
                make_policy(selective_backprop(beta))
                    ->plan_epoch(at_epoch(epoch), Stats::confident(k_losses).view());
            const std::vector<double> u = draws(4, 5, epoch, k_prune_stream);
            Ids hidden;
            for (std::size_t i = 0; i < 4; ++i) {
                if (!(u[i] < std::pow(k_percentiles[i], beta))) {
                    hidden.push_back(static_cast<std::int64_t>(i));
                }
            }
            EXPECT_EQ(p.hidden_ids, hidden) << beta << " " << epoch;
            EXPECT_EQ(sorted(p.refresh_ids), hidden); // forward refresh for the rest
            EXPECT_NE(std::find(p.train_ids.begin(), p.train_ids.end(), 0), p.train_ids.end())
                << "the highest loss has percentile 1 and is always kept";
            EXPECT_TRUE(p.train_weights.empty());
            EXPECT_DOUBLE_EQ(p.lr_scale, 1.0); // no LR compensation
        }
    }
}

TEST(SelectiveBackprop, BetaZeroKeepsEverySample) {
    const EpochPlan p = make_policy(selective_backprop(0.0))
                            ->plan_epoch(at_epoch(4), Stats::confident(k_losses).view());
    EXPECT_TRUE(p.hidden_ids.empty());
}

TEST(SelectiveBackprop, KeepsAboutHalfForBetaOne) {
    std::vector<float> losses(2000);
    for (std::size_t i = 0; i < losses.size(); ++i) {
        losses[i] = static_cast<float>((i * 7919) % 2000);
    }
    const EpochPlan p = make_policy(selective_backprop(1.0))
                            ->plan_epoch(at_epoch(1), Stats::confident(losses).view());
    EXPECT_NEAR(static_cast<double>(p.train_ids.size()) / 2000.0, 0.5, 0.04);
}

TEST(SelectiveBackprop, RanksANanLossAsTheHighest) {
    const EpochPlan p =
        make_policy(selective_backprop(50.0))
            ->plan_epoch(at_epoch(1), Stats::confident({std::numeric_limits<float>::quiet_NaN(),
                                                        0.1F, 0.2F, 0.3F})
                                          .view());
    EXPECT_NE(std::find(p.train_ids.begin(), p.train_ids.end(), 0), p.train_ids.end());
}

TEST(SelectiveBackprop, RefreshesOnTheRefreshSchedule) {
    Config config = selective_backprop(50.0);
    config.refresh_every = 2;
    auto policy = make_policy(config);
    const EpochPlan due = policy->plan_epoch(at_epoch(1), Stats::confident(k_losses).view());
    EXPECT_EQ(sorted(due.refresh_ids), due.hidden_ids);
    const EpochPlan not_due = policy->plan_epoch(at_epoch(2), Stats::confident(k_losses).view());
    EXPECT_FALSE(not_due.hidden_ids.empty());
    EXPECT_TRUE(not_due.refresh_ids.empty());
}

} // namespace
} // namespace kakuren::hiding

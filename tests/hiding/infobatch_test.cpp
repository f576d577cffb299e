// InfoBatch (shared/notes/hiding-methods.md): prune below-mean-loss samples with probability r,
// weight the kept ones 1/(1-r), full data from delta * epochs, no refresh.
#include "hiding/policy.hpp"
#include "stats.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace kakuren::hiding {
namespace {

using testing::draws;
using testing::sorted;
using testing::Stats;
using testing::weight_by_id;
using Ids = std::vector<std::int64_t>;

Config infobatch(double ratio = 0.5, double delta = 0.875) {
    Config config;
    config.strategy = "infobatch";
    config.params["infobatch_ratio"] = ratio;
    config.params["infobatch_delta"] = delta;
    config.seed = 11;
    return config;
}

EpochContext at_epoch(int epoch, int num_epochs = 8) {
    EpochContext ctx;
    ctx.epoch = epoch;
    ctx.num_epochs = num_epochs;
    return ctx;
}

EpochPlan plan(const Config& config, const EpochContext& ctx, const Stats& stats) {
    return make_policy(config)->plan_epoch(ctx, stats.view());
}

// Mean 0.6: ids 0-3 and 5-8 are below it, 4 and 9 above.
const std::vector<float> k_losses = {0.1F, 0.2F, 0.3F, 0.4F, 2.0F, 0.1F, 0.2F, 0.3F, 0.4F, 2.0F};

TEST(InfoBatch, FirstEpochIsFullBecauseEveryScoreIsEqual) {
    const EpochPlan p = plan(infobatch(), at_epoch(0), Stats::initial(10));
    EXPECT_TRUE(p.hidden_ids.empty());
    EXPECT_EQ(p.train_ids.size(), 10U);
    EXPECT_TRUE(p.train_weights.empty());
    EXPECT_EQ(p.num_candidates, 0);
}

TEST(InfoBatch, PrunesBelowMeanSamplesWhoseDrawIsBelowRAndDoublesTheRest) {
    const EpochPlan p = plan(infobatch(0.5), at_epoch(1), Stats::confident(k_losses));
    const std::vector<double> u = draws(10, 11, 1, k_prune_stream);
    Ids expected_hidden;
    for (std::int64_t i : {0, 1, 2, 3, 5, 6, 7, 8}) {
        if (u[static_cast<std::size_t>(i)] < 0.5) {
            expected_hidden.push_back(i);
        }
    }
    ASSERT_FALSE(expected_hidden.empty()); // the case is informative for seed 11
    ASSERT_LT(expected_hidden.size(), 8U);
    EXPECT_EQ(p.hidden_ids, expected_hidden);
    EXPECT_EQ(p.num_candidates, 8);
    EXPECT_EQ(p.num_moved_back, 8 - static_cast<std::int64_t>(expected_hidden.size()));
    EXPECT_DOUBLE_EQ(p.max_fraction, 0.5);
    const std::vector<float> w = weight_by_id(p);
    for (std::int64_t id : p.train_ids) {
        const bool above_mean = id == 4 || id == 9;
        EXPECT_FLOAT_EQ(w[static_cast<std::size_t>(id)], above_mean ? 1.0F : 2.0F) << id;
    }
    EXPECT_EQ(p.train_weights.size(), p.train_ids.size());
    EXPECT_TRUE(p.refresh_ids.empty()); // pruned samples keep stale scores
    EXPECT_DOUBLE_EQ(p.lr_scale, 1.0);
}

TEST(InfoBatch, NeverPrunesAboveMeanSamples) {
    const EpochPlan p = plan(infobatch(0.999), at_epoch(2), Stats::confident(k_losses));
    for (std::int64_t id : p.hidden_ids) {
        EXPECT_NE(id, 4);
        EXPECT_NE(id, 9);
    }
    EXPECT_FLOAT_EQ(weight_by_id(p)[4], 1.0F);
}

TEST(InfoBatch, RatioZeroPrunesNothingAndWeighsNothing) {
    const EpochPlan p = plan(infobatch(0.0), at_epoch(1), Stats::confident(k_losses));
    EXPECT_TRUE(p.hidden_ids.empty());
    EXPECT_TRUE(p.train_weights.empty());
    EXPECT_EQ(p.num_candidates, 8);
    EXPECT_EQ(p.num_moved_back, 8);
}

TEST(InfoBatch, TrainsOnTheFullDataFromDeltaTimesEpochs) {
    // 0.875 * 8 = 7: epoch 6 still prunes, epoch 7 (the last) is full.
    const Stats stats = Stats::confident(k_losses);
    EXPECT_EQ(plan(infobatch(0.999), at_epoch(6), stats).num_candidates, 8);
    const EpochPlan last = plan(infobatch(0.999), at_epoch(7), stats);
    EXPECT_TRUE(last.hidden_ids.empty());
    EXPECT_TRUE(last.train_weights.empty());
    EXPECT_EQ(last.num_candidates, 0);
    EXPECT_DOUBLE_EQ(last.max_fraction, 0.0);
    EXPECT_TRUE(plan(infobatch(0.999, 0.0), at_epoch(1), stats).hidden_ids.empty());
}

TEST(InfoBatch, LeavesNonFiniteScoresOutOfTheMeanAndKeepsThem) {
    // Finite mean (0.1 + 0.3) / 2 = 0.2: only id 0 is below it.
    Stats stats = Stats::confident({0.1F, std::numeric_limits<float>::quiet_NaN(), 0.3F,
                                    std::numeric_limits<float>::infinity()});
    const EpochPlan p = plan(infobatch(0.999), at_epoch(1), stats);
    EXPECT_EQ(p.num_candidates, 1);
    const bool pruned = draws(4, 11, 1, k_prune_stream)[0] < 0.999;
    EXPECT_EQ(p.hidden_ids, pruned ? Ids{0} : Ids{});
    EXPECT_EQ(sorted(p.train_ids), pruned ? (Ids{1, 2, 3}) : (Ids{0, 1, 2, 3}));
}

TEST(InfoBatch, KeepsTheTrainingOrderOfTheTrainStream) {
    const EpochPlan p = plan(infobatch(0.0), at_epoch(3), Stats::confident(k_losses));
    Ids expected = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    shuffle(expected, 11, 3, k_train_stream);
    EXPECT_EQ(p.train_ids, expected);
}

} // namespace
} // namespace kakuren::hiding

// KAKURENBO's epoch plan, one rule per test, on small hand-computed cases
// (shared/notes/hiding-methods.md is the spec).
#include "hiding/policy.hpp"
#include "stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace kakuren::hiding {
namespace {

using testing::sorted;
using testing::Stats;
using Ids = std::vector<std::int64_t>;

Config kakurenbo(double fraction) {
    Config config;
    config.strategy = "kakurenbo";
    config.fraction = fraction;
    config.tau = 0.7;
    config.seed = 11;
    return config;
}

EpochContext at_epoch(int epoch, std::vector<int> milestones = {}, int num_epochs = 200,
                      int warmup_epochs = 0) {
    EpochContext ctx;
    ctx.epoch = epoch;
    ctx.num_epochs = num_epochs;
    ctx.warmup_epochs = warmup_epochs;
    ctx.lr_milestones = std::move(milestones);
    return ctx;
}

EpochPlan plan(const Config& config, const EpochContext& ctx, const Stats& stats) {
    return make_policy(config)->plan_epoch(ctx, stats.view());
}

Ids all_but(std::int64_t n, const Ids& excluded) {
    Ids ids;
    for (std::int64_t i = 0; i < n; ++i) {
        if (std::find(excluded.begin(), excluded.end(), i) == excluded.end()) {
            ids.push_back(i);
        }
    }
    return ids;
}

// Ten samples, distinct losses; the three lowest are ids 1 (0.1), 5 (0.2), 3 (0.3).
const std::vector<float> k_ten_losses = {0.9F, 0.1F, 0.8F, 0.3F, 0.7F,
                                         0.2F, 0.6F, 0.5F, 0.4F, 1.0F};

TEST(Kakurenbo, HidesTheFloorOfFTimesNLowestLossCandidates) {
    const Stats stats = Stats::confident(k_ten_losses);
    for (double fraction : {0.3, 0.35, 0.39}) {
        const EpochPlan p = plan(kakurenbo(fraction), at_epoch(1), stats);
        EXPECT_EQ(p.num_samples, 10);
        EXPECT_EQ(p.num_candidates, 3) << fraction;
        EXPECT_EQ(p.num_moved_back, 0);
        EXPECT_EQ(p.hidden_ids, (Ids{1, 3, 5}));
        EXPECT_EQ(sorted(p.train_ids), all_but(10, {1, 3, 5}));
        EXPECT_DOUBLE_EQ(p.max_fraction, fraction);
        EXPECT_DOUBLE_EQ(p.realised_fraction(), 0.3);
        EXPECT_TRUE(p.train_weights.empty());
    }
}

TEST(Kakurenbo, BreaksLossTiesByLowerIndex) {
    Stats stats = Stats::confident(std::vector<float>(10, 0.5F));
    stats.loss[9] = 0.1F;
    const EpochPlan p = plan(kakurenbo(0.3), at_epoch(1), stats);
    EXPECT_EQ(p.hidden_ids, (Ids{0, 1, 9}));
}

TEST(Kakurenbo, WrongCandidateMovesBackAndItsSlotIsNotRefilled) {
    Stats stats = Stats::confident(k_ten_losses);
    stats.correct[3] = 0;
    const EpochPlan p = plan(kakurenbo(0.3), at_epoch(1), stats);
    EXPECT_EQ(p.num_candidates, 3);
    EXPECT_EQ(p.num_moved_back, 1);
    // Id 8 (0.4, the next lowest) is not pulled in to fill the slot.
    EXPECT_EQ(p.hidden_ids, (Ids{1, 5}));
    EXPECT_EQ(sorted(p.train_ids), all_but(10, {1, 5}));
    EXPECT_DOUBLE_EQ(p.realised_fraction(), 0.2);
    EXPECT_LT(p.realised_fraction(), p.max_fraction);
}

TEST(Kakurenbo, ConfidenceJustBelowTauMovesBackExactlyAtTauHides) {
    Stats stats = Stats::confident(k_ten_losses);
    stats.confidence[1] = std::nextafter(0.7F, 0.0F);
    stats.confidence[5] = 0.7F; // tau = 0.7 as written in a recipe
    stats.confidence[3] = 0.95F;
    const EpochPlan p = plan(kakurenbo(0.3), at_epoch(1), stats);
    EXPECT_EQ(p.num_moved_back, 1);
    EXPECT_EQ(p.hidden_ids, (Ids{3, 5}));
}

TEST(Kakurenbo, MaximumFractionDecaysAtLrMilestones) {
    std::vector<float> losses(100);
    std::iota(losses.begin(), losses.end(), 0.0F);
    const Stats stats = Stats::confident(losses);
    const std::vector<int> milestones = {10, 13};
    const EpochPlan before = plan(kakurenbo(0.3), at_epoch(9, milestones), stats);
    const EpochPlan first = plan(kakurenbo(0.3), at_epoch(10, milestones), stats);
    const EpochPlan second = plan(kakurenbo(0.3), at_epoch(13, milestones), stats);
    EXPECT_DOUBLE_EQ(before.max_fraction, 0.3);
    EXPECT_EQ(before.hidden_ids.size(), 30U);
    EXPECT_DOUBLE_EQ(first.max_fraction, 0.24);
    EXPECT_EQ(first.num_candidates, 24);
    EXPECT_EQ(first.hidden_ids.size(), 24U);
    EXPECT_DOUBLE_EQ(second.max_fraction, 0.18);
    EXPECT_EQ(second.hidden_ids.size(), 18U);
}

TEST(Kakurenbo, LrScaleFollowsCompensationModeAfterWarmUp) {
    Stats stats = Stats::confident(k_ten_losses);
    stats.correct[3] = 0; // 2 of 10 hidden: realised 0.2
    Config config = kakurenbo(0.3);
    const int warmup = 1;
    config.lr_compensation = LrCompensation::scheduled;
    const EpochPlan warm = plan(config, at_epoch(0, {}, 200, warmup), stats);
    EXPECT_DOUBLE_EQ(warm.lr_scale, 1.0);
    EXPECT_EQ(warm.hidden_ids.size(), 2U); // hiding itself runs during warm-up
    EXPECT_DOUBLE_EQ(plan(config, at_epoch(1, {}, 200, warmup), stats).lr_scale, 1.0 / 0.7);
    config.lr_compensation = LrCompensation::realised;
    EXPECT_DOUBLE_EQ(plan(config, at_epoch(0, {}, 200, warmup), stats).lr_scale, 1.0);
    EXPECT_DOUBLE_EQ(plan(config, at_epoch(1, {}, 200, warmup), stats).lr_scale, 1.0 / 0.8);
    config.lr_compensation = LrCompensation::off;
    EXPECT_DOUBLE_EQ(plan(config, at_epoch(1, {}, 200, warmup), stats).lr_scale, 1.0);
}

TEST(Kakurenbo, ZeroFractionHidesNothing) {
    const EpochPlan p = plan(kakurenbo(0.0), at_epoch(5), Stats::confident(k_ten_losses));
    EXPECT_EQ(p.num_candidates, 0);
    EXPECT_TRUE(p.hidden_ids.empty());
    EXPECT_TRUE(p.refresh_ids.empty());
    EXPECT_EQ(sorted(p.train_ids), all_but(10, {}));
    EXPECT_DOUBLE_EQ(p.lr_scale, 1.0);
    EXPECT_DOUBLE_EQ(p.realised_fraction(), 0.0);
}

TEST(Kakurenbo, EpochZeroWithInitialStatsHidesNothing) {
    const EpochPlan p = plan(kakurenbo(0.3), at_epoch(0), Stats::initial(10));
    EXPECT_EQ(p.num_candidates, 3);
    EXPECT_EQ(p.num_moved_back, 3);
    EXPECT_TRUE(p.hidden_ids.empty());
    EXPECT_EQ(sorted(p.train_ids), all_but(10, {}));
}

TEST(Kakurenbo, FractionCloseToOneLeavesOneSampleOfAHundred) {
    std::vector<float> losses(100);
    std::iota(losses.begin(), losses.end(), 0.0F);
    Config config = kakurenbo(0.99);
    const EpochPlan p = plan(config, at_epoch(1), Stats::confident(losses));
    EXPECT_EQ(p.num_candidates, 99);
    EXPECT_EQ(p.hidden_ids.size(), 99U);
    EXPECT_EQ(p.train_ids, (Ids{99})); // the highest loss
    EXPECT_NEAR(p.lr_scale, 100.0, 1e-9);
    config.lr_compensation = LrCompensation::realised;
    EXPECT_NEAR(plan(config, at_epoch(1), Stats::confident(losses)).lr_scale, 100.0, 1e-9);
}

TEST(Kakurenbo, NoSamplesGivesAnEmptyPlan) {
    for (auto mode : {LrCompensation::scheduled, LrCompensation::realised, LrCompensation::off}) {
        Config config = kakurenbo(0.3);
        config.lr_compensation = mode;
        const EpochPlan p = plan(config, at_epoch(3), Stats::initial(0));
        EXPECT_EQ(p.num_samples, 0);
        EXPECT_EQ(p.num_candidates, 0);
        EXPECT_TRUE(p.train_ids.empty());
        EXPECT_TRUE(p.hidden_ids.empty());
        EXPECT_TRUE(p.refresh_ids.empty());
        EXPECT_DOUBLE_EQ(p.realised_fraction(), 0.0);
        EXPECT_TRUE(std::isfinite(p.lr_scale));
    }
}

Stats random_stats(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    Stats stats = Stats::initial(n);
    for (std::size_t i = 0; i < n; ++i) {
        stats.loss[i] = static_cast<float>(gen() % 50) / 10.0F; // ties on purpose
        stats.correct[i] = static_cast<std::uint8_t>(gen() % 4 != 0);
        stats.confidence[i] = static_cast<float>(gen() % 1001) / 1000.0F;
    }
    return stats;
}

TEST(Kakurenbo, EveryIdAppearsExactlyOnceAcrossTrainAndHidden) {
    const Stats stats = random_stats(1000, 3);
    for (int epoch = 0; epoch < 5; ++epoch) {
        const EpochPlan p = plan(kakurenbo(0.4), at_epoch(epoch, {2}), stats);
        EXPECT_TRUE(std::is_sorted(p.hidden_ids.begin(), p.hidden_ids.end()));
        Ids all = p.train_ids;
        all.insert(all.end(), p.hidden_ids.begin(), p.hidden_ids.end());
        EXPECT_EQ(sorted(all), all_but(1000, {}));
        EXPECT_EQ(sorted(p.refresh_ids), p.hidden_ids); // refresh_every = 1: all hidden
        EXPECT_EQ(p.num_candidates,
                  static_cast<std::int64_t>(p.hidden_ids.size()) + p.num_moved_back);
        EXPECT_GT(p.hidden_ids.size(), 0U);
    }
}

TEST(Kakurenbo, SameInputsGiveTheSamePlanAndAnotherEpochAnotherOrder) {
    const Stats stats = random_stats(500, 4);
    const EpochPlan a = plan(kakurenbo(0.3), at_epoch(7), stats);
    const EpochPlan b = make_policy(kakurenbo(0.3))->plan_epoch(at_epoch(7), stats.view());
    EXPECT_EQ(a.train_ids, b.train_ids);
    EXPECT_EQ(a.hidden_ids, b.hidden_ids);
    EXPECT_EQ(a.refresh_ids, b.refresh_ids);
    EXPECT_DOUBLE_EQ(a.lr_scale, b.lr_scale);

    const EpochPlan next = plan(kakurenbo(0.3), at_epoch(8), stats);
    EXPECT_EQ(next.hidden_ids, a.hidden_ids); // same stats, same rule
    EXPECT_NE(next.train_ids, a.train_ids);
    EXPECT_NE(next.refresh_ids, a.refresh_ids);

    Config reseeded = kakurenbo(0.3);
    reseeded.seed = 12;
    EXPECT_NE(plan(reseeded, at_epoch(7), stats).train_ids, a.train_ids);
}

TEST(Kakurenbo, RefreshEveryKRunsOnEveryKthEpochAndTheLast) {
    Config config = kakurenbo(0.3);
    config.refresh_every = 3;
    const Stats stats = Stats::confident(k_ten_losses);
    for (int epoch = 0; epoch < 10; ++epoch) {
        const EpochPlan p = plan(config, at_epoch(epoch, {}, 10), stats);
        ASSERT_EQ(p.hidden_ids, (Ids{1, 3, 5})) << epoch;
        const bool due = epoch == 2 || epoch == 5 || epoch == 8 || epoch == 9;
        if (due) {
            EXPECT_EQ(sorted(p.refresh_ids), p.hidden_ids) << epoch;
        } else {
            EXPECT_TRUE(p.refresh_ids.empty()) << epoch;
        }
    }
}

TEST(Kakurenbo, NanLossIsNeverHidden) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const Stats stats = Stats::confident({nan, 0.1F, 0.2F, 0.3F, nan, 0.4F, 0.5F, nan, 0.6F, 0.7F});
    // 5 candidates: the five lowest finite losses.
    const EpochPlan half = plan(kakurenbo(0.5), at_epoch(1), stats);
    EXPECT_EQ(half.hidden_ids, (Ids{1, 2, 3, 5, 6}));
    // 9 candidates: all 7 finite plus NaN ids 0 and 4 (NaN ranks as +inf, ties by index),
    // and the NaN ones are moved back.
    const EpochPlan most = plan(kakurenbo(0.9), at_epoch(1), stats);
    EXPECT_EQ(most.num_candidates, 9);
    EXPECT_EQ(most.num_moved_back, 2);
    EXPECT_EQ(most.hidden_ids, (Ids{1, 2, 3, 5, 6, 8, 9}));
    EXPECT_EQ(sorted(most.train_ids), (Ids{0, 4, 7}));
}

// With softmax outputs, loss = -ln p_label and confidence = max_c p_c. For tau > 0.5,
// "correct and confidence >= tau" holds exactly when p_label >= tau, i.e. loss <= -ln tau.
TEST(Kakurenbo, HiddenSetEqualsCandidatesWithLossAtMostMinusLnTau) {
    const std::size_t n = 5000;
    const std::size_t num_classes = 10;
    std::mt19937_64 gen(2023);
    auto uniform = [&] { return static_cast<double>(gen() >> 11) * 0x1.0p-53; };
    Stats stats = Stats::initial(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double scale = 10.0 * uniform();
        std::vector<double> logits(num_classes);
        for (auto& logit : logits) {
            logit = scale * (2.0 * uniform() - 1.0);
        }
        const std::size_t label = gen() % num_classes;
        logits[label] += 2.0 * uniform(); // bias towards the label: many correct samples
        const double top = *std::max_element(logits.begin(), logits.end());
        double sum = 0.0;
        for (const double logit : logits) {
            sum += std::exp(logit - top);
        }
        const auto argmax = static_cast<std::size_t>(
            std::max_element(logits.begin(), logits.end()) - logits.begin());
        const double p_label = std::exp(logits[label] - top) / sum;
        stats.loss[i] = static_cast<float>(-std::log(p_label));
        stats.correct[i] = static_cast<std::uint8_t>(argmax == label);
        stats.confidence[i] = static_cast<float>(1.0 / sum); // exp(top - top) / sum
    }
    for (double tau : {0.6, 0.7, 0.9}) {
        Config config = kakurenbo(0.5);
        config.tau = tau;
        const EpochPlan p = plan(config, at_epoch(1), stats);
        const Ids candidates = lowest_k(stats.loss, p.num_candidates);
        Ids expected;
        for (const std::int64_t id : candidates) {
            if (stats.loss[static_cast<std::size_t>(id)] <= -std::log(tau)) {
                expected.push_back(id);
            }
        }
        EXPECT_EQ(p.hidden_ids, expected) << "tau " << tau;
        EXPECT_GT(expected.size(), 50U) << "tau " << tau; // the check is not vacuous
        EXPECT_GT(p.num_moved_back, 100) << "tau " << tau;
    }
}

TEST(Kakurenbo, IsNamedKakurenbo) {
    EXPECT_EQ(make_policy(kakurenbo(0.3))->name(), "kakurenbo");
}

} // namespace
} // namespace kakuren::hiding

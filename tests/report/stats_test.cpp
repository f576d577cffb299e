// The statistics behind the headline, with numbers checkable by hand: the 95% t-interval over
// seeds and the timing-noise flags (identical work, different seconds).
#include "report/stats.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "report/groups.hpp"
#include "report/render_common.hpp"

using namespace kakuren;
using report::t_interval_95;

TEST(TInterval, StudentQuantilesFromTheTable) {
    EXPECT_DOUBLE_EQ(report::t_quantile_975(1), 12.706);
    EXPECT_DOUBLE_EQ(report::t_quantile_975(2), 4.303);
    EXPECT_DOUBLE_EQ(report::t_quantile_975(4), 2.776);
    EXPECT_DOUBLE_EQ(report::t_quantile_975(30), 2.042);
    EXPECT_NEAR(report::t_quantile_975(1000), 1.962, 0.001) << "tends to the normal 1.96";
    EXPECT_GT(report::t_quantile_975(31), report::t_quantile_975(1000));
    EXPECT_LT(report::t_quantile_975(31), report::t_quantile_975(30));
    EXPECT_THROW(report::t_quantile_975(0), std::invalid_argument);
}

TEST(TInterval, MeanPlusMinusTTimesStandardError) {
    // 1, 2, 3: mean 2, s = 1, half width = 4.303 * 1 / sqrt(3) = 2.4843...
    const auto three = t_interval_95({1, 2, 3});
    EXPECT_EQ(three.n, 3);
    EXPECT_DOUBLE_EQ(three.mean, 2.0);
    ASSERT_TRUE(three.half_width);
    EXPECT_NEAR(*three.half_width, 2.48434, 1e-5);
    EXPECT_NEAR(three.low(), 2.0 - 2.48434, 1e-5);
    EXPECT_NEAR(three.high(), 2.0 + 2.48434, 1e-5);
    // 10, 12, 14, 16: mean 13, s = sqrt(20/3) = 2.58199, half = 3.182 * 2.58199 / 2 = 4.10795.
    const auto four = t_interval_95({10, 12, 14, 16});
    EXPECT_DOUBLE_EQ(four.mean, 13.0);
    EXPECT_NEAR(*four.half_width, 4.10795, 1e-5);
    // Equal values: an interval of width 0, still an interval.
    EXPECT_DOUBLE_EQ(*t_interval_95({5, 5}).half_width, 0.0);
}

TEST(TInterval, OneSeedHasNoInterval) {
    const auto one = t_interval_95({7.5});
    EXPECT_EQ(one.n, 1);
    EXPECT_DOUBLE_EQ(one.mean, 7.5);
    EXPECT_FALSE(one.half_width);
    EXPECT_EQ(report::detail::interval_text(one, ""), "7.50 s (1 seed, no interval)");
    EXPECT_EQ(report::detail::interval_text(t_interval_95({1, 2, 3}), ""), "2.00 s ± 2.48 s");
    EXPECT_EQ(report::detail::interval_text(t_interval_95({0.80, 0.82, 0.84}), "accuracy"),
              "82.00% ± 4.97 pp"); // s = 0.02, 4.303 * 0.02 / sqrt(3) = 0.04969
    EXPECT_EQ(t_interval_95({}).n, 0);
    EXPECT_EQ(report::detail::interval_text(t_interval_95({}), ""), "-");
}

TEST(TInterval, OverlapTellsTheMeansApartOrNot) {
    const auto a = t_interval_95({1, 2, 3});    // [-0.48, 4.48]
    const auto b = t_interval_95({4, 5, 6});    // [2.52, 7.48]
    const auto c = t_interval_95({10, 11, 12}); // [8.52, 13.48]
    EXPECT_TRUE(report::overlap(a, b));
    EXPECT_FALSE(report::overlap(a, c));
}

TEST(TimingNoise, SpreadRatioOfTheSameWork) {
    EXPECT_DOUBLE_EQ(*report::spread_ratio({1.0, 1.5, 1.2}), 1.5);
    EXPECT_DOUBLE_EQ(*report::spread_ratio({2.0, 0.0, 3.0}), 1.5) << "0 s was not measured";
    EXPECT_FALSE(report::spread_ratio({2.0}));
}

TEST(TimingNoise, SeedsOfNoneThatDisagree) {
    EXPECT_FALSE(report::seed_noise("none", {10.0, 11.0, 10.5})) << "1.10x apart is not noise";
    const auto n = report::seed_noise("none", {10.0, 13.0, 11.0});
    ASSERT_TRUE(n);
    EXPECT_DOUBLE_EQ(n->ratio, 1.3);
    EXPECT_EQ(n->what,
              "the 3 seeds of none did the same work but took 10.00 s to 13.00 s (1.30x apart)");
}

namespace {

report::RunReport run_with(const std::string& id,
                           std::vector<std::tuple<std::int64_t, std::int64_t, double>> epochs) {
    report::RunReport r;
    r.run.id = id;
    r.run.num_samples = 100;
    int e = 0;
    for (const auto& [visible, hidden, train_s] : epochs) {
        report::EpochPoint p;
        p.row.epoch = ++e;
        p.row.visible = visible;
        p.row.hidden = hidden;
        p.row.refreshed = hidden;
        p.row.train_s = train_s;
        p.row.eval_s = 0.1;
        r.epochs.push_back(p);
    }
    return r;
}

} // namespace

TEST(TimingNoise, AnEpochOfIdenticalWorkThatTookTwiceAsLong) {
    // Epoch 1 hides nothing in either run: 1.0 + 0.1 s against 2.1 + 0.1 s is 2.00x. Epoch 2
    // trained 70 samples against 100: its 3x is the work, not noise.
    const auto run = run_with("H", {{100, 0, 1.0}, {70, 30, 0.7}});
    const auto base = run_with("B", {{100, 0, 2.1}, {100, 0, 2.1}});
    const auto n = report::pair_noise(run, base);
    ASSERT_TRUE(n);
    EXPECT_DOUBLE_EQ(n->ratio, 2.0);
    EXPECT_EQ(n->what, "epoch 1 did identical work in both runs (100 samples trained) but took "
                       "2.00x as long in B (2.20 s vs 1.10 s)");
    const auto c = report::compare(run, base, true);
    ASSERT_TRUE(c.noise);
    EXPECT_EQ(c.noise->what, n->what);
}

TEST(TimingNoise, BelowTheThresholdOrDifferentWorkIsNotNoise) {
    // 1.1 s vs 1.3 s: 1.18x, under k_noise_ratio = 1.2.
    EXPECT_FALSE(
        report::pair_noise(run_with("H", {{100, 0, 1.0}}), run_with("B", {{100, 0, 1.2}})));
    // 1.1 s vs 1.5 s: 1.36x is noise.
    EXPECT_TRUE(report::pair_noise(run_with("H", {{100, 0, 1.0}}), run_with("B", {{100, 0, 1.4}})));
    // No epoch of identical work: nothing to judge by.
    EXPECT_FALSE(
        report::pair_noise(run_with("H", {{80, 20, 0.5}}), run_with("B", {{100, 0, 5.0}})));
}

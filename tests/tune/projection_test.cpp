// The learning-curve projection with numbers that can be checked by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tune/projection.hpp"

namespace {

using kakuren::tune::compare;
using kakuren::tune::Point;
using kakuren::tune::project;
using kakuren::tune::Projection;
using kakuren::tune::ProjectionKind;

TEST(Projection, AnExactPowerLawIsSolvedWithAZeroInterval) {
    // error = 0.5 / cost: accuracy 0.5, 0.75, 0.875 at cost 1, 2, 4; error 0.0625 at cost 8.
    const std::vector<Point> points{{1, 0.5}, {2, 0.75}, {4, 0.875}};
    const Projection p = project(points, 0.9375, false);
    EXPECT_EQ(p.kind, ProjectionKind::fitted);
    EXPECT_NEAR(p.cost, 8.0, 1e-9);
    ASSERT_TRUE(p.log_sigma.has_value());
    EXPECT_NEAR(*p.log_sigma, 0.0, 1e-7);
    EXPECT_EQ(p.points, 3);
}

TEST(Projection, TwoPointsGiveAProjectionWithoutAnInterval) {
    const std::vector<Point> points{{1, 0.5}, {2, 0.75}};
    const Projection p = project(points, 0.875, false);
    EXPECT_EQ(p.kind, ProjectionKind::fitted);
    EXPECT_NEAR(p.cost, 4.0, 1e-9);
    EXPECT_FALSE(p.log_sigma.has_value()) << "2 points: the residual variance is unknown";
}

TEST(Projection, ThreeNoisyPointsGiveTheStandardErrorOfTheCrossing) {
    // MAE (lower is better) e^0, e^-1, e^-3 at cost e^0, e^1, e^2: ln error 0, -1, -3 on
    // u = 0, 1, 2. Least squares: slope -1.5, intercept 1/6, residuals -1/6, 1/3, -1/6, so
    // s^2 = (1/6) / 1. Target e^(-13/3) is crossed at u* = 3; the error of u* is
    // sqrt(s^2 (1/3 + (3 - 1)^2 / 2)) / 1.5 = sqrt(7/18) / 1.5 = 0.41574.
    const double e = std::exp(1.0);
    const std::vector<Point> points{{1, 1.0}, {e, std::exp(-1.0)}, {e * e, std::exp(-3.0)}};
    const Projection p = project(points, std::exp(-13.0 / 3.0), true);
    EXPECT_EQ(p.kind, ProjectionKind::fitted);
    EXPECT_NEAR(p.cost, std::exp(3.0), 1e-9);
    ASSERT_TRUE(p.log_sigma.has_value());
    EXPECT_NEAR(*p.log_sigma, std::sqrt(7.0 / 18.0) / 1.5, 1e-12);
}

TEST(Projection, AReachedTargetIsMeasuredNotFitted) {
    const std::vector<Point> points{{10, 0.6}, {20, 0.91}, {30, 0.95}};
    const Projection p = project(points, 0.9, false);
    EXPECT_EQ(p.kind, ProjectionKind::measured);
    EXPECT_DOUBLE_EQ(p.cost, 20.0) << "the first point at the target";
    EXPECT_EQ(p.log_sigma, 0.0);
}

TEST(Projection, AWorseningOrSingleCurveIsNotProjected) {
    const std::vector<Point> worse{{1, 0.6}, {2, 0.55}, {3, 0.5}};
    const Projection w = project(worse, 0.9, false);
    EXPECT_EQ(w.kind, ProjectionKind::not_improving);
    EXPECT_TRUE(std::isinf(w.cost));
    EXPECT_FALSE(w.projected());
    const std::vector<Point> one{{1, 0.6}};
    EXPECT_EQ(project(one, 0.9, false).kind, ProjectionKind::too_few);
}

TEST(Projection, OnlyTheLastPointsAreFitted) {
    // The first point lies far off the power law of the others; with max_points = 3 it is left
    // out and the exact law of the last three gives cost 8 again.
    const std::vector<Point> points{{0.5, 0.3}, {1, 0.5}, {2, 0.75}, {4, 0.875}};
    const Projection p = project(points, 0.9375, false, 3);
    EXPECT_NEAR(p.cost, 8.0, 1e-9);
    EXPECT_EQ(p.points, 3);
    EXPECT_GT(std::abs(project(points, 0.9375, false, 4).cost - 8.0), 0.1);
}

TEST(Projection, TheRatioToTheBaselineCarriesBothErrors) {
    const Projection c{ProjectionKind::fitted, 5.0, 0.3, 5};
    const Projection b{ProjectionKind::fitted, 10.0, 0.4, 5};
    const auto r = compare(c, b);
    ASSERT_TRUE(r.has_value());
    EXPECT_DOUBLE_EQ(r->ratio, 0.5);
    ASSERT_TRUE(r->sigma.has_value());
    EXPECT_NEAR(*r->sigma, 0.5 * 0.5, 1e-12) << "0.5 x hypot(0.3, 0.4)";

    const Projection two{ProjectionKind::fitted, 5.0, std::nullopt, 2};
    EXPECT_FALSE(compare(two, b)->sigma.has_value());
    const Projection measured{ProjectionKind::measured, 8.0, 0.0, 0};
    EXPECT_NEAR(*compare(measured, b)->sigma, 0.8 * 0.4, 1e-12);
    const Projection never{ProjectionKind::not_improving, INFINITY, std::nullopt, 3};
    EXPECT_FALSE(compare(never, b).has_value());
}

} // namespace

#pragma once
// Learning-curve projection for kakuren tune: when does a run reach its target, in seconds of
// training or in samples trained, and how sure is that?
//
// Model: the error (1 - accuracy or 1 - IoU; MAE itself) falls as a power of the cost spent,
// error = A * cost^b, i.e. ln(error) is a straight line in ln(cost). The line is fitted by least
// squares to the run's last points (at most max_points, so that the early, fast-changing epochs
// do not bend it) and solved for the target's error. The uncertainty is the standard error of
// that crossing in ln(cost): s * sqrt(1/n + (u* - mean u)^2 / Suu) / |b|, with s^2 the
// residual variance SSR / (n - 2). With 2 points the line passes through both and s is
// unknown: there is no interval, and the result says so instead of inventing one.
#include <optional>
#include <span>
#include <string>

namespace kakuren::tune {

/// One evaluation: the cost spent up to it (cumulative seconds or samples, > 0) and the metric.
struct Point {
    double cost = 0;
    double metric = 0;
};

enum class ProjectionKind {
    measured,      ///< a point reached the target: cost is the first such point's, exact
    fitted,        ///< projected from the fitted line
    not_improving, ///< the fitted error does not fall: no projection (cost is infinite)
    too_few,       ///< fewer than 2 usable points: no projection (cost is infinite)
};
std::string to_string(ProjectionKind kind);

struct Projection {
    ProjectionKind kind = ProjectionKind::too_few;
    double cost = 0; ///< cost to the target; +infinity when not_improving or too_few
    /// One standard error of ln(cost): 0 when measured, nullopt when fitted through 2 points
    /// (no interval) or not projected.
    std::optional<double> log_sigma;
    int points = 0; ///< points the fit used (0 when measured or not projected)

    [[nodiscard]] bool projected() const {
        return kind == ProjectionKind::measured || kind == ProjectionKind::fitted;
    }
};

/// Projects the cost to reach target from points in order of increasing cost.
/// lower_is_better: the metric is an error (MAE); otherwise an accuracy-like metric in [0, 1].
Projection project(std::span<const Point> points, double target, bool lower_is_better,
                   int max_points = 5);

/// A candidate's projection relative to the baseline's: ratio = cost / baseline cost, and one
/// standard error of the ratio by the delta method, ratio * sqrt(sigma_c^2 + sigma_b^2) (both
/// projections' ln-cost errors, taken as independent); nullopt sigma when either has none.
struct Comparison {
    double ratio = 0;
    std::optional<double> sigma;
};
/// nullopt unless both are projected.
std::optional<Comparison> compare(const Projection& candidate, const Projection& baseline);

} // namespace kakuren::tune

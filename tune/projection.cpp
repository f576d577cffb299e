// Learning-curve projection (tune/projection.hpp).
#include "tune/projection.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace kakuren::tune {

std::string to_string(ProjectionKind kind) {
    switch (kind) {
    case ProjectionKind::measured:
        return "measured";
    case ProjectionKind::fitted:
        return "fitted";
    case ProjectionKind::not_improving:
        return "not improving";
    case ProjectionKind::too_few:
        return "too few points";
    }
    return "?";
}

namespace {

bool reaches(double metric, double target, bool lower_is_better) {
    return lower_is_better ? metric <= target : metric >= target;
}

double error_of(double metric, bool lower_is_better) {
    return lower_is_better ? metric : 1.0 - metric;
}

} // namespace

Projection project(std::span<const Point> points, double target, bool lower_is_better,
                   int max_points) {
    constexpr double k_inf = std::numeric_limits<double>::infinity();
    for (const Point& p : points) {
        if (reaches(p.metric, target, lower_is_better)) {
            return {ProjectionKind::measured, p.cost, 0.0, 0};
        }
    }
    // ln(error) against ln(cost), over the last max_points usable points.
    std::vector<double> u, y;
    for (const Point& p : points) {
        const double e = error_of(p.metric, lower_is_better);
        if (p.cost > 0 && e > 0 && std::isfinite(e)) {
            u.push_back(std::log(p.cost));
            y.push_back(std::log(e));
        }
    }
    const std::size_t first = u.size() > static_cast<std::size_t>(max_points)
                                  ? u.size() - static_cast<std::size_t>(max_points)
                                  : 0;
    const auto n = static_cast<double>(u.size() - first);
    if (u.size() - first < 2) {
        return {ProjectionKind::too_few, k_inf, std::nullopt, 0};
    }
    double u_mean = 0, y_mean = 0;
    for (std::size_t i = first; i < u.size(); ++i) {
        u_mean += u[i] / n;
        y_mean += y[i] / n;
    }
    double suu = 0, suy = 0;
    for (std::size_t i = first; i < u.size(); ++i) {
        suu += (u[i] - u_mean) * (u[i] - u_mean);
        suy += (u[i] - u_mean) * (y[i] - y_mean);
    }
    const int used = static_cast<int>(n);
    if (suu <= 0 || suy >= 0) {
        return {ProjectionKind::not_improving, k_inf, std::nullopt, used};
    }
    const double b = suy / suu;
    const double a = y_mean - b * u_mean;
    const double y_target = std::log(error_of(target, lower_is_better));
    const double u_star = (y_target - a) / b;
    Projection out{ProjectionKind::fitted, std::exp(u_star), std::nullopt, used};
    if (used >= 3) {
        double ssr = 0;
        for (std::size_t i = first; i < u.size(); ++i) {
            const double r = y[i] - (a + b * u[i]);
            ssr += r * r;
        }
        const double s2 = ssr / (n - 2);
        out.log_sigma =
            std::sqrt(s2 * (1.0 / n + (u_star - u_mean) * (u_star - u_mean) / suu)) / std::abs(b);
    }
    return out;
}

std::optional<Comparison> compare(const Projection& candidate, const Projection& baseline) {
    if (!candidate.projected() || !baseline.projected() || baseline.cost <= 0) {
        return std::nullopt;
    }
    Comparison c{candidate.cost / baseline.cost, std::nullopt};
    if (candidate.log_sigma && baseline.log_sigma) {
        c.sigma = c.ratio * std::hypot(*candidate.log_sigma, *baseline.log_sigma);
    }
    return c;
}

} // namespace kakuren::tune

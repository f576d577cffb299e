#pragma once
// The statistics a report's headline rests on: a confidence interval over seeds, and the timing
// noise test that decides whether a time ratio can be headlined. Pure: numbers in, numbers out.
#include <optional>
#include <string>
#include <vector>

namespace kakuren::report {

/// How the report's intervals are computed, as the outputs name it.
inline constexpr const char* k_interval_method = "95% t-interval over seeds";

/// Two runs that did the same work whose times differ by this factor or more are timing noise:
/// twice the ±10 % that timings of one run vary by on a quiet machine (docs/reports-grouped.md).
inline constexpr double k_noise_ratio = 1.2;

/// The two-sided 95 % quantile of Student's t distribution with df degrees of freedom (df >= 1):
/// 12.706 for 1, 4.303 for 2, 2.776 for 4, ..., 1.96 in the limit. Throws std::invalid_argument
/// for df < 1.
double t_quantile_975(int df);

/// A mean with its 95 % t-interval: mean ± t(0.975, n-1) · s / sqrt(n), s the sample standard
/// deviation. With fewer than 2 values there is no interval (half_width empty).
struct Interval {
    int n = 0;
    double mean = 0;
    std::optional<double> half_width;
    double low() const { return mean - half_width.value_or(0); }
    double high() const { return mean + half_width.value_or(0); }
};
Interval t_interval_95(const std::vector<double>& values);

/// Whether two intervals (each with a half width) overlap: their means are not told apart.
bool overlap(const Interval& a, const Interval& b);

/// The largest over smallest of times of the same work; nullopt with fewer than 2 positive times.
std::optional<double> spread_ratio(const std::vector<double>& seconds);

} // namespace kakuren::report

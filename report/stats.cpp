#include "report/stats.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace kakuren::report {

double t_quantile_975(int df) {
    if (df < 1) {
        throw std::invalid_argument("t_quantile_975: df must be >= 1, got " + std::to_string(df));
    }
    // Student's t, two-sided 95 % (one-sided 0.975), df = 1..30 (standard tables).
    static constexpr std::array<double, 30> k_table = {
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
    if (df <= static_cast<int>(k_table.size())) {
        return k_table[static_cast<std::size_t>(df - 1)];
    }
    // Above 30: the normal quantile with the first Cornish-Fisher correction (error < 0.001).
    const double z = 1.959964;
    return z + (z * z * z + z) / (4.0 * df);
}

Interval t_interval_95(const std::vector<double>& values) {
    Interval out;
    out.n = static_cast<int>(values.size());
    if (values.empty()) {
        return out;
    }
    out.mean = std::accumulate(values.begin(), values.end(), 0.0) / out.n;
    if (out.n < 2) {
        return out;
    }
    double sq = 0;
    for (const double v : values) {
        sq += (v - out.mean) * (v - out.mean);
    }
    const double sd = std::sqrt(sq / (out.n - 1));
    out.half_width = t_quantile_975(out.n - 1) * sd / std::sqrt(static_cast<double>(out.n));
    return out;
}

bool overlap(const Interval& a, const Interval& b) {
    return a.low() <= b.high() && b.low() <= a.high();
}

std::optional<double> spread_ratio(const std::vector<double>& seconds) {
    std::vector<double> positive;
    std::copy_if(seconds.begin(), seconds.end(), std::back_inserter(positive),
                 [](double s) { return s > 0 && std::isfinite(s); });
    if (positive.size() < 2) {
        return std::nullopt;
    }
    const auto [lo, hi] = std::minmax_element(positive.begin(), positive.end());
    return *hi / *lo;
}

} // namespace kakuren::report

#include "report/text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "util/metrics.hpp"

namespace kakuren::report {

std::string thousands(std::int64_t n) {
    const std::string digits = std::to_string(n < 0 ? -n : n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) {
            out.push_back(',');
        }
        out.push_back(digits[i]);
    }
    return n < 0 ? "-" + out : out;
}

std::string fixed(double value, int digits) {
    if (!std::isfinite(value)) {
        // printf writes "-nan" for a NaN with its sign bit set: a diverged loss reads "nan".
        return std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, value);
    return buf;
}

std::string metric_value(std::string_view metric, double value) {
    return util::metrics::is_fraction(metric) ? percent(value, 2) : fixed(value, 4);
}

std::string percent(double fraction, int digits) {
    if (!std::isfinite(fraction)) {
        return fixed(fraction, digits);
    }
    return fixed(fraction * 100.0, digits) + "%";
}

std::string seconds_text(const std::optional<double>& seconds) {
    if (!seconds || !std::isfinite(*seconds)) {
        return "-";
    }
    const double s = *seconds;
    if (s < 600) {
        return fixed(s, s < 10 ? 2 : 1) + " s";
    }
    const auto total = static_cast<long long>(std::llround(s));
    char buf[48];
    if (total < 3600) {
        std::snprintf(buf, sizeof buf, "%lld:%02lld min", total / 60, total % 60);
    } else {
        std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld h", total / 3600, (total / 60) % 60,
                      total % 60);
    }
    return buf;
}

std::string points_text(double fraction_diff) {
    const double pp = fraction_diff * 100.0;
    return (pp >= 0 ? "+" : "") + fixed(pp, 2) + " pp";
}

bool lower_is_better(std::string_view metric) {
    return util::metrics::lower_is_better(metric);
}

std::string metric_diff_text(std::string_view metric, double diff) {
    if (lower_is_better(metric)) {
        return (diff >= 0 ? "+" : "") + fixed(diff, 4);
    }
    return points_text(diff);
}

std::string metric_noun(std::string_view metric) {
    return metric.empty() ? std::string("accuracy") : std::string(metric);
}

std::string factor_text(const std::optional<double>& factor) {
    if (!factor || !std::isfinite(*factor)) {
        return "-";
    }
    return fixed(*factor, 2) + "x";
}

std::size_t display_width(const std::string& s) {
    std::size_t n = 0;
    for (const char c : s) {
        // Count every byte that does not continue a UTF-8 sequence.
        if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) {
            ++n;
        }
    }
    return n;
}

std::string Table::render() const {
    std::vector<std::size_t> width;
    for (const auto& row : m_rows) {
        width.resize(std::max(width.size(), row.size()), 0);
        for (std::size_t c = 0; c < row.size(); ++c) {
            width[c] = std::max(width[c], display_width(row[c]));
        }
    }
    std::string out;
    for (const auto& row : m_rows) {
        std::string line;
        for (std::size_t c = 0; c < row.size(); ++c) {
            line += row[c];
            if (c + 1 < row.size()) {
                line += std::string(width[c] - display_width(row[c]) + 2, ' ');
            }
        }
        out += line + "\n";
    }
    return out;
}

} // namespace kakuren::report

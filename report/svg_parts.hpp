#pragma once
// Drawing helpers shared by the SVG charts (private to report/svg*.cpp): sizes, number text,
// axis steps, text and line elements, the legend.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "report/svg.hpp"

namespace kakuren::report::svg::parts {

inline constexpr double k_width = 720;
inline constexpr double k_plot_height = 300;
inline constexpr double k_left = 72, k_right = 20, k_top = 40, k_axis_band = 52;
inline constexpr double k_legend_row = 18;
inline constexpr std::size_t k_max_legend = 12; // more entries than this are summarised in one line
inline constexpr std::size_t k_max_markers = 40; // points per series drawn as dots

inline std::string px(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    std::string s = buf;
    // Trim trailing zeros: shorter markup for big reports.
    while (!s.empty() && s.back() == '0') {
        s.pop_back();
    }
    if (!s.empty() && s.back() == '.') {
        s.pop_back();
    }
    return s == "-0" ? "0" : s;
}

/// 1, 2 or 5 times a power of ten, near range / target.
inline double nice_step(double range, int target) {
    if (!(range > 0) || !std::isfinite(range)) {
        return 1;
    }
    const double raw = range / target;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double r = raw / magnitude;
    const double nice = r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10;
    return nice * magnitude;
}

inline std::string tick_text(double v, double step, bool percent_axis) {
    char buf[48];
    if (percent_axis) {
        const double pct = v * 100;
        const int digits = step * 100 >= 1 ? 0 : step * 100 >= 0.1 ? 1 : 2;
        std::snprintf(buf, sizeof buf, "%.*f%%", digits, pct);
        return buf;
    }
    if (std::fabs(v) < step * 1e-9) {
        return "0";
    }
    if (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-3) {
        std::snprintf(buf, sizeof buf, "%.0e", v);
        return buf;
    }
    const int digits = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    std::snprintf(buf, sizeof buf, "%.*f", std::clamp(digits, 0, 6), v);
    return buf;
}

struct Range {
    double lo = 0, hi = 1;
};

inline Range padded(double lo, double hi) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) {
        return {0, 1};
    }
    if (hi - lo < 1e-12) {
        const double pad = std::fabs(lo) > 0 ? std::fabs(lo) * 0.1 : 1;
        return {lo - pad, hi + pad};
    }
    return {lo, hi};
}

inline std::string text_el(double x, double y, const std::string& anchor, const std::string& cls,
                           const std::string& body, const std::string& extra = "") {
    return "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" text-anchor=\"" + anchor + "\" class=\"" +
           cls + "\"" + extra + ">" + escape(body) + "</text>";
}

inline std::string line_el(double x1, double y1, double x2, double y2, const std::string& cls) {
    return "<line x1=\"" + px(x1) + "\" y1=\"" + px(y1) + "\" x2=\"" + px(x2) + "\" y2=\"" +
           px(y2) + "\" class=\"" + cls + "\"/>";
}

inline std::string open_svg(const std::string& id, double height, const std::string& title,
                            const std::string& data) {
    return R"(<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 )" + px(k_width) +
           " " + px(height) + R"(" role="img" aria-label=")" + escape(title) + "\" data-chart=\"" +
           escape(id) + "\"" + data + ">" + text_el(k_width / 2, 22, "middle", "title", title);
}

/// Legend rows under the plot; returns the markup and the height used.
struct LegendEntry {
    std::string label, color;
    bool dashed = false;
    bool box = false; ///< a filled box (bars) instead of a line sample
};

inline std::pair<std::string, double> legend(const std::vector<LegendEntry>& entries, double y0,
                                             const std::string& note) {
    std::string out = "<g class=\"legend\">";
    double y = y0;
    const std::size_t shown = std::min(entries.size(), k_max_legend);
    // Two columns when the labels are short enough, else one.
    std::size_t longest = 0;
    for (std::size_t i = 0; i < shown; ++i) {
        longest = std::max(longest, entries[i].label.size());
    }
    const int columns = longest <= 38 && shown > 1 ? 2 : 1;
    const double column_width = (k_width - k_left) / columns;
    for (std::size_t i = 0; i < shown; ++i) {
        const LegendEntry& e = entries[i];
        const double x = k_left + static_cast<double>(i % columns) * column_width;
        const std::size_t row = i / static_cast<std::size_t>(columns);
        const double row_y = y + static_cast<double>(row) * k_legend_row;
        if (e.box) {
            out += "<rect x=\"" + px(x) + "\" y=\"" + px(row_y - 9) +
                   R"(" width="14" height="10" fill=")" + e.color + R"("/>)";
        } else {
            out += "<line x1=\"" + px(x) + "\" y1=\"" + px(row_y - 4) + "\" x2=\"" + px(x + 22) +
                   "\" y2=\"" + px(row_y - 4) + "\" stroke=\"" + e.color +
                   R"(" stroke-width="2.5")" + (e.dashed ? R"( stroke-dasharray="6 4")" : "") +
                   "/>";
        }
        out += text_el(x + 28, row_y, "start", "legend-text", e.label);
    }
    y += std::ceil(static_cast<double>(shown) / columns) * k_legend_row;
    if (entries.size() > shown) {
        out +=
            text_el(k_left, y, "start", "legend-text",
                    "... and " + std::to_string(entries.size() - shown) + " more (see the tables)");
        y += k_legend_row;
    }
    if (!note.empty()) {
        out += text_el(k_left, y, "start", "note", note);
        y += k_legend_row;
    }
    out += "</g>";
    return {out, y - y0};
}

} // namespace kakuren::report::svg::parts

#include "report/svg.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace kakuren::report::svg {

namespace {

constexpr double k_width = 720;
constexpr double k_plot_height = 300;
constexpr double k_left = 72, k_right = 20, k_top = 40, k_axis_band = 52;
constexpr double k_legend_row = 18;
constexpr std::size_t k_max_legend = 12;  // more entries than this are summarised in one line
constexpr std::size_t k_max_markers = 40; // points per series drawn as dots

std::string px(double v) {
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
double nice_step(double range, int target) {
    if (!(range > 0) || !std::isfinite(range)) {
        return 1;
    }
    const double raw = range / target;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double r = raw / magnitude;
    const double nice = r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10;
    return nice * magnitude;
}

std::string tick_text(double v, double step, bool percent_axis) {
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

Range padded(double lo, double hi) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) {
        return {0, 1};
    }
    if (hi - lo < 1e-12) {
        const double pad = std::fabs(lo) > 0 ? std::fabs(lo) * 0.1 : 1;
        return {lo - pad, hi + pad};
    }
    return {lo, hi};
}

std::string text_el(double x, double y, const std::string& anchor, const std::string& cls,
                    const std::string& body, const std::string& extra = "") {
    return "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" text-anchor=\"" + anchor + "\" class=\"" +
           cls + "\"" + extra + ">" + escape(body) + "</text>";
}

std::string line_el(double x1, double y1, double x2, double y2, const std::string& cls) {
    return "<line x1=\"" + px(x1) + "\" y1=\"" + px(y1) + "\" x2=\"" + px(x2) + "\" y2=\"" +
           px(y2) + "\" class=\"" + cls + "\"/>";
}

std::string open_svg(const std::string& id, double height, const std::string& title,
                     const std::string& data) {
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 " +
           px(k_width) + " " + px(height) + "\" role=\"img\" aria-label=\"" + escape(title) +
           "\" data-chart=\"" + escape(id) + "\"" + data + ">" +
           text_el(k_width / 2, 22, "middle", "title", title);
}

/// Legend rows under the plot; returns the markup and the height used.
struct LegendEntry {
    std::string label, color;
    bool dashed = false;
    bool box = false; ///< a filled box (bars) instead of a line sample
};

std::pair<std::string, double> legend(const std::vector<LegendEntry>& entries, double y0,
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
                   "\" width=\"14\" height=\"10\" fill=\"" + e.color + "\"/>";
        } else {
            out += "<line x1=\"" + px(x) + "\" y1=\"" + px(row_y - 4) + "\" x2=\"" + px(x + 22) +
                   "\" y2=\"" + px(row_y - 4) + "\" stroke=\"" + e.color +
                   "\" stroke-width=\"2.5\"" + (e.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>";
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

/// The seeds' ranges as translucent polygons: along the highs, back along the lows.
template <typename Sx, typename Sy>
std::string bands_markup(const std::vector<Band>& bands, Sx sx, Sy sy, bool y_log) {
    std::string out;
    for (const Band& b : bands) {
        std::string upper, lower, values;
        for (const auto& [x, range] : b.points) {
            values += (values.empty() ? "" : ";") + exact(x) + "," + exact(range.first) + "," +
                      exact(range.second);
            if (!std::isfinite(x) || !std::isfinite(range.first) || !std::isfinite(range.second) ||
                (y_log && range.first <= 0)) {
                continue;
            }
            upper += (upper.empty() ? "" : " ") + px(sx(x)) + "," + px(sy(range.second));
            lower = px(sx(x)) + "," + px(sy(range.first)) + (lower.empty() ? "" : " ") + lower;
        }
        out += "<polygon class=\"band\" fill=\"" + b.color +
               "\" fill-opacity=\"0.2\" stroke=\"none\" data-config=\"" + escape(b.config) +
               "\" data-values=\"" + values + "\" points=\"" + upper + " " + lower + "\"><title>" +
               escape(b.label) + "</title></polygon>";
    }
    return out;
}

} // namespace

const std::string& run_color(std::size_t index) {
    static const std::array<std::string, 10> k_palette = {
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    return k_palette[index % k_palette.size()];
}

std::string escape(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out.push_back(c);
        }
    }
    return out;
}

std::string exact(double v) {
    if (!std::isfinite(v)) {
        return "NaN";
    }
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : "NaN";
}

std::string render(const LineChart& chart) {
    constexpr double k_inf = std::numeric_limits<double>::infinity();
    double x_lo = k_inf, x_hi = -k_inf, y_lo = k_inf, y_hi = -k_inf;
    for (const Series& s : chart.series) {
        for (const auto& [x, y] : s.points) {
            if (!std::isfinite(x) || !std::isfinite(y) || (chart.y_log && y <= 0)) {
                continue;
            }
            x_lo = std::min(x_lo, x);
            x_hi = std::max(x_hi, x);
            y_lo = std::min(y_lo, y);
            y_hi = std::max(y_hi, y);
        }
    }
    for (const Band& b : chart.bands) {
        for (const auto& [x, range] : b.points) {
            for (const double y : {range.first, range.second}) {
                if (std::isfinite(x) && std::isfinite(y) && !(chart.y_log && y <= 0)) {
                    y_lo = std::min(y_lo, y);
                    y_hi = std::max(y_hi, y);
                }
            }
        }
    }
    const bool empty = !std::isfinite(x_lo);
    if (!empty) { // a target outside the data still shows
        for (const TargetLine& t : chart.targets) {
            if (std::isfinite(t.y) && !(chart.y_log && t.y <= 0)) {
                y_lo = std::min(y_lo, t.y);
                y_hi = std::max(y_hi, t.y);
            }
        }
    }
    if (empty) {
        x_lo = 0;
        x_hi = 1;
        y_lo = chart.y_log ? 0.1 : 0;
        y_hi = 1;
    }
    if (chart.x_integer) {
        x_lo = std::min(x_lo, 1.0);
        x_hi = std::max(x_hi, x_lo + 1);
    } else {
        x_lo = std::min(x_lo, 0.0);
    }
    Range xr = padded(x_lo, x_hi);
    Range yr = padded(chart.y_min.value_or(y_lo), chart.y_max.value_or(y_hi));
    const double x_step = std::max(nice_step(xr.hi - xr.lo, 8), chart.x_integer ? 1.0 : 0.0);
    double y_step = 0;
    if (chart.y_log) {
        yr.lo = std::pow(10.0, std::floor(std::log10(yr.lo) + 1e-9));
        yr.hi = std::pow(10.0, std::ceil(std::log10(yr.hi) - 1e-9));
        if (yr.hi <= yr.lo) {
            yr.hi = yr.lo * 10;
        }
    } else {
        y_step = nice_step(yr.hi - yr.lo, 6);
        if (!chart.y_min) {
            yr.lo = std::floor(yr.lo / y_step) * y_step;
        }
        if (!chart.y_max) {
            yr.hi = std::ceil(yr.hi / y_step) * y_step;
        }
    }
    if (!chart.x_integer) {
        xr.hi = std::ceil(xr.hi / x_step) * x_step;
    }

    const double plot_w = k_width - k_left - k_right;
    const double plot_h = k_plot_height;
    auto sx = [&](double x) { return k_left + (x - xr.lo) / (xr.hi - xr.lo) * plot_w; };
    auto sy = [&](double y) {
        const double t = chart.y_log ? (std::log10(y) - std::log10(yr.lo)) /
                                           (std::log10(yr.hi) - std::log10(yr.lo))
                                     : (y - yr.lo) / (yr.hi - yr.lo);
        return k_top + (1 - t) * plot_h;
    };

    std::vector<LegendEntry> entries;
    for (const Series& s : chart.series) {
        if (s.in_legend) {
            entries.push_back({s.label, s.color, s.dashed, false});
        }
    }
    for (const Band& b : chart.bands) {
        if (!b.label.empty()) {
            entries.push_back({b.label, b.color, false, true});
        }
    }
    const double legend_y = k_top + plot_h + k_axis_band + 8;
    auto [legend_markup, legend_h] = legend(entries, legend_y, chart.note);
    const double height = legend_y + legend_h + 6;

    std::string data = " data-x-min=\"" + exact(xr.lo) + "\" data-x-max=\"" + exact(xr.hi) +
                       "\" data-y-min=\"" + exact(yr.lo) + "\" data-y-max=\"" + exact(yr.hi) +
                       "\" data-y-log=\"" + (chart.y_log ? "1" : "0") + "\" data-plot=\"" +
                       px(k_left) + " " + px(k_top) + " " + px(plot_w) + " " + px(plot_h) + "\"";
    std::string out = open_svg(chart.id, height, chart.title, data);

    // Grid and y ticks.
    out += "<g class=\"axes\">";
    if (chart.y_log) {
        for (double decade = yr.lo; decade <= yr.hi * 1.0001; decade *= 10) {
            for (const double m : {1.0, 2.0, 5.0}) {
                const double v = decade * m;
                if (v > yr.hi * 1.0001) {
                    break;
                }
                out +=
                    line_el(k_left, sy(v), k_left + plot_w, sy(v), m == 1 ? "grid" : "grid minor");
                char buf[32];
                std::snprintf(buf, sizeof buf, "%g", v);
                out += text_el(k_left - 6, sy(v) + 4, "end", "tick", buf);
            }
        }
    } else {
        for (double v = yr.lo; v <= yr.hi + y_step * 1e-6; v += y_step) {
            out += line_el(k_left, sy(v), k_left + plot_w, sy(v), "grid");
            out += text_el(k_left - 6, sy(v) + 4, "end", "tick",
                           tick_text(v, y_step, chart.y_percent));
        }
    }
    const double x_first = std::ceil(xr.lo / x_step - 1e-9) * x_step;
    for (double v = x_first; v <= xr.hi + x_step * 1e-6; v += x_step) {
        out += line_el(sx(v), k_top, sx(v), k_top + plot_h, "grid");
        out += text_el(sx(v), k_top + plot_h + 16, "middle", "tick", tick_text(v, x_step, false));
    }
    out += "<rect x=\"" + px(k_left) + "\" y=\"" + px(k_top) + "\" width=\"" + px(plot_w) +
           "\" height=\"" + px(plot_h) + "\" class=\"frame\"/>";
    out += text_el(k_left + plot_w / 2, k_top + plot_h + 38, "middle", "axis-label", chart.x_label);
    out += text_el(18, k_top + plot_h / 2, "middle", "axis-label", chart.y_label,
                   " transform=\"rotate(-90 18 " + px(k_top + plot_h / 2) + ")\"");
    out += "</g>";
    if (empty) {
        out += text_el(k_left + plot_w / 2, k_top + plot_h / 2, "middle", "note",
                       "no epochs recorded yet");
    }

    out += bands_markup(chart.bands, sx, sy, chart.y_log);
    for (const Series& s : chart.series) {
        std::string points, values;
        std::size_t drawn = 0;
        for (const auto& [x, y] : s.points) {
            values += (values.empty() ? "" : ";") + exact(x) + "," + exact(y);
            if (!std::isfinite(x) || !std::isfinite(y) || (chart.y_log && y <= 0)) {
                continue;
            }
            points += (points.empty() ? "" : " ") + px(sx(x)) + "," + px(sy(y));
            ++drawn;
        }
        out += "<g class=\"series\"><polyline fill=\"none\" stroke=\"";
        out += s.color;
        out += "\" stroke-width=\"" + px(s.width) + "\"";
        out += s.opacity < 1 ? " stroke-opacity=\"" + px(s.opacity) + "\"" : "";
        out += s.dashed ? " stroke-dasharray=\"6 4\"" : "";
        out += s.config.empty() ? "" : " data-config=\"" + escape(s.config) + "\"";
        out += " data-run=\"";
        out += escape(s.run_id);
        out += "\" data-series=\"";
        out += escape(s.kind);
        out += "\" data-values=\"";
        out += values;
        out += "\" points=\"";
        out += points;
        out += "\"><title>";
        out += escape(s.label);
        out += "</title></polyline>";
        if (drawn <= k_max_markers && !s.dashed && s.markers) {
            for (const auto& [x, y] : s.points) {
                if (!std::isfinite(x) || !std::isfinite(y) || (chart.y_log && y <= 0)) {
                    continue;
                }
                out += "<circle cx=\"" + px(sx(x)) + "\" cy=\"" + px(sy(y)) + "\" r=\"3\" fill=\"" +
                       s.color + "\"/>";
            }
        }
        out += "</g>";
    }
    for (const TargetLine& t : chart.targets) {
        if (!std::isfinite(t.y) || t.y < yr.lo || t.y > yr.hi || (chart.y_log && t.y <= 0)) {
            continue;
        }
        out += "<g class=\"target\" data-target=\"" + exact(t.y) + "\">" +
               line_el(k_left, sy(t.y), k_left + plot_w, sy(t.y), "target-line") +
               text_el(k_left + plot_w - 4, sy(t.y) - 5, "end", "target-label", t.label) + "</g>";
    }
    out += legend_markup + "</svg>";
    return out;
}

std::string render(const StackedBars& chart) {
    constexpr double bar_h = 18, gap = 8, label_w = 250;
    const double plot_left = k_left + label_w - 40;
    const double plot_w = k_width - plot_left - k_right;
    const double plot_h =
        std::max(1.0, static_cast<double>(chart.bars.size())) * (bar_h + gap) + gap;
    double max_total = 0;
    for (const auto& bar : chart.bars) {
        double total = 0;
        for (const double v : bar.values) {
            total += std::max(0.0, v);
        }
        max_total = std::max(max_total, total);
    }
    const double step = nice_step(max_total > 0 ? max_total : 1, 6);
    const double x_hi = std::max(step, std::ceil((max_total > 0 ? max_total : 1) / step) * step);
    auto sx = [&](double v) { return plot_left + v / x_hi * plot_w; };

    std::vector<LegendEntry> entries;
    for (std::size_t i = 0; i < chart.part_labels.size(); ++i) {
        entries.push_back({chart.part_labels[i], chart.part_colors[i], false, true});
    }
    const double legend_y = k_top + plot_h + k_axis_band + 8;
    auto [legend_markup, legend_h] = legend(entries, legend_y, "");
    const double height = legend_y + legend_h + 6;
    std::string data = " data-x-min=\"0\" data-x-max=\"" + exact(x_hi) + "\" data-plot=\"" +
                       px(plot_left) + " " + px(k_top) + " " + px(plot_w) + " " + px(plot_h) + "\"";
    std::string out = open_svg(chart.id, height, chart.title, data);
    out += "<g class=\"axes\">";
    for (double v = 0; v <= x_hi + step * 1e-6; v += step) {
        out += line_el(sx(v), k_top, sx(v), k_top + plot_h, "grid");
        out += text_el(sx(v), k_top + plot_h + 16, "middle", "tick", tick_text(v, step, false));
    }
    out +=
        text_el(plot_left + plot_w / 2, k_top + plot_h + 38, "middle", "axis-label", chart.x_label);
    out += "</g>";
    for (std::size_t b = 0; b < chart.bars.size(); ++b) {
        const auto& bar = chart.bars[b];
        const double y = k_top + gap + static_cast<double>(b) * (bar_h + gap);
        std::string label = bar.label;
        if (label.size() > 40) {
            label = label.substr(0, 19) + "..." + label.substr(label.size() - 18);
        }
        out += text_el(plot_left - 6, y + bar_h - 5, "end", "tick", label);
        double x = 0;
        out += "<g class=\"bar\" data-run=\"" + escape(bar.run_id) + "\">";
        for (std::size_t p = 0; p < bar.values.size() && p < chart.part_keys.size(); ++p) {
            const double v = std::max(0.0, bar.values[p]);
            char title[96];
            std::snprintf(title, sizeof title, "%s: %.2f s", chart.part_labels[p].c_str(), v);
            out += "<rect x=\"" + px(sx(x)) + "\" y=\"" + px(y) + "\" width=\"" +
                   px(sx(x + v) - sx(x)) + "\" height=\"" + px(bar_h) + "\" fill=\"" +
                   chart.part_colors[p] + "\" data-part=\"" + chart.part_keys[p] +
                   "\" data-value=\"" + exact(bar.values[p]) + "\"><title>" + escape(title) +
                   "</title></rect>";
            x += v;
        }
        char total[48];
        std::snprintf(total, sizeof total, "%.1f s", x);
        out += text_el(sx(x) + 4, y + bar_h - 5, "start", "tick", total) + "</g>";
    }
    out += legend_markup + "</svg>";
    return out;
}

std::string render(const Histogram& chart) {
    const double plot_w = k_width - k_left - k_right;
    const double plot_h = 240;
    double max_v = 0;
    for (const auto& set : chart.sets) {
        for (const double v : set.values) {
            max_v = std::max(max_v, v);
        }
    }
    const double step = nice_step(max_v > 0 ? max_v : 1, 5);
    const double y_hi = std::max(step, std::ceil((max_v > 0 ? max_v : 1) / step) * step);
    auto sy = [&](double v) { return k_top + (1 - v / y_hi) * plot_h; };
    const std::size_t bins = std::max<std::size_t>(chart.bin_labels.size(), 1);
    const double bin_w = plot_w / static_cast<double>(bins);
    const double bar_w =
        bin_w * 0.8 / static_cast<double>(std::max<std::size_t>(chart.sets.size(), 1));

    std::vector<LegendEntry> entries;
    for (const auto& set : chart.sets) {
        entries.push_back({set.label, set.color, false, true});
    }
    const double legend_y = k_top + plot_h + k_axis_band + 8;
    auto [legend_markup, legend_h] = legend(entries, legend_y, "");
    const double height = legend_y + legend_h + 6;
    std::string out =
        open_svg(chart.id, height, chart.title, " data-y-max=\"" + exact(y_hi) + "\"");
    out += "<g class=\"axes\">";
    for (double v = 0; v <= y_hi + step * 1e-6; v += step) {
        out += line_el(k_left, sy(v), k_left + plot_w, sy(v), "grid");
        out += text_el(k_left - 6, sy(v) + 4, "end", "tick", tick_text(v, step, false));
    }
    const std::size_t label_every = std::max<std::size_t>(1, bins / 10);
    for (std::size_t b = 0; b < chart.bin_labels.size(); b += label_every) {
        out += text_el(k_left + (static_cast<double>(b) + 0.5) * bin_w, k_top + plot_h + 16,
                       "middle", "tick", chart.bin_labels[b]);
    }
    out += "<rect x=\"" + px(k_left) + "\" y=\"" + px(k_top) + "\" width=\"" + px(plot_w) +
           "\" height=\"" + px(plot_h) + "\" class=\"frame\"/>";
    out += text_el(k_left + plot_w / 2, k_top + plot_h + 38, "middle", "axis-label", chart.x_label);
    out += text_el(18, k_top + plot_h / 2, "middle", "axis-label", chart.y_label,
                   " transform=\"rotate(-90 18 " + px(k_top + plot_h / 2) + ")\"");
    out += "</g>";
    for (std::size_t s = 0; s < chart.sets.size(); ++s) {
        const auto& set = chart.sets[s];
        out += "<g class=\"bars\" data-series=\"" + escape(set.key) + "\">";
        for (std::size_t b = 0; b < set.values.size(); ++b) {
            const double x = k_left + static_cast<double>(b) * bin_w + bin_w * 0.1 +
                             static_cast<double>(s) * bar_w;
            const double v = set.values[b];
            out +=
                "<rect x=\"" + px(x) + "\" y=\"" + px(sy(v)) + "\" width=\"" + px(bar_w) +
                "\" height=\"" + px(sy(0) - sy(v)) + "\" fill=\"" + set.color + "\" data-value=\"" +
                exact(v) + "\"><title>" +
                escape(set.label + " " + (b < chart.bin_labels.size() ? chart.bin_labels[b] : "") +
                       ": " + exact(v)) +
                "</title></rect>";
        }
        out += "</g>";
    }
    out += legend_markup + "</svg>";
    return out;
}

} // namespace kakuren::report::svg

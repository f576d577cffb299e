#include "report/svg.hpp"

#include "report/svg_parts.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace kakuren::report::svg {

using namespace parts;

namespace {

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

} // namespace kakuren::report::svg

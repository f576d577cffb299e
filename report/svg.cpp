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

/// The data's bounds before padding: x and y over the drawable points and bands
/// (and, with data, the targets); a fixed unit box when nothing is drawable.
struct Extent {
    double x_lo, x_hi, y_lo, y_hi;
    bool empty;
};

/// The bounds of the series' and bands' finite points (positive y only on a log
/// axis).
Extent points_extent(const LineChart& chart) {
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
    return {x_lo, x_hi, y_lo, y_hi, !std::isfinite(x_lo)};
}

/// The points' extent widened to the targets, or the unit box when there is no
/// data.
Extent data_extent(const LineChart& chart) {
    Extent e = points_extent(chart);
    if (!e.empty) { // a target outside the data still shows
        for (const TargetLine& t : chart.targets) {
            if (std::isfinite(t.y) && !(chart.y_log && t.y <= 0)) {
                e.y_lo = std::min(e.y_lo, t.y);
                e.y_hi = std::max(e.y_hi, t.y);
            }
        }
    }
    if (e.empty) {
        e.x_lo = 0;
        e.x_hi = 1;
        e.y_lo = chart.y_log ? 0.1 : 0;
        e.y_hi = 1;
    }
    return e;
}

/// The plot's axes: rounded ranges, tick steps, and the data -> pixel mapping.
struct Frame {
    static constexpr double plot_w = k_width - k_left - k_right;
    static constexpr double plot_h = k_plot_height;
    Range xr, yr;
    double x_step = 0, y_step = 0; ///< y_step 0 on a log axis (decades instead)
    bool y_log = false;
    bool empty = false; ///< nothing drawable: a unit box and a note

    double sx(double x) const { return k_left + (x - xr.lo) / (xr.hi - xr.lo) * plot_w; }
    double sy(double y) const {
        const double t =
            y_log ? (std::log10(y) - std::log10(yr.lo)) / (std::log10(yr.hi) - std::log10(yr.lo))
                  : (y - yr.lo) / (yr.hi - yr.lo);
        return k_top + (1 - t) * plot_h;
    }
};

/// Pads the data's extent and rounds it to whole ticks (whole decades on a log
/// axis).
Frame frame_for(const LineChart& chart) {
    Extent e = data_extent(chart);
    Frame f;
    f.y_log = chart.y_log;
    f.empty = e.empty;
    if (chart.x_integer) {
        e.x_lo = std::min(e.x_lo, 1.0);
        e.x_hi = std::max(e.x_hi, e.x_lo + 1);
    } else {
        e.x_lo = std::min(e.x_lo, 0.0);
    }
    f.xr = padded(e.x_lo, e.x_hi);
    f.yr = padded(chart.y_min.value_or(e.y_lo), chart.y_max.value_or(e.y_hi));
    f.x_step = std::max(nice_step(f.xr.hi - f.xr.lo, 8), chart.x_integer ? 1.0 : 0.0);
    if (chart.y_log) {
        f.yr.lo = std::pow(10.0, std::floor(std::log10(f.yr.lo) + 1e-9));
        f.yr.hi = std::pow(10.0, std::ceil(std::log10(f.yr.hi) - 1e-9));
        if (f.yr.hi <= f.yr.lo) {
            f.yr.hi = f.yr.lo * 10;
        }
    } else {
        f.y_step = nice_step(f.yr.hi - f.yr.lo, 6);
        if (!chart.y_min) {
            f.yr.lo = std::floor(f.yr.lo / f.y_step) * f.y_step;
        }
        if (!chart.y_max) {
            f.yr.hi = std::ceil(f.yr.hi / f.y_step) * f.y_step;
        }
    }
    if (!chart.x_integer) {
        f.xr.hi = std::ceil(f.xr.hi / f.x_step) * f.x_step;
    }
    return f;
}

/// The data-* attributes of the <svg>: axis ranges, log flag and plot box.
std::string frame_attributes(const Frame& f) {
    return " data-x-min=\"" + exact(f.xr.lo) + "\" data-x-max=\"" + exact(f.xr.hi) +
           "\" data-y-min=\"" + exact(f.yr.lo) + "\" data-y-max=\"" + exact(f.yr.hi) +
           "\" data-y-log=\"" + (f.y_log ? "1" : "0") + "\" data-plot=\"" + px(k_left) + " " +
           px(k_top) + " " + px(Frame::plot_w) + " " + px(Frame::plot_h) + "\"";
}

/// Horizontal grid lines and y tick labels: 1-2-5 per decade on a log axis,
/// else every y_step.
std::string y_grid(const LineChart& chart, const Frame& f) {
    std::string out;
    if (f.y_log) {
        for (double decade = f.yr.lo; decade <= f.yr.hi * 1.0001; decade *= 10) {
            for (const double m : {1.0, 2.0, 5.0}) {
                const double v = decade * m;
                if (v > f.yr.hi * 1.0001) {
                    break;
                }
                out += line_el(k_left, f.sy(v), k_left + Frame::plot_w, f.sy(v),
                               m == 1 ? "grid" : "grid minor");
                char buf[32];
                std::snprintf(buf, sizeof buf, "%g", v);
                out += text_el(k_left - 6, f.sy(v) + 4, "end", "tick", buf);
            }
        }
    } else {
        for (double v = f.yr.lo; v <= f.yr.hi + f.y_step * 1e-6; v += f.y_step) {
            out += line_el(k_left, f.sy(v), k_left + Frame::plot_w, f.sy(v), "grid");
            out += text_el(k_left - 6, f.sy(v) + 4, "end", "tick",
                           tick_text(v, f.y_step, chart.y_percent));
        }
    }
    return out;
}

/// The axes group (grid, ticks, frame, axis labels), then the note of an empty
/// chart.
std::string axes_markup(const LineChart& chart, const Frame& f) {
    constexpr double plot_w = Frame::plot_w, plot_h = Frame::plot_h;
    std::string out = "<g class=\"axes\">" + y_grid(chart, f);
    const double x_first = std::ceil(f.xr.lo / f.x_step - 1e-9) * f.x_step;
    for (double v = x_first; v <= f.xr.hi + f.x_step * 1e-6; v += f.x_step) {
        out += line_el(f.sx(v), k_top, f.sx(v), k_top + plot_h, "grid");
        out +=
            text_el(f.sx(v), k_top + plot_h + 16, "middle", "tick", tick_text(v, f.x_step, false));
    }
    out += "<rect x=\"" + px(k_left) + "\" y=\"" + px(k_top) + "\" width=\"" + px(plot_w) +
           "\" height=\"" + px(plot_h) + R"(" class="frame"/>)";
    out += text_el(k_left + plot_w / 2, k_top + plot_h + 38, "middle", "axis-label", chart.x_label);
    out += text_el(18, k_top + plot_h / 2, "middle", "axis-label", chart.y_label,
                   " transform=\"rotate(-90 18 " + px(k_top + plot_h / 2) + ")\"");
    out += "</g>";
    if (f.empty) {
        out += text_el(k_left + plot_w / 2, k_top + plot_h / 2, "middle", "note",
                       "no epochs recorded yet");
    }
    return out;
}

/// The seeds' ranges as translucent polygons: along the highs, back along the
/// lows.
std::string bands_markup(const std::vector<Band>& bands, const Frame& f) {
    std::string out;
    for (const Band& b : bands) {
        std::string upper, lower, values;
        for (const auto& [x, range] : b.points) {
            values += (values.empty() ? "" : ";") + exact(x) + "," + exact(range.first) + "," +
                      exact(range.second);
            if (!std::isfinite(x) || !std::isfinite(range.first) || !std::isfinite(range.second) ||
                (f.y_log && range.first <= 0)) {
                continue;
            }
            upper += (upper.empty() ? "" : " ") + px(f.sx(x)) + "," + px(f.sy(range.second));
            std::string point = px(f.sx(x));
            point += ',';
            point += px(f.sy(range.first));
            if (!lower.empty()) {
                point += ' ';
                point += lower;
            }
            lower = std::move(point);
        }
        out += R"(<polygon class="band" fill=")";
        out += b.color;
        out += R"(" fill-opacity="0.2" stroke="none" data-config=")";
        out += escape(b.config);
        out += R"(" data-values=")";
        out += values;
        out += R"(" points=")";
        out += upper;
        out += ' ';
        out += lower;
        out += R"("><title>)";
        out += escape(b.label);
        out += "</title></polygon>";
    }
    return out;
}

/// One series: its polyline (every value in data-values, the drawable ones as
/// points) and, for a short solid line, a dot at each point.
std::string series_markup(const Series& s, const Frame& f) {
    std::string points, values;
    std::size_t drawn = 0;
    for (const auto& [x, y] : s.points) {
        values += (values.empty() ? "" : ";") + exact(x) + "," + exact(y);
        if (!std::isfinite(x) || !std::isfinite(y) || (f.y_log && y <= 0)) {
            continue;
        }
        points += (points.empty() ? "" : " ") + px(f.sx(x)) + "," + px(f.sy(y));
        ++drawn;
    }
    std::string out = R"(<g class="series"><polyline fill="none" stroke=")";
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
            if (!std::isfinite(x) || !std::isfinite(y) || (f.y_log && y <= 0)) {
                continue;
            }
            out += R"(<circle cx=")" + px(f.sx(x)) + R"(" cy=")" + px(f.sy(y)) +
                   R"(" r="3" fill=")" + s.color + R"("/>)";
        }
    }
    out += "</g>";
    return out;
}

/// The target lines inside the y range, each labelled at its right end.
std::string targets_markup(const std::vector<TargetLine>& targets, const Frame& f) {
    std::string out;
    for (const TargetLine& t : targets) {
        if (!std::isfinite(t.y) || t.y < f.yr.lo || t.y > f.yr.hi || (f.y_log && t.y <= 0)) {
            continue;
        }
        out += R"(<g class="target" data-target=")" + exact(t.y) + R"(">)" +
               line_el(k_left, f.sy(t.y), k_left + Frame::plot_w, f.sy(t.y), "target-line") +
               text_el(k_left + Frame::plot_w - 4, f.sy(t.y) - 5, "end", "target-label", t.label) +
               "</g>";
    }
    return out;
}

/// The legend's entries: the series shown in it, then the labelled bands.
std::vector<LegendEntry> legend_entries(const LineChart& chart) {
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
    return entries;
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
    const Frame f = frame_for(chart);
    const double legend_y = k_top + Frame::plot_h + k_axis_band + 8;
    auto [legend_markup, legend_h] = legend(legend_entries(chart), legend_y, chart.note);
    const double height = legend_y + legend_h + 6;
    std::string out = open_svg(chart.id, height, chart.title, frame_attributes(f));
    out += axes_markup(chart, f);
    out += bands_markup(chart.bands, f);
    for (const Series& s : chart.series) {
        out += series_markup(s, f);
    }
    out += targets_markup(chart.targets, f);
    out += legend_markup + "</svg>";
    return out;
}

} // namespace kakuren::report::svg

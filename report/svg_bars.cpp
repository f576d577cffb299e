// Bar charts for the HTML report: the stacked time split and histograms.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "report/svg.hpp"
#include "report/svg_parts.hpp"

namespace kakuren::report::svg {

using namespace parts;

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

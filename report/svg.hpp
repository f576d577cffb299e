#pragma once
// Inline SVG charts for the HTML report (private to report/). Every chart carries its data in
// data-* attributes (axis ranges, plot box, each series' values) so tests and scripts can check
// what is drawn against the database.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kakuren::report::svg {

/// The ten-colour palette used for runs, in order.
const std::string& run_color(std::size_t index);

/// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string escape(const std::string& s);

/// Shortest decimal text that reads back as the same double (for data-* attributes).
std::string exact(double v);

struct Series {
    std::string label;  ///< legend text
    std::string run_id; ///< data-run
    std::string kind;   ///< data-series, e.g. "test_accuracy", "requested", "realised"
    std::string color;
    bool dashed = false;
    bool in_legend = true;
    std::vector<std::pair<double, double>> points;
    std::string config;  ///< data-config: the configuration (seed group) the run belongs to
    double width = 2;    ///< stroke width
    double opacity = 1;  ///< stroke opacity (seeds drawn thin behind their mean)
    bool markers = true; ///< dots at the points
};

/// The range of a configuration's seeds: a filled band from the lowest to the highest value at
/// each x (drawn under the lines).
struct Band {
    std::string label;  ///< legend text
    std::string config; ///< data-config
    std::string color;
    std::vector<std::pair<double, std::pair<double, double>>> points; ///< x -> (low, high)
};

/// A horizontal line at a target value, labelled at its right end.
struct TargetLine {
    double y = 0;
    std::string label; ///< e.g. "target 85.00%"
};

struct LineChart {
    std::string id; ///< data-chart
    std::string title;
    std::string x_label, y_label;       ///< with units
    bool y_percent = false;             ///< tick labels as percentages of 1
    bool y_log = false;                 ///< logarithmic y axis (positive values only)
    bool x_integer = false;             ///< integer x ticks (epochs)
    std::optional<double> y_min, y_max; ///< fixed y range; else from the data
    std::vector<Series> series;
    std::string note; ///< a line under the legend, e.g. what dashed lines mean
    std::vector<Band> bands;
    std::vector<TargetLine> targets;
};
std::string render(const LineChart& chart);

struct StackedBars {
    std::string id, title, x_label;
    std::vector<std::string> part_keys;   ///< data-part of each segment
    std::vector<std::string> part_labels; ///< legend text
    std::vector<std::string> part_colors;
    struct Bar {
        std::string label, run_id;
        std::vector<double> values; ///< one per part (seconds), 0 for absent
    };
    std::vector<Bar> bars;
};
std::string render(const StackedBars& chart);

/// Side-by-side bars per bin (a histogram of one or more sets).
struct Histogram {
    std::string id, title, x_label, y_label;
    std::vector<std::string> bin_labels;
    struct Set {
        std::string label, key, color;
        std::vector<double> values;
    };
    std::vector<Set> sets;
};
std::string render(const Histogram& chart);

} // namespace kakuren::report::svg

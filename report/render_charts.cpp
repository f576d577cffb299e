// The HTML report's plots: coloured and labelled by configuration, a configuration's seeds as a
// band (min-max) around their mean, the runs' targets as lines.
#include <algorithm>
#include <map>

#include "report/render_common.hpp"
#include "report/svg.hpp"
#include "report/text.hpp"

namespace kakuren::report::detail {

namespace {

/// How a run is drawn: its configuration's colour and short label, in the legend once per
/// configuration.
struct Look {
    std::string color, label, config;
    bool in_legend = true;
    bool in_band = false; ///< drawn thin: its configuration has a band and a mean line
};

std::vector<Look> looks(const Report& report) {
    std::vector<Look> out;
    std::vector<bool> shown(report.groups.size(), false);
    std::size_t own = report.groups.size();
    for (const RunReport& r : report.runs) {
        Look l;
        if (const auto g = group_of(report, r.run.id)) {
            const SeedGroup& group = report.groups[*g];
            l.color = svg::run_color(*g);
            l.config = group.short_label;
            const std::size_t n = group.run_ids.size();
            l.label = group.short_label + (n > 1 ? " (" + std::to_string(n) + " seeds)" : "");
            l.in_legend = !shown[*g];
            shown[*g] = true;
            l.in_band = n > 1 && std::find(group.run_ids.begin(), group.run_ids.end(), r.run.id) !=
                                     group.run_ids.end();
        } else {
            l.color = svg::run_color(own++);
            l.label = strategy_text(r.recipe) + ", seed " + std::to_string(r.run.seed) + " (" +
                      status_text(r) + ")";
        }
        out.push_back(l);
    }
    return out;
}

svg::LineChart line_chart(std::string id, std::string title, std::string x_label,
                          std::string y_label, bool y_percent, bool y_log, bool x_integer,
                          std::optional<double> y_min, std::string note) {
    svg::LineChart c;
    c.id = std::move(id);
    c.title = std::move(title);
    c.x_label = std::move(x_label);
    c.y_label = std::move(y_label);
    c.y_percent = y_percent;
    c.y_log = y_log;
    c.x_integer = x_integer;
    c.y_min = y_min;
    c.note = std::move(note);
    return c;
}

/// Per configuration of several seeds: the min-max band and the mean of the metric per epoch.
void add_bands(svg::LineChart& chart, const Report& report) {
    for (std::size_t gi = 0; gi < report.groups.size(); ++gi) {
        const SeedGroup& g = report.groups[gi];
        if (g.run_ids.size() < 2) {
            continue;
        }
        std::map<int, std::vector<double>> by_epoch;
        for (const std::string& id : g.run_ids) {
            for (const EpochPoint& p : report.find(id)->epochs) {
                by_epoch[p.row.epoch].push_back(p.row.test_accuracy);
            }
        }
        svg::Band band{"", g.short_label, svg::run_color(gi), {}};
        svg::Series mean{g.short_label + " (" + std::to_string(g.run_ids.size()) +
                             " seeds): mean, band min-max",
                         "",
                         "test_accuracy_mean",
                         svg::run_color(gi),
                         false,
                         true,
                         {},
                         g.short_label};
        mean.width = 3;
        for (const auto& [epoch, values] : by_epoch) {
            const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
            band.points.push_back({static_cast<double>(epoch), {*lo, *hi}});
            double sum = 0;
            for (const double v : values) {
                sum += v;
            }
            mean.points.emplace_back(epoch, sum / static_cast<double>(values.size()));
        }
        chart.bands.push_back(std::move(band));
        chart.series.push_back(std::move(mean));
    }
}

std::vector<svg::TargetLine> target_lines(const Report& report, const std::string& metric) {
    std::vector<svg::TargetLine> out;
    for (const RunReport& r : report.runs) {
        if (!r.target || std::any_of(out.begin(), out.end(), [&](const svg::TargetLine& t) {
                return t.y == r.target->accuracy;
            })) {
            continue;
        }
        out.push_back(
            {r.target->accuracy, "target " +
                                     (metric.empty() ? fixed(r.target->accuracy, 4)
                                                     : metric_value(metric, r.target->accuracy)) +
                                     (r.target->source == "--target" ? " (--target)" : "")});
    }
    return out;
}

void time_split_chart(std::string& out, const Report& report, const std::vector<Look>& look) {
    svg::StackedBars split{
        "time_split", "Where the time went (per run)", "seconds", {}, {}, {}, {}};
    static const char* k_part_colors[] = {"#8c564b", "#7f7f7f", "#1f77b4", "#ff7f0e",
                                          "#2ca02c", "#9467bd", "#c7c7c7"};
    std::size_t part = 0;
    for (const SplitPart& p : split_parts(TimeSplit{})) {
        split.part_keys.emplace_back(p.key);
        split.part_labels.emplace_back(p.label);
        split.part_colors.emplace_back(k_part_colors[part++]);
    }
    for (std::size_t i = 0; i < report.runs.size(); ++i) {
        const RunReport& r = report.runs[i];
        const std::string who = look[i].config.empty() ? look[i].label : look[i].config;
        svg::StackedBars::Bar bar{who + ", seed " + std::to_string(r.run.seed) +
                                      (r.role == "baseline" ? " (b)" : ""),
                                  r.run.id,
                                  {}};
        for (const SplitPart& p : split_parts(r.split)) {
            bar.values.push_back(p.seconds.value_or(0.0));
        }
        split.bars.push_back(std::move(bar));
    }
    figure(out, svg::render(split),
           "init: init_start to init_stop (data loading); train / hidden pass / eval: summed "
           "over epochs; other: hidden-set selection, recording, gaps between attempts. "
           "Communication (multi-rank) is inside train: the time split table gives it.");
}

} // namespace

void figure(std::string& out, const std::string& svg_markup, const std::string& caption) {
    out +=
        "<figure>" + svg_markup + "<figcaption>" + svg::escape(caption) + "</figcaption></figure>";
}

void charts(std::string& out, const Report& report) {
    out += "<h2>Plots</h2><div class=\"charts\">";
    // The runs' metric names the charts; runs of different metrics share a plain axis.
    const std::string metric = report_metric(report);
    const std::string noun = metric.empty() ? "metric" : metric_noun(metric);
    const bool as_percent = !metric.empty() && !lower_is_better(metric);
    const std::string y_label = "test " + noun + (as_percent ? " (%)" : "") +
                                (lower_is_better(metric) ? ", lower is better" : "");
    auto acc_epoch = line_chart("accuracy_epoch", "Test " + noun + " per epoch", "epoch", y_label,
                                as_percent, false, true, std::nullopt,
                                "colour: configuration; band: its seeds' range, thick line: their "
                                "mean, thin lines: each seed");
    auto acc_time = line_chart("accuracy_time", "Test " + noun + " over wall time",
                               "wall time since run_start (s)", y_label, as_percent, false, false,
                               std::nullopt, "each point: an epoch's evaluation (MLPerf log time)");
    auto hidden = line_chart("hidden_fraction", "Hidden fraction per epoch: requested vs realised",
                             "epoch", "fraction of the training set (%)", true, false, true, 0.0,
                             "dashed: requested maximum F_e; solid: realised (hidden / N)");
    auto lr = line_chart("learning_rate", "Learning rate per epoch, with the hiding compensation",
                         "epoch", "learning rate (log scale)", false, true, true, std::nullopt,
                         "dashed: scheduled LR; solid: LR x compensation scale (what SGD used)");
    const std::vector<Look> look = looks(report);
    add_bands(acc_epoch, report);
    acc_epoch.targets = acc_time.targets = target_lines(report, metric);
    for (std::size_t i = 0; i < report.runs.size(); ++i) {
        const RunReport& r = report.runs[i];
        const Look& l = look[i];
        auto series = [&](const char* kind, bool dashed, bool legend) {
            return svg::Series{l.label, r.run.id, kind, l.color, dashed, legend && l.in_legend,
                               {},      l.config};
        };
        svg::Series a = series("test_accuracy", false, !l.in_band);
        if (l.in_band) { // the band and the mean carry the configuration
            a.width = 1;
            a.opacity = 0.5;
            a.markers = false;
        }
        svg::Series t = series("test_accuracy", false, true);
        svg::Series req = series("requested", true, false);
        svg::Series real = series("realised", false, true);
        svg::Series sched = series("lr", true, false);
        svg::Series eff = series("lr_effective", false, true);
        for (const EpochPoint& p : r.epochs) {
            const double e = p.row.epoch;
            a.points.emplace_back(e, p.row.test_accuracy);
            t.points.emplace_back(p.wall_s, p.row.test_accuracy);
            req.points.emplace_back(e, p.row.max_fraction);
            real.points.emplace_back(e, p.realised_fraction);
            sched.points.emplace_back(e, p.row.lr);
            eff.points.emplace_back(e, p.lr_effective);
        }
        acc_epoch.series.push_back(std::move(a));
        acc_time.series.push_back(std::move(t));
        hidden.series.push_back(std::move(req));
        hidden.series.push_back(std::move(real));
        lr.series.push_back(std::move(sched));
        lr.series.push_back(std::move(eff));
    }
    figure(out, svg::render(acc_epoch),
           "Test " + noun +
               " after each epoch, by configuration; the dashed red line is the "
               "target the runs stop at.");
    figure(out, svg::render(acc_time),
           "The same values against wall-clock seconds since run_start: a run to the left "
           "reached that " +
               noun + " sooner.");
    figure(out, svg::render(hidden),
           "Requested F_e is the most a strategy may hide; the realised fraction is lower when "
           "candidates are moved back (tau).");
    time_split_chart(out, report, look);
    figure(out, svg::render(lr),
           "The LR the optimizer used is the scheduled LR times 1/(1 - f) after warm-up "
           "(hiding.lr_compensation).");
    out += "</div>";
}

} // namespace kakuren::report::detail

// --format html: one self-contained page (inline CSS and SVG, no scripts, no network).
#include <algorithm>
#include <cmath>

#include "report/render.hpp"
#include "report/render_common.hpp"
#include "report/svg.hpp"
#include "report/text.hpp"

namespace kakuren::report {

namespace {

using svg::escape;

constexpr std::size_t k_html_epoch_tables = 20; // per-epoch tables up to this many runs

constexpr const char* k_style = R"(
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;margin:24px;color:#222;background:#fff;font-size:14px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ccc;padding-bottom:4px}
h3{font-size:16px;margin:16px 0 6px}.sub{color:#555;margin-bottom:16px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px}
.card{border:1px solid #ccd;border-radius:6px;padding:10px 14px;background:#f7f8fc}
.big{font-size:22px;font-weight:bold;margin:4px 0}.good{color:#1a7f37}.bad{color:#b42318}
.card p{margin:3px 0}.ratio{font-size:16px;font-weight:normal;color:#333}
.ratio.unreliable{color:#777;text-decoration:line-through}.flag{text-decoration:none;display:inline-block;
background:#fff4ce;color:#7a5200;border:1px solid #e0c060;border-radius:4px;padding:0 5px;font-size:12px;margin-left:4px}
.noise{color:#7a5200}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef0f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
figure{margin:0;border:1px solid #dde;border-radius:6px;padding:6px;background:#fff}
figcaption{font-size:12px;color:#555;padding:2px 6px}
svg.chart{width:100%;height:auto;display:block}
svg .title{font-size:15px;font-weight:bold;fill:#222}svg .tick{font-size:11px;fill:#444}
svg .axis-label{font-size:12.5px;fill:#222}svg .legend-text{font-size:12px;fill:#222}
svg .note{font-size:11.5px;fill:#555;font-style:italic}
svg .grid{stroke:#e3e3e3;stroke-width:1}svg .grid.minor{stroke:#f0f0f0}
svg .frame{fill:none;stroke:#999;stroke-width:1}
svg .target-line{stroke:#b42318;stroke-width:1.5;stroke-dasharray:5 3}svg .target-label{font-size:11.5px;fill:#b42318}
.status-failed,.status-crashed{color:#b42318;font-weight:bold}.status-running{color:#9a6700;font-weight:bold}
.problem{color:#b42318}.ok{color:#1a7f37}
details{margin:6px 0}summary{cursor:pointer;font-weight:bold}
)";

/// A value of the run's metric: accuracy and IoU in percent, MAE as a number.
std::string acc(const RunReport& r, const std::optional<double>& a) {
    return a ? metric_value(r.run.metric, *a) : "-";
}

/// A column heading for the metric: "acc", "IoU", "MAE"; "metric" when runs differ.
std::string metric_column(const std::string& metric) {
    return metric.empty() ? "metric" : metric == "accuracy" ? "acc" : metric;
}

std::string td(const std::string& s) {
    return "<td>" + escape(s) + "</td>";
}
std::string tdn(const std::string& s) {
    return "<td class=\"n\">" + escape(s) + "</td>";
}

std::string table_head(const std::vector<std::string>& cols) {
    std::string out = "<div class=\"scroll\"><table><thead><tr>";
    for (const std::string& c : cols) {
        out += "<th>" + escape(c) + "</th>";
    }
    return out + "</tr></thead><tbody>";
}

std::string run_label(const RunReport& r) {
    return r.run.id + " - " + detail::strategy_text(r.recipe) + ", seed " +
           std::to_string(r.run.seed) + (r.role == "baseline" ? " (baseline)" : "");
}

std::string status_cell(const RunReport& r) {
    return "<td class=\"status-" + escape(db::to_string(r.run.status)) + "\">" +
           escape(detail::status_text(r)) + "</td>";
}

/// One card per configuration: the work saved in large type, the time ratio beside it (flagged
/// when timing noise makes it unreliable), mean ± interval over seeds.
void group_card(std::string& out, const Report& report, std::size_t index) {
    const SeedGroup& g = report.groups[index];
    const detail::Card c = detail::group_card(report, g);
    out += "<div class=\"card config\" data-group=\"" + std::to_string(index) +
           "\" data-config=\"" + escape(g.short_label) + "\" style=\"border-left:6px solid " +
           svg::run_color(index) + "\"><p><b>" + escape(c.title) + "</b></p><div class=\"big\">";
    out += std::string("<span class=\"work") +
           (g.sgd_steps_saved > 0 || g.samples_saved > 0 ? " good" : "") + "\">" +
           escape(c.work_big) + "</span>";
    if (c.time_ratio) {
        const double f = *c.time_ratio;
        out += std::string(" <span class=\"ratio") + (c.time_reliable ? "" : " unreliable") +
               "\" data-time-ratio=\"" + svg::exact(f) + "\" data-reliable=\"" +
               (c.time_reliable ? "1" : "0") + "\">time " +
               escape(f >= 1 ? fixed(f, 2) : fixed(1.0 / f, 2)) + "&times; " +
               (f >= 1 ? "faster" : "slower") +
               (c.time_reliable ? "" : " <span class=\"flag\">unreliable: timing noise</span>") +
               "</span>";
    }
    if (g.accuracy_diff_final) {
        // Good when the metric did not get worse by more than a tenth of a point (an error
        // metric: by more than 0.001).
        const std::string metric = detail::group_metric(report, g);
        const double d = *g.accuracy_diff_final;
        const bool good = lower_is_better(metric) ? d <= 0.001 : d >= -0.001;
        out += std::string(" &middot; <span class=\"") + (good ? "good" : "bad") + "\">" +
               escape(metric_diff_text(metric, d) + " " + metric_noun(metric)) + "</span>";
    }
    out += "</div><p class=\"work-saved\">" + escape(c.work) + "</p>";
    const Interval& t = g.time_to_train_ci;
    out += "<p class=\"time\" data-mean=\"" + svg::exact(t.mean) + "\" data-half-width=\"" +
           (t.half_width ? svg::exact(*t.half_width) : "") + "\" data-interval=\"" +
           escape(k_interval_method) + "\">" + escape(c.time) + "</p>";
    for (const std::string& n : c.noise) {
        out += "<p class=\"noise\">" + escape(n) + "</p>";
    }
    for (const std::string& m : c.more) {
        out += "<p>" + escape(m) + "</p>";
    }
    out += "</div>";
}

void glance(std::string& out, const Report& report) {
    out += "<h2>At a glance</h2><div class=\"cards\">";
    for (std::size_t i = 0; i < report.groups.size(); ++i) {
        group_card(out, report, i);
    }
    for (const RunReport& r : report.runs) {
        if (!detail::has_own_card(report, r)) {
            continue;
        }
        const auto lines = detail::headline(r);
        out += "<div class=\"card run\" data-run=\"" + escape(r.run.id) + "\"><p><b>" +
               escape(lines[0]) + "</b></p>";
        for (std::size_t i = 1; i < lines.size(); ++i) {
            out += "<p>" + escape(lines[i]) + "</p>";
        }
        out += "</div>";
    }
    out += "</div>";
    for (const std::string& note : report.notes) {
        out += "<p class=\"sub\">Note: " + escape(note) + "</p>";
    }
}

void runs_table(std::string& out, const Report& report) {
    const std::string m = metric_column(detail::report_metric(report));
    out +=
        "<h2>Runs</h2>" +
        table_head({"run", "status", "attempts", "model", "data", "strategy", "seed", "ranks",
                    "epochs", "final " + m, "best " + m, "time-to-train", "to target", "samples/s",
                    "hidden requested / realised", "moved back", "SGD steps saved", "MLPerf log"});
    for (const RunReport& r : report.runs) {
        const double saved = r.sgd_steps_full > 0 ? static_cast<double>(r.sgd_steps_saved()) /
                                                        static_cast<double>(r.sgd_steps_full)
                                                  : 0.0;
        out += "<tr data-run=\"" + escape(r.run.id) + "\">" +
               td(r.run.id + (r.role == "baseline" ? " (baseline)" : "")) + status_cell(r) +
               tdn(std::to_string(r.attempts.size())) + td(r.recipe.model) +
               td(r.recipe.dataset + " " + thousands(r.run.num_samples)) +
               td(detail::strategy_text(r.recipe)) + tdn(std::to_string(r.run.seed)) +
               tdn(std::to_string(r.ranks)) +
               tdn(std::to_string(r.epochs.size()) + "/" + std::to_string(r.run.num_epochs)) +
               tdn(acc(r, r.run.final_accuracy)) + tdn(acc(r, r.run.best_accuracy)) +
               tdn(detail::time_to_train_text(r)) + tdn(detail::to_target_text(r)) +
               tdn(thousands(static_cast<std::int64_t>(r.samples_per_s))) +
               tdn(percent(r.mean_requested_fraction) + " / " + percent(r.mean_realised_fraction)) +
               tdn(thousands(r.moved_back_total)) +
               tdn(thousands(r.sgd_steps_saved()) + " (" + percent(saved) + ")") +
               (r.log.found && r.log.problems.empty()
                    ? "<td class=\"ok\">ok</td>"
                    : "<td class=\"problem\">" +
                          escape(r.log.found ? std::to_string(r.log.problems.size()) + " problem(s)"
                                             : "missing") +
                          "</td>") +
               "</tr>";
    }
    out += "</tbody></table></div>";
    for (const RunReport& r : report.runs) {
        if (!r.run.reason.empty()) {
            out += "<p><b>" + escape(r.run.id) + "</b>: <span class=\"status-" +
                   escape(db::to_string(r.run.status)) + "\">" + escape(detail::status_text(r)) +
                   "</span> &mdash; " + escape(r.run.reason) + "</p>";
        }
    }
}

void split_table(std::string& out, const Report& report) {
    out +=
        "<h2>Time split (seconds)</h2>" +
        table_head({"run", "configuration", "staging", "init", "train", "hidden pass", "eval",
                    "checkpoint", "other", "total", "communication (in train)", "data read (MB)"});
    for (const RunReport& r : report.runs) {
        const auto g = detail::group_of(report, r.run.id);
        out += "<tr data-run=\"" + escape(r.run.id) + "\">" + td(r.run.id) +
               td(g ? report.groups[*g].short_label : detail::strategy_text(r.recipe));
        for (const detail::SplitPart& p : detail::split_parts(r.split)) {
            out += tdn(p.seconds ? fixed(*p.seconds, 2) : "-");
        }
        out += tdn(fixed(r.split.total_s, 2));
        out += "<td class=\"n\" data-part=\"communication\">" +
               (r.split.communication_s ? fixed(*r.split.communication_s, 2) : "-") + "</td>";
        out +=
            "<td class=\"n\" data-part=\"data_read\">" +
            (r.split.bytes_read ? fixed(static_cast<double>(*r.split.bytes_read) / 1e6, 1) : "-") +
            "</td></tr>";
    }
    out += "</tbody></table></div><p class=\"sub\">'-': not measured for this run (no staging or "
           "checkpointing recorded; communication only with several ranks; data read only for "
           "data streamed from files). Data staging (copying to node-local storage) and init "
           "(loading data held in memory) are the data-reading times; communication is the "
           "ranks' wait on collectives not hidden behind computation, a part of train, hidden "
           "pass and eval.</p>";
}

void comparison_table(std::string& out, const Report& report) {
    if (report.comparisons.empty()) {
        return;
    }
    const std::string m = metric_column(detail::report_metric(report));
    out +=
        "<h2>Against the baseline</h2>" +
        table_head({"run", "baseline", "same seed", "speed-up (time-to-train)", "time saved",
                    "speed-up to target", "final " + m + " diff", "best " + m + " diff", "timing"});
    for (const Comparison& c : report.comparisons) {
        const std::string metric = detail::comparison_metric(report, c);
        out += "<tr>" + td(c.run_id) + td(c.baseline_id + (c.automatic ? "" : " (given)")) +
               td(c.same_seed ? "yes" : "no") + tdn(factor_text(c.speedup_total)) +
               tdn(seconds_text(c.time_saved_s)) + tdn(factor_text(c.speedup_to_target)) +
               tdn(c.accuracy_diff_final ? metric_diff_text(metric, *c.accuracy_diff_final) : "-") +
               tdn(c.accuracy_diff_best ? metric_diff_text(metric, *c.accuracy_diff_best) : "-") +
               (c.noise ? "<td class=\"noise\">" + escape(c.noise->what) + "</td>"
                        : std::string("<td>ok</td>")) +
               "</tr>";
    }
    out += "</tbody></table></div><p class=\"sub\">speed-up = baseline time-to-train / the run's "
           "(MLPerf run_start to run_stop); above 1 the run was faster. timing: an epoch of "
           "identical work " +
           fixed(k_noise_ratio, 1) +
           "x as long or more in one run is timing noise, and the speed-up beside it is "
           "unreliable.</p>";
}

/// Seconds (metric empty) or values of the metric (accuracy and IoU in percent, MAE a number).
std::string spread_html(const Spread& s, const std::string& metric) {
    if (s.n == 0) {
        return "-";
    }
    const bool seconds = metric.empty();
    const auto value = [&](double v) {
        return seconds ? fixed(v, 2) + " s" : metric_value(metric, v);
    };
    std::string out = value(s.mean);
    if (s.n > 1) {
        out += " ± " + (seconds                   ? fixed(s.std, 2) + " s"
                        : lower_is_better(metric) ? fixed(s.std, 4)
                                                  : fixed(s.std * 100, 2) + " pp");
    }
    if (s.olympic) {
        out += " (olympic " + value(*s.olympic) + ")";
    }
    return out;
}

void groups_table(std::string& out, const Report& report) {
    if (std::none_of(report.groups.begin(), report.groups.end(),
                     [](const SeedGroup& g) { return g.run_ids.size() >= 2; })) {
        return; // one seed each: the cards say it all
    }
    const std::string m = metric_column(detail::report_metric(report));
    out += "<h2>Seeds</h2>" +
           table_head({"configuration", "runs", "seeds", "time-to-train", "final " + m, "best " + m,
                       "to target", "speed-up", "final " + m + " diff"});
    for (const SeedGroup& g : report.groups) {
        std::string seeds;
        for (std::size_t i = 0; i < g.seeds.size(); ++i) {
            seeds += (i > 0 ? ", " : "") + std::to_string(g.seeds[i]);
        }
        const std::string metric = detail::group_metric(report, g);
        out += "<tr>" + td(g.label) + tdn(std::to_string(g.run_ids.size())) + td(seeds) +
               tdn(spread_html(g.time_to_train_s, "")) +
               tdn(spread_html(g.final_accuracy, metric)) +
               tdn(spread_html(g.best_accuracy, metric)) +
               tdn(g.time_to_target_s ? spread_html(*g.time_to_target_s, "") : "-") +
               tdn(factor_text(g.speedup_total)) +
               tdn(g.accuracy_diff_final ? metric_diff_text(metric, *g.accuracy_diff_final) : "-") +
               "</tr>";
    }
    out += "</tbody></table></div><p class=\"sub\">Completed runs only; mean ± sample standard "
           "deviation (the cards above give 95% t-intervals); MLPerf's olympic mean (without the "
           "fastest and slowest) with 5 or more "
           "runs, used for the speed-up when present.</p>";
}

void log_check(std::string& out, const Report& report) {
    out += "<h2>MLPerf log check</h2><ul>";
    for (const RunReport& r : report.runs) {
        out += "<li><b>" + escape(r.run.id) + "</b>: ";
        if (r.log.found && r.log.problems.empty()) {
            out += "<span class=\"ok\">ok</span>, " + std::to_string(r.log.num_records) +
                   " records, required records present and in order";
        } else {
            out += "<span class=\"problem\">" + std::to_string(r.log.problems.size()) +
                   " problem(s)</span>";
        }
        for (const std::string& note : r.log.notes) {
            out += "; " + escape(note);
        }
        out += " <small>(" + escape(r.log.path) + ")</small>";
        if (!r.log.problems.empty()) {
            out += "<ul>";
            for (const LogProblem& p : r.log.problems) {
                out += "<li class=\"problem\">" +
                       escape((p.line > 0 ? "line " + std::to_string(p.line) + ": " : "") +
                              p.message) +
                       "</li>";
            }
            out += "</ul>";
        }
        out += "</li>";
    }
    out += "</ul>";
}

void details(std::string& out, const Report& report) {
    out += "<h2>Per run</h2>";
    for (const RunReport& r : report.runs) {
        out += "<details><summary>" + escape(run_label(r)) + " &mdash; " +
               escape(detail::status_text(r)) + "</summary>";
        out += "<p>recipe " + escape(r.run.recipe_path) + " (sha256 " +
               escape(r.run.recipe_hash.substr(0, 12)) + "): " + escape(r.recipe.model) + " on " +
               escape(r.recipe.dataset) + ", batch " + std::to_string(r.recipe.batch_size) + ", " +
               std::to_string(r.recipe.epochs) + " epochs, " +
               escape(detail::strategy_text(r.recipe)) + ", lr compensation " +
               escape(r.recipe.lr_compensation) + ", " + std::to_string(r.ranks) + " rank(s)" +
               (r.recipe.validated ? "" : " [not re-validated: " + escape(r.recipe.note) + "]") +
               "</p>";
        for (const db::AttemptRow& a : r.attempts) {
            out += "<p>attempt " + std::to_string(a.attempt) + ": pid " + std::to_string(a.pid) +
                   " on " + escape(a.host) + ", " + escape(a.status) + ", " + escape(a.started_at) +
                   " &ndash; " + escape(a.ended_at.empty() ? "..." : a.ended_at) +
                   (a.reason.empty() ? "" : " (" + escape(a.reason) + ")") + "</p>";
        }
        if (report.runs.size() > k_html_epoch_tables) {
            out += "<p class=\"sub\">per-epoch table left out for reports over " +
                   std::to_string(k_html_epoch_tables) +
                   " runs; the JSON at the end of this file has every epoch.</p></details>";
            continue;
        }
        out += table_head({"epoch", "test " + metric_column(r.run.metric), "train loss", "LR",
                           "x scale", "requested F", "realised", "hidden", "moved back",
                           "SGD steps", "saved", "train s", "hidden pass s", "eval s", "total s",
                           "wall s", "samples/s"});
        for (const EpochPoint& p : r.epochs) {
            const db::EpochRow& e = p.row;
            out += "<tr>" + tdn(std::to_string(e.epoch)) +
                   tdn(metric_value(r.run.metric, e.test_accuracy)) + tdn(fixed(e.train_loss, 4)) +
                   tdn(fixed(e.lr, 5)) + tdn(fixed(e.lr_scale, 3)) + tdn(percent(e.max_fraction)) +
                   tdn(percent(p.realised_fraction)) + tdn(thousands(e.hidden)) +
                   tdn(thousands(e.moved_back)) + tdn(thousands(p.sgd_steps)) +
                   tdn(thousands(p.sgd_steps_saved)) + tdn(fixed(e.train_s, 2)) +
                   tdn(fixed(e.hidden_pass_s, 2)) + tdn(fixed(e.eval_s, 2)) +
                   tdn(fixed(e.total_s, 2)) + tdn(fixed(p.wall_s, 2)) +
                   tdn(thousands(static_cast<std::int64_t>(e.samples_per_s))) + "</tr>";
        }
        out += "</tbody></table></div></details>";
    }
}

void samples(std::string& out, const Report& report) {
    for (const SampleReport& s : report.samples) {
        out += "<h2>Samples of " + escape(s.run_id) + "</h2><div class=\"charts\">";
        svg::Histogram times{"times_hidden",
                             "How often each sample was hidden",
                             "epochs hidden (of " + std::to_string(s.epochs_recorded) + ")",
                             "samples",
                             {},
                             {}};
        svg::Histogram::Set set{"samples", "count", svg::run_color(0), {}};
        for (std::size_t k = 0; k < s.histogram.size(); ++k) {
            times.bin_labels.push_back(std::to_string(k));
            set.values.push_back(static_cast<double>(s.histogram[k]));
        }
        times.sets.push_back(std::move(set));
        detail::figure(out, svg::render(times),
                       "never hidden: " + thousands(s.never_hidden) + " of " +
                           thousands(s.num_samples) + " samples");
        if (s.have_losses) {
            svg::Histogram losses{"loss_hidden_visible",
                                  "Latest loss: hidden vs visible in epoch " +
                                      std::to_string(s.loss_epoch),
                                  "latest per-sample loss (last bin: everything above)",
                                  "samples",
                                  {},
                                  {}};
            for (std::size_t b = 0; b + 1 < s.loss_bin_edges.size(); ++b) {
                losses.bin_labels.push_back(fixed(s.loss_bin_edges[b], 2));
            }
            svg::Histogram::Set hid{
                "hidden in epoch " + std::to_string(s.loss_epoch), "hidden", "#ff7f0e", {}};
            svg::Histogram::Set vis{
                "visible in epoch " + std::to_string(s.loss_epoch), "visible", "#1f77b4", {}};
            for (const std::int64_t v : s.loss_hist_hidden) {
                hid.values.push_back(static_cast<double>(v));
            }
            for (const std::int64_t v : s.loss_hist_visible) {
                vis.values.push_back(static_cast<double>(v));
            }
            losses.sets.push_back(std::move(hid));
            losses.sets.push_back(std::move(vis));
            detail::figure(out, svg::render(losses), s.note);
        }
        out += "</div>";
        out += "<p>most hidden:";
        for (const auto& [id, times_hidden] : s.most_hidden) {
            out += " " + std::to_string(id) + " (" + std::to_string(times_hidden) + "&times;)";
        }
        out += s.most_hidden.empty() ? " none</p>" : "</p>";
        if (s.have_losses) {
            out += table_head({"set", "samples", "mean", "median", "p10", "p90", "min", "max"});
            for (const auto& [name, st] :
                 {std::pair<const char*, const LossStats&>{"hidden", s.hidden},
                  std::pair<const char*, const LossStats&>{"visible", s.visible}}) {
                out += "<tr>" + td(name) + tdn(thousands(st.count)) + tdn(fixed(st.mean, 4)) +
                       tdn(fixed(st.median, 4)) + tdn(fixed(st.p10, 4)) + tdn(fixed(st.p90, 4)) +
                       tdn(fixed(st.min, 4)) + tdn(fixed(st.max, 4)) + "</tr>";
            }
            out += "</tbody></table></div>";
        }
    }
}

} // namespace

std::string render_html(const Report& report) {
    std::string out;
    out.reserve(1 << 16);
    out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           "<title>kakuren report</title><style>";
    out += k_style;
    out += "</style></head><body>";
    out += "<h1>kakuren report</h1><div class=\"sub\">" + std::to_string(report.runs.size()) +
           " run" + (report.runs.size() == 1 ? "" : "s") + " from " + escape(report.workspace) +
           ", generated " + escape(report.generated_at) + "</div>";
    glance(out, report);
    out += tune_sections_html(report.tunes);
    detail::charts(out, report);
    runs_table(out, report);
    comparison_table(out, report);
    groups_table(out, report);
    split_table(out, report);
    log_check(out, report);
    details(out, report);
    samples(out, report);
    // The report's data (the --format json layout), for scripts: no network, no loader needed.
    std::string json = to_json(report).dump();
    std::string safe;
    safe.reserve(json.size());
    for (const char c : json) {
        if (c == '<') {
            safe += "\\u003c"; // never close the script element from inside a string
        } else {
            safe.push_back(c);
        }
    }
    out += "<script type=\"application/json\" id=\"kakuren-report-data\">" + safe +
           "</script></body></html>\n";
    return out;
}

} // namespace kakuren::report

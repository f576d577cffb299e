// --format table: what a terminal shows.
#include <algorithm>
#include <cctype>

#include "report/render.hpp"
#include "report/render_common.hpp"
#include "report/text.hpp"

namespace kakuren::report {

namespace {

using detail::headline;
using detail::split_parts;
using detail::status_text;
using detail::strategy_text;

/// The column heading of a metric: ACC, IOU, MAE.
std::string metric_label(const std::string& metric) {
    if (metric.empty()) {
        return "METRIC"; // runs of different metrics in one report
    }
    if (metric == "accuracy") {
        return "ACC";
    }
    std::string out = metric;
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

/// A value of the run's metric (accuracy and IoU in percent, MAE as a number).
std::string acc(const RunReport& r, const std::optional<double>& a) {
    return a ? metric_value(r.run.metric, *a) : "-";
}

std::string opt_seconds(const std::optional<double>& s) {
    return s ? fixed(*s, 2) : "-";
}

std::string log_cell(const RunReport& r) {
    if (!r.log.found) {
        return "missing";
    }
    if (r.log.problems.empty()) {
        return r.outcome == "running" ? "ok so far" : "ok";
    }
    return std::to_string(r.log.problems.size()) + " problem" +
           (r.log.problems.size() == 1 ? "" : "s");
}

/// Seconds (metric empty) or values of the metric (accuracy and IoU in percent, MAE a number).
std::string spread_text(const Spread& s, const std::string& metric) {
    if (s.n == 0) {
        return "-";
    }
    const bool seconds = metric.empty();
    auto value = [&](double v) { return seconds ? fixed(v, 2) + " s" : metric_value(metric, v); };
    std::string out = value(s.mean);
    if (s.n > 1) {
        out += " ± " + (seconds                   ? fixed(s.std, 2) + " s"
                        : lower_is_better(metric) ? fixed(s.std, 4)
                                                  : fixed(s.std * 100, 2) + " pp");
    }
    return out;
}

void runs_section(std::string& out, const Report& report) {
    const std::string m = metric_label(detail::report_metric(report));
    Table t({"RUN", "STATUS", "ATT", "MODEL", "DATA", "STRATEGY", "SEED", "RANKS", "EPOCHS",
             "FINAL " + m, "BEST " + m, "TIME-TO-TRAIN", "TO TARGET", "SAMPLES/s",
             "HIDDEN REQ/REAL", "MOVED BACK", "STEPS SAVED", "LOG"});
    for (const RunReport& r : report.runs) {
        const double saved = r.sgd_steps_full > 0 ? static_cast<double>(r.sgd_steps_saved()) /
                                                        static_cast<double>(r.sgd_steps_full)
                                                  : 0.0;
        t.add({r.run.id + (r.role == "baseline" ? " (baseline)" : ""), status_text(r),
               std::to_string(r.attempts.size()), r.recipe.model,
               r.recipe.dataset + " " + thousands(r.run.num_samples), strategy_text(r.recipe),
               std::to_string(r.run.seed), std::to_string(r.ranks),
               std::to_string(r.epochs.size()) + "/" + std::to_string(r.run.num_epochs),
               acc(r, r.run.final_accuracy), acc(r, r.run.best_accuracy),
               detail::time_to_train_text(r), detail::to_target_text(r),
               thousands(static_cast<std::int64_t>(r.samples_per_s)),
               percent(r.mean_requested_fraction) + " / " + percent(r.mean_realised_fraction),
               thousands(r.moved_back_total),
               thousands(r.sgd_steps_saved()) + " (" + percent(saved) + ")", log_cell(r)});
    }
    out += "RUNS\n" + t.render();
    for (const RunReport& r : report.runs) {
        if (!r.run.reason.empty()) {
            out += "  " + r.run.id + ": " + status_text(r) + ": " + r.run.reason + "\n";
        }
    }
    if (std::any_of(report.runs.begin(), report.runs.end(),
                    [](const RunReport& r) { return !r.time_to_train_s && r.elapsed_s; })) {
        out += "  (time in parentheses: run_start to the last log record; the run has no "
               "run_stop)\n";
    }
}

void split_section(std::string& out, const Report& report) {
    Table t(
        {"RUN", "STAGING", "INIT", "TRAIN", "HIDDEN PASS", "EVAL", "CHECKPOINT", "OTHER", "TOTAL"});
    for (const RunReport& r : report.runs) {
        std::vector<std::string> row{r.run.id};
        for (const detail::SplitPart& p : split_parts(r.split)) {
            row.push_back(opt_seconds(p.seconds));
        }
        row.push_back(fixed(r.split.total_s, 2));
        t.add(std::move(row));
    }
    out += "\nTIME SPLIT (seconds; '-' = not measured for this run)\n" + t.render();
}

void comparison_section(std::string& out, const Report& report) {
    if (report.comparisons.empty()) {
        return;
    }
    const std::string m = metric_label(detail::report_metric(report));
    Table t({"RUN", "BASELINE", "SAME SEED", "SPEED-UP", "TIME SAVED", "SPEED-UP TO TARGET",
             "FINAL " + m + " DIFF", "BEST " + m + " DIFF", "TIMING"});
    for (const Comparison& c : report.comparisons) {
        t.add({c.run_id, c.baseline_id + (c.automatic ? "" : " (given)"),
               c.same_seed ? "yes" : "no", factor_text(c.speedup_total),
               seconds_text(c.time_saved_s), factor_text(c.speedup_to_target),
               c.accuracy_diff_final
                   ? metric_diff_text(detail::comparison_metric(report, c), *c.accuracy_diff_final)
                   : "-",
               c.accuracy_diff_best
                   ? metric_diff_text(detail::comparison_metric(report, c), *c.accuracy_diff_best)
                   : "-",
               c.noise ? "noise " + fixed(c.noise->ratio, 2) + "x" : "ok"});
    }
    out += "\nAGAINST BASELINE (speed-up = baseline time-to-train / run's; > 1 is faster; TIMING: "
           "noise when an epoch of identical work took " +
           fixed(k_noise_ratio, 1) + "x as long or more in one run)\n" + t.render();
}

void groups_section(std::string& out, const Report& report) {
    if (std::none_of(report.groups.begin(), report.groups.end(),
                     [](const SeedGroup& g) { return g.run_ids.size() >= 2; })) {
        return; // one seed each: the cards say it all
    }
    const std::string m = metric_label(detail::report_metric(report));
    Table t({"CONFIGURATION", "RUNS", "SEEDS", "TIME-TO-TRAIN", "OLYMPIC", "FINAL " + m,
             "BEST " + m, "TO TARGET", "SPEED-UP", "FINAL " + m + " DIFF"});
    for (const SeedGroup& g : report.groups) {
        std::string seeds;
        for (std::size_t i = 0; i < g.seeds.size(); ++i) {
            seeds += (i > 0 ? "," : "") + std::to_string(g.seeds[i]);
        }
        const std::string metric = detail::group_metric(report, g);
        t.add({g.label, std::to_string(g.run_ids.size()), seeds, spread_text(g.time_to_train_s, ""),
               g.time_to_train_s.olympic ? fixed(*g.time_to_train_s.olympic, 2) + " s" : "-",
               spread_text(g.final_accuracy, metric), spread_text(g.best_accuracy, metric),
               g.time_to_target_s ? spread_text(*g.time_to_target_s, "") : "-",
               factor_text(g.speedup_total),
               g.accuracy_diff_final ? metric_diff_text(metric, *g.accuracy_diff_final) : "-"});
    }
    out += "\nSEEDS (completed runs; mean ± std; MLPerf olympic mean with >= 5 runs, used for "
           "the speed-up when present; the cards above give 95% t-intervals)\n" +
           t.render();
}

void log_section(std::string& out, const Report& report) {
    out += "\nMLPERF LOG CHECK\n";
    for (const RunReport& r : report.runs) {
        if (r.log.found && r.log.problems.empty()) {
            out += "  " + r.run.id + ": ok, " + std::to_string(r.log.num_records) +
                   " records in order";
        } else {
            out += "  " + r.run.id + ": " + std::to_string(r.log.problems.size()) + " problem" +
                   (r.log.problems.size() == 1 ? "" : "s");
        }
        for (const std::string& note : r.log.notes) {
            out += "; " + note;
        }
        out += "\n";
        const std::size_t shown = std::min<std::size_t>(r.log.problems.size(), 10);
        for (std::size_t i = 0; i < shown; ++i) {
            const LogProblem& p = r.log.problems[i];
            out += "    " + (p.line > 0 ? "line " + std::to_string(p.line) + ": " : "") +
                   p.message + "\n";
        }
        if (shown < r.log.problems.size()) {
            out += "    ... and " + std::to_string(r.log.problems.size() - shown) +
                   " more (--format json lists all)\n";
        }
    }
}

void details_section(std::string& out, const RunReport& r) {
    out += "\n== " + r.run.id + "\n";
    out += "recipe    " + r.run.recipe_path + " (sha256 " + r.run.recipe_hash.substr(0, 12) + ")" +
           (r.recipe.validated ? "" : " [not re-validated: " + r.recipe.note + "]") + "\n";
    out += "          " + r.recipe.model + " on " + r.recipe.dataset + ", batch " +
           std::to_string(r.recipe.batch_size) + ", " + std::to_string(r.recipe.epochs) +
           " epochs, " + strategy_text(r.recipe) + ", lr compensation " + r.recipe.lr_compensation +
           ", seed " + std::to_string(r.run.seed) + ", " + std::to_string(r.ranks) + " rank" +
           (r.ranks == 1 ? "" : "s") +
           (r.recipe.target_accuracy ? ", target " + r.run.metric + " " +
                                           metric_value(r.run.metric, *r.recipe.target_accuracy)
                                     : "") +
           "\n";
    out += "status    " + status_text(r) + (r.run.reason.empty() ? "" : ": " + r.run.reason) + "\n";
    for (const db::AttemptRow& a : r.attempts) {
        out += "attempt " + std::to_string(a.attempt) + " pid " + std::to_string(a.pid) + " on " +
               a.host + ": " + a.status + ", " + a.started_at + " - " +
               (a.ended_at.empty() ? "..." : a.ended_at) +
               (a.reason.empty() ? "" : " (" + a.reason + ")") + "\n";
    }
    out += "log       " + r.log.path + "\n";
    if (r.epochs.empty()) {
        out += "no epochs recorded\n";
        return;
    }
    Table t({"EPOCH", "TEST " + metric_label(r.run.metric), "TRAIN LOSS", "LR", "x SCALE",
             "REQUESTED F", "REALISED", "HIDDEN", "MOVED BACK", "SGD STEPS", "SAVED", "TRAIN s",
             "HIDDEN s", "EVAL s", "TOTAL s", "WALL s", "SAMPLES/s"});
    for (const EpochPoint& p : r.epochs) {
        const db::EpochRow& e = p.row;
        t.add({std::to_string(e.epoch), metric_value(r.run.metric, e.test_accuracy),
               fixed(e.train_loss, 4), fixed(e.lr, 5), fixed(e.lr_scale, 3),
               percent(e.max_fraction), percent(p.realised_fraction), thousands(e.hidden),
               thousands(e.moved_back), thousands(p.sgd_steps), thousands(p.sgd_steps_saved),
               fixed(e.train_s, 2), fixed(e.hidden_pass_s, 2), fixed(e.eval_s, 2),
               fixed(e.total_s, 2), fixed(p.wall_s, 2),
               thousands(static_cast<std::int64_t>(e.samples_per_s))});
    }
    out += t.render();
}

void samples_section(std::string& out, const SampleReport& s) {
    out += "\nSAMPLES of " + s.run_id + " (" + thousands(s.num_samples) + " samples, " +
           std::to_string(s.epochs_recorded) + " epochs)\n";
    Table t({"TIMES HIDDEN", "SAMPLES", "SHARE"});
    for (std::size_t k = 0; k < s.histogram.size(); ++k) {
        t.add({std::to_string(k), thousands(s.histogram[k]),
               percent(s.num_samples > 0 ? static_cast<double>(s.histogram[k]) /
                                               static_cast<double>(s.num_samples)
                                         : 0.0)});
    }
    out += t.render();
    out += "never hidden: " + thousands(s.never_hidden);
    if (!s.never_hidden_first.empty()) {
        out += " (first:";
        for (const std::int64_t id : s.never_hidden_first) {
            out += " " + std::to_string(id);
        }
        out += ")";
    }
    out += "\nmost hidden:";
    for (const auto& [id, times] : s.most_hidden) {
        out += " " + std::to_string(id) + " (" + std::to_string(times) + "x)";
    }
    if (s.most_hidden.empty()) {
        out += " none";
    }
    out += "\n";
    if (!s.have_losses) {
        out += s.note + "\n";
        return;
    }
    out += "loss of hidden vs visible samples in epoch " + std::to_string(s.loss_epoch) + " (" +
           s.note + ")\n";
    Table l({"SET", "SAMPLES", "MEAN", "MEDIAN", "P10", "P90", "MIN", "MAX"});
    for (const auto& [name, st] :
         {std::pair<const char*, const LossStats&>{"hidden", s.hidden},
          std::pair<const char*, const LossStats&>{"visible", s.visible}}) {
        l.add({name, thousands(st.count), fixed(st.mean, 4), fixed(st.median, 4), fixed(st.p10, 4),
               fixed(st.p90, 4), fixed(st.min, 4), fixed(st.max, 4)});
    }
    out += l.render();
}

} // namespace

std::string render_table(const Report& report) {
    std::string out = "kakuren report: " + std::to_string(report.runs.size()) + " run" +
                      (report.runs.size() == 1 ? "" : "s") + " in " + report.workspace +
                      " (generated " + report.generated_at + ")\n\n";
    out += "AT A GLANCE (one card per configuration)\n";
    for (const SeedGroup& g : report.groups) {
        const auto lines = detail::group_card(report, g).lines();
        for (std::size_t i = 0; i < lines.size(); ++i) {
            out += (i == 0 ? "  " : "    ") + lines[i] + "\n";
        }
    }
    for (const RunReport& r : report.runs) {
        if (!detail::has_own_card(report, r)) {
            continue;
        }
        const auto lines = headline(r);
        for (std::size_t i = 0; i < lines.size(); ++i) {
            out += (i == 0 ? "  " : "    ") + lines[i] + "\n";
        }
    }
    for (const std::string& note : report.notes) {
        out += "  note: " + note + "\n";
    }
    out += "\n";
    runs_section(out, report);
    split_section(out, report);
    comparison_section(out, report);
    groups_section(out, report);
    log_section(out, report);
    if (report.runs.size() <= k_detail_runs) {
        for (const RunReport& r : report.runs) {
            details_section(out, r);
        }
    } else {
        out += "\n(per-epoch detail is shown for up to " + std::to_string(k_detail_runs) +
               " runs: name fewer runs, or use --format json or html)\n";
    }
    for (const SampleReport& s : report.samples) {
        samples_section(out, s);
    }
    out += tune_sections_text(report.tunes);
    return out;
}

} // namespace kakuren::report

#include "report/render_common.hpp"

#include "report/text.hpp"

namespace kakuren::report::detail {

std::string status_text(const RunReport& r) {
    std::string status = db::to_string(r.run.status);
    if (r.outcome == "failed" && status != "failed") {
        return "failed (" + status + ")";
    }
    return status;
}

std::string strategy_text(const RecipeSummary& r) {
    if (r.strategy == "none" || r.strategy.empty()) {
        return r.strategy.empty() ? "?" : "none";
    }
    return r.hiding_label;
}

std::string time_to_train_text(const RunReport& r) {
    if (r.time_to_train_s) {
        return seconds_text(r.time_to_train_s);
    }
    if (r.elapsed_s) {
        return "(" + seconds_text(r.elapsed_s) +
               (r.outcome == "running" ? " so far)" : ", no run_stop)");
    }
    return "-";
}

std::string to_target_text(const RunReport& r) {
    if (!r.target) {
        return "-";
    }
    if (!r.target->reached) {
        return "not reached";
    }
    return seconds_text(r.target->time_s) + " (epoch " + std::to_string(r.target->epoch) + ")";
}

std::vector<SplitPart> split_parts(const TimeSplit& s) {
    return {{"staging", "staging", s.staging_s}, {"init", "init", s.init_s},
            {"train", "train", s.train_s},       {"hidden_pass", "hidden pass", s.hidden_pass_s},
            {"eval", "eval", s.eval_s},          {"checkpoint", "checkpoint", s.checkpoint_s},
            {"other", "other", s.other_s}};
}

std::string where_time_went(const TimeSplit& s) {
    if (s.total_s <= 0) {
        return "";
    }
    std::string out = "time went to";
    bool first = true;
    for (const SplitPart& p : split_parts(s)) {
        if (!p.seconds || *p.seconds <= 0) {
            continue;
        }
        out += std::string(first ? " " : ", ") + p.label + " " + percent(*p.seconds / s.total_s, 0);
        first = false;
    }
    out += " of " + seconds_text(s.total_s) + " (init included)";
    if (s.communication_s) {
        out += "; ranks waited on each other's collectives " +
               percent(*s.communication_s / s.total_s, 0) +
               " (communication not hidden behind computation, inside train, hidden pass and "
               "eval)";
    }
    return out;
}

std::string where_time_went(const RunReport& r) {
    return where_time_went(r.split);
}

std::string hiding_sentence(const RunReport& r) {
    if (r.recipe.strategy == "none") {
        return "no hiding";
    }
    std::string out = "hid " + percent(r.mean_realised_fraction) + " of the samples per epoch (" +
                      percent(r.mean_requested_fraction) + " requested), " +
                      thousands(r.moved_back_total) + " moved back";
    if (r.sgd_steps_full > 0) {
        out += "; " + thousands(r.sgd_steps_saved()) + " of " + thousands(r.sgd_steps_full) +
               " SGD steps saved (" +
               percent(static_cast<double>(r.sgd_steps_saved()) /
                       static_cast<double>(r.sgd_steps_full)) +
               ")";
    }
    return out;
}

namespace {

/// A value of the run's metric: accuracy and IoU in percent, MAE (regression) as a number.
std::string accuracy_text(const std::string& metric, const std::optional<double>& a) {
    return a ? metric_value(metric, *a) : "-";
}

} // namespace

std::string report_metric(const Report& report) {
    if (report.runs.empty()) {
        return "accuracy";
    }
    const std::string& first = report.runs.front().run.metric;
    for (const RunReport& r : report.runs) {
        if (r.run.metric != first) {
            return "";
        }
    }
    return first;
}

std::string comparison_metric(const Report& report, const Comparison& c) {
    const RunReport* r = report.find(c.run_id);
    return r != nullptr ? r->run.metric : "accuracy";
}

std::string group_metric(const Report& report, const SeedGroup& g) {
    const RunReport* r = g.run_ids.empty() ? nullptr : report.find(g.run_ids.front());
    return r != nullptr ? r->run.metric : "accuracy";
}

std::vector<std::string> headline(const Report& report, const Comparison& c) {
    const RunReport& r = *report.find(c.run_id);
    const RunReport& b = *report.find(c.baseline_id);
    std::vector<std::string> lines;
    lines.push_back(r.run.id + " (" + strategy_text(r.recipe) + ", seed " +
                    std::to_string(r.run.seed) + ") against " + b.run.id + " (" +
                    strategy_text(b.recipe) + ", seed " + std::to_string(b.run.seed) + ")" +
                    (c.automatic ? "" : " [--baseline]"));
    std::string speed;
    if (c.speedup_total) {
        const double saved = c.time_saved_s.value_or(0);
        speed = (*c.speedup_total >= 1 ? fixed(*c.speedup_total, 2) + "x faster"
                                       : fixed(1.0 / *c.speedup_total, 2) + "x slower") +
                ": time-to-train " + seconds_text(r.time_to_train_s) + " vs " +
                seconds_text(b.time_to_train_s) + " (" + (saved >= 0 ? "saved " : "lost ") +
                seconds_text(saved >= 0 ? saved : -saved) + ", " +
                percent(b.time_to_train_s && *b.time_to_train_s > 0
                            ? (saved >= 0 ? saved : -saved) / *b.time_to_train_s
                            : 0.0,
                        1) +
                ")";
    } else {
        speed = "no speed-up: " + std::string(!r.time_to_train_s ? r.run.id : b.run.id) +
                " has no time-to-train (" + status_text(!r.time_to_train_s ? r : b) + ")";
    }
    if (c.speedup_to_target) {
        speed += "; to the target " + metric_value(r.run.metric, r.target->accuracy) + ": " +
                 factor_text(c.speedup_to_target) + " (" + seconds_text(r.target->time_s) + " vs " +
                 seconds_text(b.target->time_s) + ")";
    } else if (r.target && b.target) {
        speed += "; target " + metric_value(r.run.metric, r.target->accuracy) + ": " +
                 to_target_text(r) + " vs " + to_target_text(b);
    }
    lines.push_back(speed);
    if (c.accuracy_diff_final) {
        const std::string& m = r.run.metric;
        lines.push_back(metric_noun(m) + ": final " + accuracy_text(m, r.run.final_accuracy) +
                        " vs " + accuracy_text(b.run.metric, b.run.final_accuracy) + " (" +
                        metric_diff_text(m, *c.accuracy_diff_final) + "), best " +
                        accuracy_text(m, r.run.best_accuracy) + " vs " +
                        accuracy_text(b.run.metric, b.run.best_accuracy) + " (" +
                        metric_diff_text(m, c.accuracy_diff_best.value_or(0)) + ")");
    }
    lines.push_back(hiding_sentence(r));
    if (const std::string w = where_time_went(r); !w.empty()) {
        lines.push_back(w);
    }
    return lines;
}

std::vector<std::string> headline(const RunReport& r) {
    std::vector<std::string> lines;
    lines.push_back(r.run.id + " (" + strategy_text(r.recipe) + ", seed " +
                    std::to_string(r.run.seed) + "): " + status_text(r) +
                    (r.run.reason.empty() ? "" : " - " + r.run.reason));
    lines.push_back(std::to_string(r.epochs.size()) + "/" + std::to_string(r.run.num_epochs) +
                    " epochs, final " + r.run.metric + " " +
                    accuracy_text(r.run.metric, r.run.final_accuracy) + ", best " +
                    accuracy_text(r.run.metric, r.run.best_accuracy) + ", time-to-train " +
                    time_to_train_text(r) +
                    (r.target ? ", to target " + metric_value(r.run.metric, r.target->accuracy) +
                                    ": " + to_target_text(r)
                              : ""));
    lines.push_back(hiding_sentence(r));
    if (const std::string w = where_time_went(r); !w.empty()) {
        lines.push_back(w);
    }
    return lines;
}

} // namespace kakuren::report::detail

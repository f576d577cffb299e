// The headline card of a configuration: the work saved first, the time ratio beside it with its
// interval over seeds, and the timing noise that makes that ratio unreliable.
#include <algorithm>

#include "report/render_common.hpp"
#include "report/text.hpp"

namespace kakuren::report::detail {

namespace {

std::string fraction_of(std::int64_t part, std::int64_t whole) {
    return percent(whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : 0.0);
}

std::string seeds_text(const SeedGroup& g) {
    std::string s =
        std::to_string(g.run_ids.size()) + (g.run_ids.size() == 1 ? " seed (" : " seeds (");
    for (std::size_t i = 0; i < g.seeds.size(); ++i) {
        s += (i > 0 ? ", " : "") + std::to_string(g.seeds[i]);
    }
    return s + ")";
}

/// The interval's half width in the metric's units: "0.50 pp", "0.0012", "0.01 s".
std::string half_width_text(double h, const std::string& metric) {
    if (metric.empty()) {
        return seconds_text(h);
    }
    return lower_is_better(metric) ? fixed(h, 4) : fixed(h * 100, 2) + " pp";
}

std::string time_line(const Report& report, const SeedGroup& g, Card& card) {
    std::string line;
    const SeedGroup* b = g.baseline_group ? &report.groups[*g.baseline_group] : nullptr;
    if (b != nullptr && g.speedup_total) {
        const double f = *g.speedup_total;
        line =
            "time ratio " + (f >= 1 ? fixed(f, 2) + "x faster" : fixed(1.0 / f, 2) + "x slower") +
            (card.time_reliable ? "" : ", unreliable (timing noise)") + ": time-to-train " +
            interval_text(g.time_to_train_ci, "") + " vs " + interval_text(b->time_to_train_ci, "");
        if (g.time_to_train_ci.half_width && b->time_to_train_ci.half_width &&
            overlap(g.time_to_train_ci, b->time_to_train_ci)) {
            line += "; the intervals overlap: the times are not told apart";
        }
    } else {
        line = "time-to-train " + interval_text(g.time_to_train_ci, "");
    }
    if (g.time_to_train_ci.half_width || (b != nullptr && b->time_to_train_ci.half_width)) {
        line += std::string(" (mean ± ") + k_interval_method + ")";
    }
    if (g.time_to_train_s.olympic) {
        line += "; MLPerf olympic mean " + seconds_text(*g.time_to_train_s.olympic) +
                " (used for the ratio)";
    }
    return line;
}

std::string target_line(const Report& report, const SeedGroup& g, const std::string& metric) {
    const RunReport& first = *report.find(g.run_ids.front());
    const std::string goal = metric_value(metric, first.target->accuracy);
    std::string line = "to target " + goal + ": ";
    line += g.time_to_target_ci ? interval_text(*g.time_to_target_ci, "") : "not reached";
    line += " (" + std::to_string(g.target_reached) + " of " + std::to_string(g.target_runs) +
            " reached it)";
    if (g.baseline_group) {
        const SeedGroup& b = report.groups[*g.baseline_group];
        line += " vs " +
                (b.time_to_target_ci ? interval_text(*b.time_to_target_ci, "")
                                     : std::string("not reached")) +
                " (" + std::to_string(b.target_reached) + " of " + std::to_string(b.target_runs) +
                ")";
    }
    return line;
}

/// The seeds' mean time split; a part only some runs measured is their mean.
TimeSplit mean_split(const Report& report, const SeedGroup& g) {
    TimeSplit m;
    const auto n = static_cast<double>(g.run_ids.size());
    auto add_opt = [](std::optional<double>& to, const std::optional<double>& v, int& count) {
        if (v) {
            to = to.value_or(0) + *v;
            ++count;
        }
    };
    int staging = 0, init = 0, checkpoint = 0, comm = 0;
    for (const std::string& id : g.run_ids) {
        const TimeSplit& s = report.find(id)->split;
        add_opt(m.staging_s, s.staging_s, staging);
        add_opt(m.init_s, s.init_s, init);
        add_opt(m.checkpoint_s, s.checkpoint_s, checkpoint);
        add_opt(m.communication_s, s.communication_s, comm);
        m.train_s += s.train_s / n;
        m.hidden_pass_s += s.hidden_pass_s / n;
        m.eval_s += s.eval_s / n;
        m.other_s += s.other_s / n;
        m.total_s += s.total_s / n;
    }
    for (auto [part, count] :
         {std::pair{&m.staging_s, staging}, std::pair{&m.init_s, init},
          std::pair{&m.checkpoint_s, checkpoint}, std::pair{&m.communication_s, comm}}) {
        if (*part) {
            **part /= count;
        }
    }
    return m;
}

} // namespace

std::string interval_text(const Interval& i, const std::string& metric) {
    if (i.n == 0) {
        return "-";
    }
    std::string out = metric.empty() ? seconds_text(i.mean) : metric_value(metric, i.mean);
    if (i.half_width) {
        return out + " ± " + half_width_text(*i.half_width, metric);
    }
    return out + " (1 seed, no interval)";
}

std::vector<std::string> Card::lines() const {
    std::vector<std::string> out{title, work, time};
    out.insert(out.end(), noise.begin(), noise.end());
    out.insert(out.end(), more.begin(), more.end());
    return out;
}

Card group_card(const Report& report, const SeedGroup& g) {
    Card card;
    const std::string metric = group_metric(report, g);
    const SeedGroup* b = g.baseline_group ? &report.groups[*g.baseline_group] : nullptr;
    card.title =
        g.short_label + ": " + seeds_text(g) +
        (b != nullptr ? " against " + b->short_label + " (" + std::to_string(b->run_ids.size()) +
                            (b->run_ids.size() == 1 ? " seed)" : " seeds)")
                      : "");
    if (g.strategy == "none") {
        card.work_big = "no hiding";
        card.work = "no hiding: every sample trained in every epoch (" +
                    thousands(g.sgd_steps_full) + " SGD steps)";
    } else {
        card.work_big = fraction_of(g.sgd_steps_saved, g.sgd_steps_full) + " fewer SGD steps";
        card.work =
            "saved " + fraction_of(g.sgd_steps_saved, g.sgd_steps_full) + " of the SGD steps (" +
            thousands(g.sgd_steps_saved) + " of " + thousands(g.sgd_steps_full) + ") and " +
            fraction_of(g.samples_saved, g.samples_full) + " of the per-sample backward passes (" +
            thousands(g.samples_saved) + " of " + thousands(g.samples_full) + ")" +
            (g.run_ids.size() > 1 ? ", over its " + std::to_string(g.run_ids.size()) + " seeds"
                                  : "");
    }
    card.time_ratio = b != nullptr ? g.speedup_total : std::nullopt;
    card.time_reliable = g.time_ratio_reliable();
    card.time = time_line(report, g, card);
    for (const TimingNoise& n : g.noise) {
        card.noise.push_back("timing noise: " + n.what +
                             (card.time_ratio ? "; the time ratio is unreliable" : ""));
    }
    std::string acc = metric_noun(metric) + ": final " + interval_text(g.final_accuracy_ci, metric);
    if (b != nullptr) {
        acc += " vs " + interval_text(b->final_accuracy_ci, metric);
        if (g.accuracy_diff_final) {
            acc += " (" + metric_diff_text(metric, *g.accuracy_diff_final) + ")";
        }
    }
    card.more.push_back(acc);
    if (g.target_runs > 0) {
        card.more.push_back(target_line(report, g, metric));
    }
    if (g.run_ids.size() == 1) {
        const RunReport& r = *report.find(g.run_ids.front());
        if (g.strategy != "none") {
            card.more.push_back(hiding_sentence(r));
        }
        if (const std::string w = where_time_went(r); !w.empty()) {
            card.more.push_back(w);
        }
    }
    if (g.run_ids.size() > 1) {
        if (const std::string w = where_time_went(mean_split(report, g)); !w.empty()) {
            card.more.push_back(w + " (mean of " + std::to_string(g.run_ids.size()) + " seeds)");
        }
    }
    if (!g.incomplete_run_ids.empty()) {
        std::string left = "left out (not completed):";
        for (const std::string& id : g.incomplete_run_ids) {
            left += " " + id + " (" + status_text(*report.find(id)) + ")";
        }
        card.more.push_back(left);
    }
    return card;
}

bool has_own_card(const Report& report, const RunReport& r) {
    return !group_of(report, r.run.id);
}

std::optional<std::size_t> group_of(const Report& report, const std::string& run_id) {
    for (std::size_t i = 0; i < report.groups.size(); ++i) {
        const SeedGroup& g = report.groups[i];
        if (std::find(g.run_ids.begin(), g.run_ids.end(), run_id) != g.run_ids.end() ||
            std::find(g.incomplete_run_ids.begin(), g.incomplete_run_ids.end(), run_id) !=
                g.incomplete_run_ids.end()) {
            return i;
        }
    }
    return std::nullopt;
}

} // namespace kakuren::report::detail

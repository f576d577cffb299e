// A run against its baseline: time ratios, accuracy differences, and whether the timing can be
// trusted (identical work, different seconds).
#include <map>

#include "report/groups.hpp"
#include "report/text.hpp"

namespace kakuren::report {

std::optional<TimingNoise> pair_noise(const RunReport& run, const RunReport& baseline) {
    std::map<int, const EpochPoint*> base_epochs;
    for (const EpochPoint& p : baseline.epochs) {
        base_epochs[p.row.epoch] = &p;
    }
    std::optional<TimingNoise> worst;
    for (const EpochPoint& p : run.epochs) {
        const auto it = base_epochs.find(p.row.epoch);
        if (it == base_epochs.end()) {
            continue;
        }
        const db::EpochRow& a = p.row;
        const db::EpochRow& b = it->second->row;
        if (a.visible != b.visible || a.hidden != b.hidden || a.refreshed != b.refreshed ||
            run.run.num_samples != baseline.run.num_samples) {
            continue; // different work: a time difference may be real
        }
        const double sa = a.train_s + a.hidden_pass_s + a.eval_s;
        const double sb = b.train_s + b.hidden_pass_s + b.eval_s;
        if (sa <= 0 || sb <= 0) {
            continue;
        }
        const bool run_slower = sa > sb;
        const double ratio = run_slower ? sa / sb : sb / sa;
        if (ratio < k_noise_ratio || (worst && worst->ratio >= ratio)) {
            continue;
        }
        TimingNoise n;
        n.ratio = ratio;
        n.what = "epoch " + std::to_string(a.epoch) + " did identical work in both runs (" +
                 thousands(a.visible) + " samples trained) but took " + fixed(ratio, 2) +
                 "x as long in " + (run_slower ? run.run.id : baseline.run.id) + " (" +
                 fixed(run_slower ? sa : sb, 2) + " s vs " + fixed(run_slower ? sb : sa, 2) + " s)";
        worst = n;
    }
    return worst;
}

Comparison compare(const RunReport& r, const RunReport& b, bool automatic) {
    Comparison c;
    c.run_id = r.run.id;
    c.baseline_id = b.run.id;
    c.automatic = automatic;
    c.same_seed = r.run.seed == b.run.seed;
    if (r.time_to_train_s && b.time_to_train_s && *r.time_to_train_s > 0) {
        c.speedup_total = *b.time_to_train_s / *r.time_to_train_s;
        c.time_saved_s = *b.time_to_train_s - *r.time_to_train_s;
    }
    if (r.target && b.target && r.target->time_s && b.target->time_s && *r.target->time_s > 0) {
        c.speedup_to_target = *b.target->time_s / *r.target->time_s;
    }
    // A run that did not complete has no final accuracy to compare yet.
    const bool both_completed = r.outcome == "completed" && b.outcome == "completed";
    if (both_completed && r.run.final_accuracy && b.run.final_accuracy) {
        c.accuracy_diff_final = *r.run.final_accuracy - *b.run.final_accuracy;
    }
    if (both_completed && r.run.best_accuracy && b.run.best_accuracy) {
        c.accuracy_diff_best = *r.run.best_accuracy - *b.run.best_accuracy;
    }
    c.noise = pair_noise(r, b);
    return c;
}

} // namespace kakuren::report

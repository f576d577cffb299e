// The report's configurations: runs that differ only in seed, their intervals over seeds, the
// work they saved, their time ratio against the baseline configuration and the timing noise
// that makes such a ratio unreliable.
#include "report/groups.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "report/text.hpp"

namespace kakuren::report {

namespace {

std::string unquote(const std::string& v) {
    return v.size() >= 2 && v.front() == '"' && v.back() == '"' ? v.substr(1, v.size() - 2) : v;
}

/// Settings that are part of a configuration but never of its name.
bool ignored_key(const std::string& k) {
    return k == "run.name" || k == "run.notes" || k == "run.seed" || k.rfind("hiding.", 0) == 0;
}

/// Strategy label plus the settings (up to 3) whose values differ between the configurations.
void set_short_labels(std::vector<SeedGroup>& groups, const std::vector<const RunReport*>& first) {
    std::set<std::string> differing;
    for (std::size_t i = 1; i < first.size(); ++i) {
        for (const auto& [k, v] : first[i]->recipe.values) {
            if (ignored_key(k)) {
                continue;
            }
            for (std::size_t j = 0; j < i; ++j) {
                const auto& other = first[j]->recipe.values;
                const auto it = std::find_if(other.begin(), other.end(),
                                             [&](const auto& kv) { return kv.first == k; });
                if (it == other.end() || it->second != v) {
                    differing.insert(k);
                }
            }
        }
    }
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const RecipeSummary& r = first[g]->recipe;
        std::string label = r.strategy == "none" || r.strategy.empty()
                                ? (r.strategy.empty() ? "?" : "none")
                                : r.hiding_label;
        int shown = 0;
        for (const auto& [k, v] : r.values) { // in the recipe's order
            if (differing.count(k) == 0) {
                continue;
            }
            if (++shown > 3) {
                label += ", ...";
                break;
            }
            label += ", " + k + "=" + unquote(v);
        }
        groups[g].short_label = label;
    }
}

void add_figures(SeedGroup& g, const Report& report) {
    std::vector<double> times, finals, bests, targets;
    for (const std::string& id : g.run_ids) {
        const RunReport& r = *report.find(id);
        if (r.time_to_train_s) {
            times.push_back(*r.time_to_train_s);
        }
        finals.push_back(r.run.final_accuracy.value_or(0));
        bests.push_back(r.run.best_accuracy.value_or(0));
        if (r.target) {
            ++g.target_runs;
            if (r.target->reached && r.target->time_s) {
                ++g.target_reached;
                targets.push_back(*r.target->time_s);
            }
        }
        g.sgd_steps_saved += r.sgd_steps_saved();
        g.sgd_steps_full += r.sgd_steps_full;
        g.samples_saved += r.samples_full - r.samples_trained;
        g.samples_full += r.samples_full;
    }
    g.time_to_train_s = spread(times);
    g.final_accuracy = spread(finals);
    g.best_accuracy = spread(bests);
    g.time_to_train_ci = t_interval_95(times);
    g.final_accuracy_ci = t_interval_95(finals);
    if (!targets.empty()) {
        g.time_to_target_s = spread(targets);
        g.time_to_target_ci = t_interval_95(targets);
    }
    if (g.strategy == "none") {
        if (auto n = seed_noise(g.short_label, times)) {
            g.noise.push_back(*n);
        }
    }
}

/// The pairs of g's runs with their baselines that showed timing noise, as one entry.
std::optional<TimingNoise> pairs_noise(const SeedGroup& g, const Report& report) {
    std::vector<const TimingNoise*> flagged;
    std::size_t pairs = 0;
    const std::set<std::string> runs(g.run_ids.begin(), g.run_ids.end());
    for (const Comparison& c : report.comparisons) {
        if (runs.count(c.run_id) == 0) {
            continue;
        }
        ++pairs;
        if (c.noise) {
            flagged.push_back(&*c.noise);
        }
    }
    if (flagged.empty()) {
        return std::nullopt;
    }
    if (flagged.size() == 1) { // one pair: its own sentence names the run and the epoch
        return *flagged.front();
    }
    TimingNoise n;
    for (const TimingNoise* f : flagged) {
        n.ratio = std::max(n.ratio, f->ratio);
    }
    n.what = "in " + std::to_string(flagged.size()) + " of " + std::to_string(pairs) +
             " pairs with the baseline an epoch of identical work took up to " + fixed(n.ratio, 2) +
             "x as long in one run as in the other";
    return n;
}

} // namespace

std::optional<TimingNoise> seed_noise(const std::string& label,
                                      const std::vector<double>& seconds) {
    const std::optional<double> ratio = spread_ratio(seconds);
    if (!ratio || *ratio < k_noise_ratio) {
        return std::nullopt;
    }
    const auto [lo, hi] = std::minmax_element(seconds.begin(), seconds.end());
    TimingNoise n;
    n.ratio = *ratio;
    n.what = "the " + std::to_string(seconds.size()) + " seeds of " + label +
             " did the same work but took " + fixed(*lo, 2) + " s to " + fixed(*hi, 2) + " s (" +
             fixed(*ratio, 2) + "x apart)";
    return n;
}

std::vector<SeedGroup> build_groups(const Report& report) {
    std::vector<SeedGroup> all;
    std::vector<std::string> keys, baseline_keys;
    std::vector<const RunReport*> first;
    for (const RunReport& r : report.runs) {
        const auto it = std::find(keys.begin(), keys.end(), r.recipe.group_key);
        const auto g = static_cast<std::size_t>(it - keys.begin());
        if (it == keys.end()) {
            keys.push_back(r.recipe.group_key);
            baseline_keys.push_back(r.recipe.baseline_key);
            first.push_back(nullptr);
            SeedGroup sg;
            sg.label = r.recipe.strategy == "none" ? "none (baseline)" : r.recipe.hiding_label;
            sg.strategy = r.recipe.strategy;
            sg.fraction = r.recipe.fraction;
            all.push_back(sg);
        }
        if (r.outcome != "completed") {
            all[g].incomplete_run_ids.push_back(r.run.id);
            continue;
        }
        if (first[g] == nullptr) {
            first[g] = &r;
        }
        all[g].run_ids.push_back(r.run.id);
        all[g].seeds.push_back(r.run.seed);
    }
    // Configurations without a completed run have no figures: their runs keep their own cards.
    std::vector<SeedGroup> groups;
    std::vector<std::string> group_baseline_keys;
    std::vector<const RunReport*> firsts;
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (!all[i].run_ids.empty()) {
            groups.push_back(std::move(all[i]));
            group_baseline_keys.push_back(baseline_keys[i]);
            firsts.push_back(first[i]);
        }
    }
    set_short_labels(groups, firsts);
    for (SeedGroup& g : groups) {
        add_figures(g, report);
    }
    for (std::size_t i = 0; i < groups.size(); ++i) {
        SeedGroup& h = groups[i];
        if (h.strategy == "none") {
            continue;
        }
        for (std::size_t j = 0; j < groups.size(); ++j) {
            const SeedGroup& b = groups[j];
            if (b.strategy != "none" || group_baseline_keys[j] != group_baseline_keys[i]) {
                continue;
            }
            h.baseline_group = j;
            if (b.time_to_train_s.n > 0 && h.time_to_train_s.n > 0 &&
                h.time_to_train_s.central() > 0) {
                h.speedup_total = b.time_to_train_s.central() / h.time_to_train_s.central();
            }
            h.accuracy_diff_final = h.final_accuracy.central() - b.final_accuracy.central();
            h.noise.insert(h.noise.end(), b.noise.begin(), b.noise.end());
            break;
        }
        if (auto n = pairs_noise(h, report)) {
            h.noise.push_back(*n);
        }
        if (h.speedup_total && h.samples_saved == 0 && std::fabs(*h.speedup_total - 1) >= 0.05) {
            // No sample skipped: the same work as the baseline, so the whole difference is noise.
            const double f = *h.speedup_total;
            h.noise.push_back({std::max(f, 1 / f), "it hid nothing and did the same work as its "
                                                   "baseline, yet its time differs by " +
                                                       fixed(std::max(f, 1 / f), 2) + "x"});
        }
    }
    return groups;
}

} // namespace kakuren::report

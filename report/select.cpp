// Which runs a report covers (named ones, a glob over names, --all, else the newest) and the
// baseline each hiding run is compared with.
#include "report/select.hpp"

#include <fnmatch.h>

#include <map>
#include <ranges>
#include <set>

namespace kakuren::report {

std::vector<db::RunRow> select_runs(const db::Store& store, const Request& request,
                                    const std::vector<db::RunRow>& all) {
    std::vector<db::RunRow> selected;
    std::set<std::string> chosen;
    auto choose = [&](const db::RunRow& r) {
        if (chosen.insert(r.id).second) {
            selected.push_back(r);
        }
    };
    for (const std::string& ref : request.runs) {
        const std::optional<db::RunRow> r = store.find_run(ref);
        if (!r) {
            throw UsageError("no run matches '" + ref + "'; 'kakuren runs' lists them");
        }
        choose(*r);
    }
    if (!request.name_pattern.empty()) {
        bool any = false;
        for (const db::RunRow& r : std::views::reverse(all)) { // oldest first
            if (fnmatch(request.name_pattern.c_str(), r.name.c_str(), 0) == 0 ||
                fnmatch(request.name_pattern.c_str(), r.id.c_str(), 0) == 0 ||
                (!r.sweep.empty() &&
                 fnmatch(request.name_pattern.c_str(), r.sweep.c_str(), 0) == 0)) {
                choose(r);
                any = true;
            }
        }
        if (!any) {
            throw UsageError("no run name matches '" + request.name_pattern +
                             "'; 'kakuren runs' lists them");
        }
    }
    if (request.all) {
        for (const db::RunRow& r : std::views::reverse(all)) {
            choose(r);
        }
    }
    if (request.runs.empty() && request.name_pattern.empty() && !request.all) {
        if (all.empty()) {
            throw UsageError("no runs in the workspace " + request.workspace +
                             "; 'kakuren run RECIPE' records one");
        }
        choose(all.front()); // nothing named: the newest run
    }

    return selected;
}

namespace {

bool completed(db::RunStatus s) {
    return s == db::RunStatus::succeeded || s == db::RunStatus::finished;
}

} // namespace

Baselines find_baselines(const db::Store& store, const Request& request,
                         const std::vector<db::RunRow>& selected,
                         const std::map<std::string, RunReport>& built,
                         const std::vector<db::RunRow>& all) {
    Baselines out;
    // Baselines: the one given, else per hiding run the strategy=none run of the same recipe
    // (seed, then completion, then recency decide between several).
    std::optional<db::RunRow> explicit_baseline;
    if (!request.baseline.empty()) {
        explicit_baseline = store.find_run(request.baseline);
        if (!explicit_baseline) {
            throw UsageError("no run matches the baseline '" + request.baseline +
                             "'; 'kakuren runs' lists them");
        }
    }
    std::map<std::string, RecipeSummary> candidate_recipes;
    auto candidate_recipe = [&](const db::RunRow& r) -> const RecipeSummary& {
        auto it = candidate_recipes.find(r.id);
        if (it == candidate_recipes.end()) {
            it = candidate_recipes
                     .emplace(r.id, summarize_recipe(r.recipe_text, r.run_dir + "/recipe.toml"))
                     .first;
        }
        return it->second;
    };
    for (const db::RunRow& row : selected) {
        const RunReport& r = built.at(row.id);
        const std::string strategy = r.recipe.strategy.empty() ? row.strategy : r.recipe.strategy;
        if (explicit_baseline) {
            if (row.id == explicit_baseline->id) {
                out.notes.push_back("--baseline " + row.id +
                                    " is a run of the report itself: it is not compared "
                                    "with itself");
                continue;
            }
            const RecipeSummary& b = candidate_recipe(*explicit_baseline);
            if (b.dataset != r.recipe.dataset || b.model != r.recipe.model) {
                out.notes.push_back("warning: baseline " + explicit_baseline->id + " trains " +
                                    b.model + " on " + b.dataset + " but " + row.id + " trains " +
                                    r.recipe.model + " on " + r.recipe.dataset +
                                    ": their accuracies and times measure different problems");
            }
            out.pairs.emplace_back(row.id, explicit_baseline->id);
            continue;
        }
        if (strategy == "none") {
            continue;
        }
        const db::RunRow* best = nullptr;
        int best_score = -1;
        for (const db::RunRow& c : all) { // newest first: ties keep the newest
            if (c.id == row.id || c.strategy != "none" ||
                candidate_recipe(c).baseline_key != r.recipe.baseline_key) {
                continue;
            }
            const int score = (c.seed == row.seed ? 2 : 0) + (completed(c.status) ? 1 : 0);
            if (score > best_score) {
                best = &c;
                best_score = score;
            }
        }
        if (best == nullptr) {
            out.notes.push_back("no baseline for " + row.id +
                                ": run the same recipe with --set hiding.strategy=none, or "
                                "pass --baseline RUN");
            continue;
        }
        out.pairs.emplace_back(row.id, best->id);
        out.automatic.insert(row.id);
    }
    return out;
}

} // namespace kakuren::report

// kakuren tune's rounds (tune/tune.hpp).
#include "tune/tune.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <ostream>

#include "recipes/kinds.hpp"
#include "report/text.hpp"
#include "tune/outcome.hpp"
#include "util/error.hpp"

namespace kakuren::tune {
namespace {

/// Every trial writes a checkpoint at each epoch end: a killed tune loses at most the epoch in
/// progress.
const std::string k_checkpoint_every_epoch = "checkpoint.every_epochs=1";

std::optional<double> target_of(const recipes::Recipe& r) {
    return r.task.target ? r.task.target : r.run.target_accuracy;
}

recipes::Recipe recipe_of(const db::TuneRow& tune) {
    return recipes::parse(tune.recipe_text, tune.recipe_path);
}

hiding::ParamLookup base_values(const recipes::Recipe& r) {
    return [h = r.hiding](std::string_view key) -> std::optional<double> {
        if (key == "fraction") {
            return h.fraction;
        }
        if (key == "tau") {
            return h.tau;
        }
        if (key == "refresh_every") {
            return h.refresh_every;
        }
        const auto it = h.params.find(key);
        return it == h.params.end() ? std::nullopt : std::optional<double>(it->second);
    };
}

std::vector<Round> plan_of(const db::TuneRow& tune, int num_hiding, int max_epochs) {
    return tune.budget_epochs > 0
               ? plan_rounds(num_hiding, tune.eta, max_epochs, tune.budget_epochs)
               : plan_rounds_unbounded(num_hiding, tune.eta, max_epochs);
}

CandidateResult result_of(const db::Store& store, const db::TuneTrialRow& trial, double target,
                          bool lower_is_better) {
    CandidateResult c;
    c.candidate = trial.candidate;
    c.label = trial.label;
    c.overrides = trial.overrides;
    c.run_id = trial.run_id;
    const std::string& first = trial.overrides.empty() ? std::string() : trial.overrides.front();
    c.strategy = first.substr(first.find('=') + 1);
    c.strategy.erase(std::remove(c.strategy.begin(), c.strategy.end(), '"'), c.strategy.end());
    const std::optional<db::RunRow> run =
        trial.run_id.empty() ? std::nullopt : store.find_run(trial.run_id);
    if (!run) {
        c.time = project({}, target, lower_is_better);
        c.work = c.time;
        return c;
    }
    c.status = db::to_string(run->status);
    c.realised_hidden = run->mean_realised_fraction;
    c.final_metric = run->final_accuracy;
    std::vector<Point> time, work;
    double seconds = 0, samples = 0;
    for (const db::EpochRow& e : store.epochs(run->id)) {
        seconds += e.total_s;
        samples += static_cast<double>(e.visible);
        time.push_back({seconds, e.test_accuracy});
        work.push_back({samples, e.test_accuracy});
        c.metrics.push_back(e.test_accuracy);
    }
    c.epochs = static_cast<int>(c.metrics.size());
    c.seconds = seconds;
    c.time = project(time, target, lower_is_better);
    c.work = project(work, target, lower_is_better);
    return c;
}

/// Best first: the candidates that reached the target (measured: a fact, not a projection) by
/// their cost; then those of the latest rounds (the survivors of successive halving, compared at
/// the same epochs) before those left out earlier, each by the smaller projected cost (time or
/// work), the better final metric, the candidate number.
void rank(std::vector<CandidateResult>& results, const std::string& rank_by, bool lower_is_better) {
    const auto key = [&](const CandidateResult& c) {
        const Projection& p = rank_by == "work" ? c.work : c.time;
        return p.projected() ? p.cost : std::numeric_limits<double>::infinity();
    };
    const auto metric = [&](const CandidateResult& c) {
        const double m = c.final_metric.value_or(lower_is_better ? 1e300 : -1e300);
        return lower_is_better ? -m : m;
    };
    const auto measured = [&](const CandidateResult& c) {
        return (rank_by == "work" ? c.work : c.time).kind == ProjectionKind::measured;
    };
    std::stable_sort(results.begin(), results.end(), [&](const auto& a, const auto& b) {
        if (measured(a) != measured(b)) {
            return measured(a);
        }
        if (!measured(a) && a.last_round != b.last_round) {
            return a.last_round > b.last_round;
        }
        if (key(a) != key(b)) {
            return key(a) < key(b);
        }
        if (metric(a) != metric(b)) {
            return metric(a) > metric(b);
        }
        return a.candidate < b.candidate;
    });
}

/// What training candidate's run to `epochs` means now: the line to print ("  rotate: new run,
/// epochs 1-2"), or nullopt when it is there or has ended.
std::optional<std::string> segment_of(const db::Store& store, const db::TuneRow& tune,
                                      const db::TuneTrialRow& trial, int epochs) {
    if (trial.run_id.empty()) {
        return "  " + trial.label + ": new run, epochs 1-" + std::to_string(epochs);
    }
    const std::optional<db::RunRow> run = store.find_run(trial.run_id);
    if (!run) {
        throw RuntimeFailure("tune " + tune.id + ": the run " + trial.run_id + " of candidate " +
                             trial.label + " is not in the database any more");
    }
    const bool ended =
        run->status == db::RunStatus::succeeded || run->status == db::RunStatus::finished;
    if (ended || run->epochs_done >= epochs) {
        return std::nullopt;
    }
    return "  " + trial.label + ": run " + run->id + " continued, epochs " +
           std::to_string(run->epochs_done + 1) + "-" + std::to_string(epochs);
}

/// Trains candidate's run to `epochs` unless it is there or has ended.
void train_to(db::Store& store, const db::TuneRow& tune, const db::TuneTrialRow& trial, int epochs,
              Trainer& trainer, std::ostream& progress) {
    const std::optional<std::string> segment = segment_of(store, tune, trial, epochs);
    if (!segment) {
        return;
    }
    progress << *segment << std::endl;
    std::vector<std::string> overrides = trial.overrides;
    overrides.push_back(k_checkpoint_every_epoch);
    if (trial.run_id.empty()) {
        trainer.start(tune.id, tune.recipe_text, overrides, epochs, [&](const std::string& run_id) {
            db::set_trial_run(store, tune.id, trial.candidate, run_id);
        });
        return;
    }
    trainer.resume(trial.run_id, epochs);
}

/// Trains a round: through the runner (the candidates with something to train, their lines
/// printed here), else one after another.
void train_round(db::Store& store, const db::TuneRow& tune, const db::TuneRoundRow& round,
                 Trainer& trainer, std::ostream& progress, RoundRunner* runner) {
    std::vector<int> order = round.survivors;
    std::sort(order.begin(), order.end());
    std::vector<int> todo;
    for (const int c : order) {
        // Re-read: a run created in this round's earlier steps is linked now.
        const db::TuneTrialRow trial = db::tune_trials(store, tune.id).at(c);
        if (runner == nullptr) {
            train_to(store, tune, trial, round.epochs, trainer, progress);
        } else if (const auto segment = segment_of(store, tune, trial, round.epochs)) {
            progress << *segment << std::endl;
            todo.push_back(c);
        }
    }
    if (runner != nullptr && !todo.empty()) {
        runner->train(tune, todo, round.epochs);
    }
}

/// A duration budget: whether the next round, at the mean seconds per epoch so far, fits in the
/// time left.
bool fits_in_time(const Outcome& standing, const Round& next, int epochs_now, double budget_s) {
    double seconds = 0;
    int epochs = 0;
    for (const CandidateResult& c : standing.ranked) {
        seconds += c.seconds;
        epochs += c.epochs;
    }
    if (epochs == 0) {
        return false;
    }
    const double per_epoch = seconds / epochs;
    const double next_s = per_epoch * (next.survivors + 1) * (next.epochs - epochs_now);
    return seconds + next_s <= budget_s;
}

} // namespace

std::vector<int> survivors_of(const Outcome& standing, const std::vector<int>& current, int keep) {
    const auto in_round = [&](const CandidateResult& c) {
        return std::find(current.begin(), current.end(), c.candidate) != current.end();
    };
    // Not started: a hiding candidate that has hidden nothing yet trained as none did (the same
    // seed), so its own projection only measures noise; it stands where none stands.
    const auto not_started = [](const CandidateResult& c) {
        return c.candidate != 0 && c.realised_hidden == 0 &&
               c.work.kind != ProjectionKind::measured;
    };
    std::vector<const CandidateResult*> order;
    for (const CandidateResult& c : standing.ranked) {
        if (!in_round(c) || not_started(c)) {
            continue;
        }
        order.push_back(&c);
        if (c.candidate == 0) {
            for (const CandidateResult& n : standing.ranked) {
                if (in_round(n) && not_started(n)) {
                    order.push_back(&n);
                }
            }
        }
    }
    std::vector<int> out;
    int kept = 0;
    for (const CandidateResult* c : order) {
        if (c->candidate == 0 || kept < keep) {
            kept += c->candidate == 0 ? 0 : 1;
            out.push_back(c->candidate);
        }
    }
    return out;
}

std::vector<Round> check(const recipes::Recipe& recipe, const Request& request) {
    if (!target_of(recipe)) {
        throw UsageError(recipe.file.string() +
                         ": the recipe has no target: kakuren tune ranks candidates by the time "
                         "to reach it. Set task.target (or run.target_accuracy), e.g. --set " +
                         "task.target=0.9");
    }
    if (request.eta < 2) {
        throw UsageError("--eta " + std::to_string(request.eta) +
                         ": expected a whole number >= 2 (1 / eta of the candidates survive a "
                         "round)");
    }
    const int num_hiding = static_cast<int>(request.candidates.size()) - 1;
    if (request.budget.epochs > 0) {
        return plan_rounds(num_hiding, request.eta, recipe.schedule.epochs, request.budget.epochs);
    }
    return plan_rounds_unbounded(num_hiding, request.eta, recipe.schedule.epochs);
}

std::string create(db::Store& store, const recipes::Recipe& recipe, const Request& request,
                   const std::string& tune_id) {
    const std::vector<Round> rounds = check(recipe, request);
    db::TuneRow t;
    t.id = tune_id;
    t.recipe_path = std::filesystem::absolute(recipe.file).string();
    t.recipe_text = recipes::to_toml(recipe);
    t.budget = request.budget.text;
    t.budget_epochs = request.budget.epochs;
    t.budget_s = request.budget.seconds;
    t.eta = request.eta;
    t.rank_by = request.rank_by;
    std::vector<db::TuneTrialRow> trials;
    db::TuneRoundRow first{1, rounds.front().epochs, {}};
    for (std::size_t i = 0; i < request.candidates.size(); ++i) {
        const Candidate& c = request.candidates[i];
        trials.push_back({static_cast<int>(i), c.label(base_values(recipe)), c.overrides(), ""});
        first.survivors.push_back(static_cast<int>(i));
    }
    db::insert_tune(store, t, trials);
    db::insert_tune_round(store, tune_id, first);
    return tune_id;
}

Outcome evaluate(const db::Store& store, const db::TuneRow& tune) {
    const recipes::Recipe recipe = recipe_of(tune);
    Outcome o;
    o.tune = tune;
    o.metric = std::string(recipes::task_metric(recipe.task.kind));
    o.target = target_of(recipe).value_or(0);
    o.rounds = db::tune_rounds(store, tune.id);
    o.finished = tune.status == "done";
    const bool lower = report::lower_is_better(o.metric);
    for (const db::TuneTrialRow& trial : db::tune_trials(store, tune.id)) {
        CandidateResult c = result_of(store, trial, o.target, lower);
        for (const db::TuneRoundRow& r : o.rounds) {
            if (std::find(r.survivors.begin(), r.survivors.end(), c.candidate) !=
                r.survivors.end()) {
                c.last_round = r.round;
            }
        }
        o.ranked.push_back(std::move(c));
    }
    const auto none = std::find_if(o.ranked.begin(), o.ranked.end(),
                                   [](const CandidateResult& c) { return c.candidate == 0; });
    for (CandidateResult& c : o.ranked) {
        if (none != o.ranked.end()) {
            c.time_vs_none = compare(c.time, none->time);
            c.work_vs_none = compare(c.work, none->work);
        }
    }
    rank(o.ranked, tune.rank_by, lower);
    o.verdict = verdict(o);
    return o;
}

Outcome run(db::Store& store, const std::string& tune_id, Trainer& trainer, std::ostream& progress,
            RoundRunner* runner) {
    const std::optional<db::TuneRow> found = db::find_tune(store, tune_id);
    if (!found) {
        throw UsageError("no tune " + tune_id + " in " + store.file().string());
    }
    const db::TuneRow& tune = *found;
    const recipes::Recipe recipe = recipe_of(tune);
    const std::vector<db::TuneTrialRow> initial = db::tune_trials(store, tune.id);
    const std::vector<Round> plan =
        plan_of(tune, static_cast<int>(initial.size()) - 1, recipe.schedule.epochs);
    while (tune.status == "running") {
        const db::TuneRoundRow current = db::tune_rounds(store, tune.id).back();
        progress << "round " << current.round << "/" << plan.size() << ": "
                 << current.survivors.size() << " candidates to epoch " << current.epochs
                 << std::endl;
        train_round(store, tune, current, trainer, progress, runner);
        Outcome standing = evaluate(store, tune);
        const auto next = static_cast<std::size_t>(current.round);
        bool more = next < plan.size();
        if (more && tune.budget_s > 0) {
            more = fits_in_time(standing, plan[next], current.epochs, tune.budget_s);
        }
        if (!more) {
            break;
        }
        const std::vector<int> survivors =
            survivors_of(standing, current.survivors, plan[next].survivors);
        db::insert_tune_round(store, tune.id, {current.round + 1, plan[next].epochs, survivors});
    }
    if (tune.status == "running") {
        db::set_tune_status(store, tune.id, "done");
    }
    db::TuneRow done = *db::find_tune(store, tune.id);
    return evaluate(store, done);
}

void train_candidate(db::Store& store, const std::string& tune_id, int candidate, int until,
                     Trainer& trainer, std::ostream& progress) {
    const std::optional<db::TuneRow> tune = db::find_tune(store, tune_id);
    if (!tune) {
        throw UsageError("no tune " + tune_id + " in " + store.file().string());
    }
    const std::vector<db::TuneTrialRow> trials = db::tune_trials(store, tune->id);
    if (candidate < 0 || candidate >= static_cast<int>(trials.size())) {
        throw UsageError("tune " + tune->id + " has no candidate " + std::to_string(candidate) +
                         "; it has 0-" + std::to_string(trials.size() - 1));
    }
    train_to(store, *tune, trials[static_cast<std::size_t>(candidate)], until, trainer, progress);
}

std::string winner_recipe(const Outcome& outcome) {
    const CandidateResult& w = outcome.ranked.front();
    const recipes::Recipe r =
        recipes::parse(outcome.tune.recipe_text, outcome.tune.recipe_path, w.overrides);
    return "# Written by kakuren tune " + outcome.tune.id + ": the winner, " + w.label + ".\n# " +
           outcome.verdict + "\n" + recipes::to_toml(r);
}

} // namespace kakuren::tune

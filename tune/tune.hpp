#pragma once
// kakuren tune: which hiding, with which settings, reaches the recipe's target soonest, and does
// it pay? Successive halving over candidates (tune/candidates.hpp, tune/plan.hpp), each trained
// as one run that later rounds continue (never retrain), ranked by the projected cost to the
// target (tune/projection.hpp). The whole tune is one record (db/tunes.hpp): a run interrupted
// or killed is continued by running it again (tune::run on the same id).
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "db/store.hpp"
#include "db/tunes.hpp"
#include "recipes/recipe.hpp"
#include "tune/candidates.hpp"
#include "tune/plan.hpp"
#include "tune/projection.hpp"

namespace kakuren::tune {

/// How a tune trains its runs; implemented by the command layer with the run / resume
/// machinery (cli/tune_runner.cpp).
class Trainer {
  public:
    virtual ~Trainer() = default;
    /// Creates a run of recipe_text with these overrides (its runs.sweep = tune_id), calls
    /// created(run_id) as soon as its record exists, and trains it until epoch `until` ends
    /// (or the run ends: its target, its last epoch). Returns the run id.
    virtual std::string start(const std::string& tune_id, const std::string& recipe_text,
                              const std::vector<std::string>& overrides, int until,
                              const std::function<void(const std::string&)>& created) = 0;
    /// Continues run_id from its newest valid checkpoint until epoch `until` ends (or it ends).
    virtual void resume(const std::string& run_id, int until) = 0;
};

/// Trains a round's candidates some other way than one after another in this process (e.g.
/// as separate processes, several at once: cli/tune_parallel.hpp). Each candidate's training
/// must do what train_candidate does; the runner returns when all have stopped, and throws what
/// stopped the tune (the tune stays resumable).
class RoundRunner {
  public:
    virtual ~RoundRunner() = default;
    /// candidates: those of the round with something to train, in candidate order.
    virtual void train(const db::TuneRow& tune, const std::vector<int>& candidates, int until) = 0;
};

/// What `kakuren tune RECIPE` asks for.
struct Request {
    std::vector<Candidate> candidates; ///< none first (candidate_list)
    Budget budget;
    int eta = 2;
    std::string rank_by = "time"; ///< time | work
};

/// Checks the request against the recipe (a target; a budget of one epoch per candidate) and
/// records the tune with its trials and first round; returns its id. Throws UsageError
/// (nothing recorded) for a recipe without task.target / run.target_accuracy or a budget too
/// small.
std::string create(db::Store& store, const recipes::Recipe& recipe, const Request& request,
                   const std::string& tune_id);
/// The same checks without recording anything (a dry run): the rounds it would train.
std::vector<Round> check(const recipes::Recipe& recipe, const Request& request);

/// One candidate's standing.
struct CandidateResult {
    int candidate = 0;
    std::string label, strategy, run_id, status;
    std::vector<std::string> overrides;
    int epochs = 0;                     ///< epochs its run has done
    double seconds = 0;                 ///< their time (epochs' total_s summed)
    std::vector<double> metrics;        ///< the test metric after each epoch
    std::optional<double> final_metric; ///< after its last epoch
    double realised_hidden = 0;         ///< hidden / (N * epochs)
    Projection time, work;              ///< to the target: seconds, samples trained
    std::optional<Comparison> time_vs_none, work_vs_none;
    int last_round = 0; ///< the last round it took part in (1-based; 0 = none yet)
};

struct Outcome {
    db::TuneRow tune;
    std::string metric; ///< accuracy | IoU | MAE
    double target = 0;
    std::vector<db::TuneRoundRow> rounds;
    std::vector<CandidateResult> ranked; ///< best first
    bool finished = false;               ///< every round done
    std::string verdict;                 ///< one sentence (tune/outcome.hpp)
};

/// The survivors of the next round, best first: none always, and the keep best of the current
/// round's hiding candidates (standing.ranked's order). A hiding candidate that has hidden
/// nothing yet (kakurenbo before any sample is predicted right with confidence, a strategy in
/// its warm-up) ranks where none does: its training so far is none's, and cutting it on that
/// projection would cut it on noise.
std::vector<int> survivors_of(const Outcome& standing, const std::vector<int>& current, int keep);

/// Trains what the tune still has to train, round after round, deciding each round's survivors
/// when it ends; prints a line per trained segment to progress. Returns the outcome. Rethrows
/// what the trainer throws (the tune stays resumable).
/// With a runner, each round's candidates are trained by it instead of one after another here.
Outcome run(db::Store& store, const std::string& tune_id, Trainer& trainer, std::ostream& progress,
            RoundRunner* runner = nullptr);

/// Trains one candidate of the tune to epoch `until` (a new run, or its run continued), unless
/// its run is there or has ended; prints what it trains to progress. What a RoundRunner's
/// worker calls. Throws UsageError for an unknown tune or candidate, RuntimeFailure when the
/// candidate's run is gone, and what the trainer throws.
void train_candidate(db::Store& store, const std::string& tune_id, int candidate, int until,
                     Trainer& trainer, std::ostream& progress);

/// The tune's standing from its records (no training).
Outcome evaluate(const db::Store& store, const db::TuneRow& tune);

/// The winner's recipe: the tuned recipe with the winner's overrides, as canonical TOML with a
/// comment saying where it comes from.
std::string winner_recipe(const Outcome& outcome);

} // namespace kakuren::tune

#pragma once
// One attempt of a run in this process, shared by `kakuren run` and `kakuren resume`: trains,
// records every epoch (database, train.log) and checkpoint, shows progress, ends the attempt
// with the status its outcome gives and prints that outcome.
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/manager.hpp"
#include "checkpoint/state.hpp"
#include "cli/commands.hpp"
#include "db/store.hpp"
#include "launcher/workspace.hpp"
#include "recipes/recipe.hpp"
#include "trainer/trainer.hpp"
#include "util/json.hpp"
#include "util/system.hpp"

namespace kakuren::cli {

struct Attempt {
    const launcher::Workspace* ws = nullptr;
    db::Store* store = nullptr;
    std::string run_id;
    int attempt = 1;         ///< from Store::begin_attempt
    trainer::Config config;  ///< with config.checkpoint set: checkpoints are written
    std::string recipe_text; ///< the resolved recipe, kept in each checkpoint
    const checkpoint::Resume* resume = nullptr; ///< continue from this checkpoint
    bool quiet = false;
    Format format = Format::text;
    util::JsonObject extra_json; ///< added to the --format json summary
    /// false on ranks other than 0: train and print epoch lines, but record nothing (no
    /// database rows, checkpoints, MLPerf log or attempt end).
    bool record = true;
    /// > 0: pause after this epoch ends (launcher::request_pause): the attempt ends interrupted
    /// with a checkpoint there, to be continued later (kakuren tune's rounds).
    int pause_after_epoch = 0;
    bool print_outcome = true; ///< false: print nothing at the end (the caller reports)
    /// The run's lock (launcher::claim_run), held by the caller: checked before every record,
    /// and the attempt stops without writing once it no longer is the run's lock.
    const util::FileLock* owner = nullptr;
};

/// A run just recorded, with its first attempt begun, owned by this process while owner lives.
struct NewRun {
    std::string run_id;
    std::filesystem::path run_dir;
    std::string resolved; ///< recipes::to_toml(recipe), also in run_dir/recipe.toml
    int attempt = 1;
    util::FileLock owner;
};

/// What kakuren run checks before it records anything (threads, data files, a TorchScript
/// module, a GPU asked for); throws UsageError / RecipeError (exit 2) naming the problem.
void check_before_recording(const recipes::Recipe& recipe, const trainer::Config& config);

/// Records a new run of recipe (kakuren run; kakuren tune with sweep = the tune id): its
/// folder, resolved recipe, database row and first attempt (cli/run_command.cpp).
NewRun create_run(const launcher::Workspace& ws, db::Store& store, const recipes::Recipe& recipe,
                  const std::string& sweep = "");

/// Runs the attempt (begun with Store::begin_attempt) to its end and returns the exit code
/// (docs/cli.md "Exit codes"). A failure ends the attempt as failed and is rethrown.
int run_attempt(Attempt& attempt);

/// How a run goes on from its newest valid checkpoint (cli/resume_command.cpp).
struct Continuation {
    std::optional<checkpoint::Resume> chosen; ///< nullopt: from the beginning
    recipes::Recipe recipe;                   ///< the recipe it continues with
    std::string resolved;                     ///< recipes::to_toml(recipe)
    trainer::Config config;
    int attempt = 0;                         ///< take_over: the attempt begun
    std::vector<checkpoint::Status> skipped; ///< damaged checkpoints newer than chosen
    std::string from;                        ///< "checkpoint 0003-end (...)", for messages
    /// take_over: this process owns the run while this is held (launcher::claim_run).
    std::optional<util::FileLock> owner;
};

/// Chooses the checkpoint and recipe without changing anything (ranks other than 0 use it to
/// follow rank 0). Throws UsageError for recipe changes that break exactness (options.force
/// allows them) and for a checkpoint written by another number of ranks.
Continuation plan_continuation(const launcher::Workspace& ws, const db::Store& store,
                               const db::RunRow& run, const struct ResumeOptions& options,
                               int world_size);

/// Claims the run (launcher::claim_run: throws RunBusy when another process owns it; a job
/// waits a while for a previous owner's lock), checks the database (PRAGMA quick_check) and
/// that the run may still be continued, then plan_continuation, then takes the run over:
/// begins a new attempt (recording place), sets damaged checkpoints aside, removes uncommitted
/// folders, rewinds the records and cuts the MLPerf log back to the checkpoint.
Continuation take_over(const launcher::Workspace& ws, db::Store& store, const db::RunRow& run,
                       const struct ResumeOptions& options, const db::AttemptPlace& place);

} // namespace kakuren::cli

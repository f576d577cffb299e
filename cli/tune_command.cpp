// `kakuren tune`: options in, tune::create / tune::run, the ranked table and the winner's recipe
// out. The rounds, the projection and the verdict are tune/'s.
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/config_map.hpp"
#include "cli/session.hpp"
#include "cli/tune_parallel.hpp"
#include "cli/tune_runner.hpp"
#include "launcher/ownership.hpp"
#include "launcher/workspace.hpp"
#include "recipes/recipe.hpp"
#include "tune/outcome.hpp"
#include "util/log.hpp"
#include "util/system.hpp"

namespace kakuren::cli {
namespace {

namespace fs = std::filesystem;

fs::path winner_path(const TuneOptions& options, const fs::path& recipe_path) {
    if (!options.output.empty()) {
        return options.output;
    }
    fs::path out = recipe_path;
    return out.replace_filename(recipe_path.stem().string() + ".tuned.toml");
}

void refuse_overwrite(const fs::path& out, bool force) {
    if (!force && fs::exists(out)) {
        throw UsageError(out.string() + " exists: kakuren tune writes the winner's recipe there; "
                                        "add --force to replace it, or choose another file with "
                                        "-o");
    }
}

/// Validates everything, records the tune; returns its id ("" on a dry run, after printing).
std::string create_tune(const launcher::Workspace& ws, const TuneOptions& options) {
    const recipes::Recipe recipe = recipes::load(options.recipe, options.overrides);
    tune::Request request;
    request.candidates = tune::candidate_list(options.tries);
    request.budget = tune::parse_budget(
        options.budget.empty() ? std::to_string(3 * recipe.schedule.epochs) : options.budget);
    request.eta = options.eta;
    request.rank_by = options.rank_by;
    refuse_overwrite(winner_path(options, recipe.file), options.force);
    check_before_recording(recipe, trainer_config(recipe));
    const std::vector<tune::Round> rounds = tune::check(recipe, request);
    if (options.dry_run) {
        std::cout << "dry run: nothing is created or trained\n"
                  << request.candidates.size() << " candidates, budget " << request.budget.text
                  << ":\n";
        for (const tune::Candidate& c : request.candidates) {
            std::string line;
            for (const std::string& o : c.overrides()) {
                line += " --set " + o;
            }
            std::cout << "  " << c.strategy << ":" << line << "\n";
        }
        for (std::size_t r = 0; r < rounds.size(); ++r) {
            std::cout << "round " << r + 1 << ": " << rounds[r].survivors + 1
                      << " candidates to epoch " << rounds[r].epochs << "\n";
        }
        return "";
    }
    launcher::ensure_workspace(ws);
    db::Store store = db::Store::open(ws.db_file);
    launcher::remember_workspace(ws);
    return tune::create(store, recipe, request, "tune-" + launcher::new_run_id(recipe.run.name));
}

} // namespace

int tune_command(const CommonOptions& common, const TuneOptions& options) {
    if (options.trial >= 0) {
        return tune_trial_command(common, options);
    }
    if (options.parallel < 1) {
        throw UsageError("--parallel " + std::to_string(options.parallel) +
                         ": expected a whole number >= 1 (candidates trained at once)");
    }
    const launcher::Workspace ws = launcher::resolve_workspace(common.workspace);
    const bool json = common.format == Format::json;
    std::string tune_id = options.resume;
    if (!tune_id.empty() &&
        (!options.tries.empty() || !options.overrides.empty() || !options.budget.empty())) {
        throw UsageError("--resume " + tune_id +
                         " continues the tune as it was recorded: --try, --set and --budget "
                         "cannot change it (start a new tune with kakuren tune RECIPE)");
    }
    if (tune_id.empty()) {
        tune_id = create_tune(ws, options);
        if (tune_id.empty()) {
            return k_exit_ok; // dry run
        }
    }
    if (!fs::exists(ws.db_file)) {
        throw UsageError("no tune " + tune_id + ": " + ws.db_file.string() +
                         " does not exist (kakuren tune RECIPE starts one)");
    }
    db::Store store = db::Store::open(ws.db_file, false);
    const std::optional<db::TuneRow> tune = db::find_tune(store, tune_id);
    if (!tune) {
        throw UsageError("no tune " + tune_id + " in " + ws.db_file.string() +
                         " (kakuren tune RECIPE starts one)");
    }
    launcher::reap_dead_runs(store); // a killed tune's trial: crashed, continued below
    std::ostream& progress = json ? std::cerr : std::cout;
    progress << "tune " << tune->id << "\n"
             << "kakuren tune --resume " << tune->id << " continues it if it stops" << std::endl;
    LocalTuneTrainer trainer(ws, store, tune->recipe_path);
    ProcessRoundRunner processes(ws, options.parallel);
    tune::Outcome outcome;
    try {
        outcome = tune::run(store, tune->id, trainer, progress,
                            options.parallel > 1 ? &processes : nullptr);
    } catch (const TuneInterrupted& e) {
        std::cerr << "kakuren: tune " << tune->id << " stopped: " << e.what()
                  << "; kakuren tune --resume " << tune->id << " continues it\n";
        return k_exit_interrupted;
    }
    const fs::path out = winner_path(options, tune->recipe_path);
    std::string written;
    if (!options.force && fs::exists(out)) {
        util::log_warning(out.string() + " exists: the winner's recipe was not written (add "
                                         "--force to replace it)");
    } else {
        util::atomic_write(out, tune::winner_recipe(outcome));
        written = out.string();
    }
    if (json) {
        std::cout << tune::to_json(outcome, written).dump_pretty() << std::endl;
    } else {
        std::cout << tune::table_text(outcome)
                  << (written.empty() ? "" : "the winner's recipe: " + written + "\n");
    }
    return k_exit_ok;
}

} // namespace kakuren::cli

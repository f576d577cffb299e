// `kakuren tune`: options in, tune::create / tune::run, the ranked table and the winner's recipe
// out. The rounds, the projection and the verdict are tune/'s.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/command_line.hpp"
#include "cli/commands.hpp"
#include "cli/config_map.hpp"
#include "cli/session.hpp"
#include "cli/tune_parallel.hpp"
#include "cli/tune_runner.hpp"
#include "cli/tune_slurm.hpp"
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

// Refuses --try, --set and --budget with --resume: a resumed tune runs as it was recorded.
void check_resume_options(const TuneOptions& options) {
    if (!options.resume.empty() &&
        (!options.tries.empty() || !options.overrides.empty() || !options.budget.empty())) {
        throw UsageError("--resume " + options.resume +
                         " continues the tune as it was recorded: --try, --set and --budget "
                         "cannot change it (start a new tune with kakuren tune RECIPE)");
    }
}

// The recorded tune tune_id; throws UsageError when the workspace has no database or no such tune.
db::TuneRow recorded_tune(const launcher::Workspace& ws, db::Store& store,
                          const std::string& tune_id) {
    const std::optional<db::TuneRow> tune = db::find_tune(store, tune_id);
    if (!tune) {
        throw UsageError("no tune " + tune_id + " in " + ws.db_file.string() +
                         " (kakuren tune RECIPE starts one)");
    }
    return *tune;
}

// Writes the winner's recipe unless the file exists without --force; returns its path or "".
std::string write_winner(const TuneOptions& options, const fs::path& recipe_path,
                         const tune::Outcome& outcome) {
    const fs::path out = winner_path(options, recipe_path);
    if (!options.force && fs::exists(out)) {
        util::log_warning(out.string() + " exists: the winner's recipe was not written (add "
                                         "--force to replace it)");
        return "";
    }
    util::atomic_write(out, tune::winner_recipe(outcome));
    return out.string();
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
    check_resume_options(options);
    std::string tune_id = options.resume;
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
    const db::TuneRow tune = recorded_tune(ws, store, tune_id);
    launcher::reap_dead_runs(store); // a killed tune's trial: crashed, continued below
    std::ostream& progress = json ? std::cerr : std::cout;
    progress << "tune " << tune.id << "\n"
             << "kakuren tune --resume " << tune.id << " continues it if it stops" << std::endl;
    LocalTuneTrainer trainer(ws, store, tune.recipe_path);
    ProcessRoundRunner processes(ws, options.parallel);
    SlurmRoundRunner slurm(ws, store, options.parallel, progress);
    tune::RoundRunner* runner = nullptr; // one candidate after another in this process
    if (options.backend == "slurm") {
        runner = &slurm;
    } else if (options.parallel > 1) {
        runner = &processes;
    }
    tune::Outcome outcome;
    try {
        outcome = tune::run(store, tune.id, trainer, progress, runner);
    } catch (const TuneInterrupted& e) {
        std::cerr << "kakuren: tune " << tune.id << " stopped: " << e.what()
                  << "; kakuren tune --resume " << tune.id << " continues it\n";
        return k_exit_interrupted;
    }
    const std::string written = write_winner(options, tune.recipe_path, outcome);
    if (json) {
        std::cout << tune::to_json(outcome, written).dump_pretty() << std::endl;
    } else {
        std::cout << tune::table_text(outcome)
                  << (written.empty() ? "" : "the winner's recipe: " + written + "\n");
    }
    return k_exit_ok;
}

namespace {

CLI::App* add_tune_subcommand(CLI::App& app, CommonOptions& common, TuneOptions& o) {
    CLI::App* tune = app.add_subcommand(
        "tune", "Find the hiding that reaches the recipe's target soonest, and whether it pays");
    tune->footer(
        "Trains none and each candidate a few epochs (same seed), keeps the best 1/eta, continues\n"
        "those runs (resumed, never retrained) and so on within the budget; ranks them by the\n"
        "projected time (or work) to task.target / run.target_accuracy, with an uncertainty.\n"
        "Prints a ranked table and a verdict, writes the winner's recipe as RECIPE.tuned.toml.\n"
        "Examples:\n"
        "  kakuren tune recipes/synthetic_tiny.toml --set task.target=0.85 --budget 24\n"
        "  kakuren tune recipes/fashion_mnist_cnn.toml --try rotate --try "
        "kakurenbo:fraction=0.4 --budget 2h\n"
        "  kakuren tune --resume tune-synthetic_tiny-...   # after a kill or Ctrl-C "
        "(docs/tune.md)");
    tune->add_option("recipe", o.recipe, "Recipe file (TOML) with a target");
    add_overrides(tune, o.overrides);
    tune->add_option("--try", o.tries,
                     "A candidate: STRATEGY or STRATEGY:KEY=VALUE,... (repeatable; default: every "
                     "strategy at its defaults and one more setting)")
        ->type_name("STRATEGY[:K=V,...]")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    tune->add_option("--budget", o.budget,
                     "Epochs of all trials together (24) or a duration (90s, 30m, 2h); default 3 x "
                     "schedule.epochs");
    tune->add_option("--eta", o.eta, "Halving factor: 1/eta of the candidates survive a round")
        ->check(CLI::Range(2, 16));
    tune->add_option("--rank-by", o.rank_by,
                     "time (seconds to the target, this machine) or work (samples trained: "
                     "reproducible)")
        ->check(CLI::IsMember({"time", "work"}));
    tune->add_option("--resume", o.resume, "Continue this tune (id or unique prefix)");
    tune->add_option("--parallel", o.parallel,
                     "Train up to N candidates of a round at once, each as its own process "
                     "(default 1: one after another in this process; with --backend slurm: at "
                     "most N array tasks at once, default all)");
    tune->add_option("--backend", o.backend,
                     "local (this machine) or slurm: each round's candidates as one Slurm job "
                     "array, with the recipe's slurm settings (give it again with --resume)")
        ->check(CLI::IsMember({"local", "slurm"}));
    // A --parallel tune's worker process: one candidate to one epoch (cli/tune_parallel.cpp).
    tune->add_option("--trial", o.trial)->group("");
    tune->add_option("--until", o.until)->group("");
    tune->add_option("-o,--output", o.output, "Where to write the winner's recipe");
    tune->add_flag("--force", o.force, "Replace the winner's recipe file if it exists");
    tune->add_flag("--dry-run,-n", o.dry_run,
                   "Check and print the candidates and rounds; create "
                   "nothing");
    add_common(tune, common, true);
    return tune;
}

} // namespace

void register_tune(CLI::App& app, CommonOptions& common, Commands& commands) {
    const auto state = std::make_shared<TuneOptions>();
    TuneOptions& tune_options = *state;
    CLI::App* tune = add_tune_subcommand(app, common, tune_options);
    commands.push_back({tune, [&common, state] {
                            if (state->recipe.empty() == state->resume.empty()) {
                                std::cerr
                                    << "kakuren: error: tune needs a RECIPE, or --resume TUNE "
                                       "(not both)\n";
                                return static_cast<int>(k_exit_usage);
                            }
                            return tune_command(common, *state);
                        }});
}

} // namespace kakuren::cli

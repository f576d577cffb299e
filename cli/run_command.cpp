// `kakuren run`: validate, record, train in the foreground, report.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/command_line.hpp"
#include "cli/commands.hpp"
#include "cli/config_map.hpp"
#include "cli/session.hpp"
#include "db/store.hpp"
#include "launcher/ownership.hpp"
#include "launcher/workspace.hpp"
#include "recipes/kinds.hpp"
#include "recipes/recipe.hpp"
#include "trainer/module.hpp"
#include "trainer/trainer.hpp"
#include "util/log.hpp"
#include "util/system.hpp"

namespace kakuren::cli {

void check_before_recording(const recipes::Recipe& recipe, const trainer::Config& config) {
    check_threads_fit(config);
    if (recipe.data.stage == "node-local") {
        util::log_warning("data.stage = \"node-local\" copies the data to each node's local disk "
                          "for submitted jobs (kakuren submit); kakuren run reads it where it is");
    }
    // A streaming data set's headers, and the model against them, before anything is recorded
    // (and on a dry run): a bad file is refused naming it, exit 2 as a missing IDX file.
    check_recipe_data(recipe, config);
    // The model (a user's TorchScript module too) runs one forward pass of a zero batch of the
    // data's sample shape: a module that does not fit the data fails here in one line (exit 2).
    check_recipe_model(recipe, config);
    const bool asks_gpu = recipe.run.device.rfind("cuda", 0) == 0 || recipe.run.precision == "fp16";
    if (asks_gpu) {
        // A GPU the recipe asks for is looked for before anything is recorded (and on a dry
        // run): run.device = "cuda" on a machine without one fails here (exit 2), with nothing
        // half-started.
        trainer::check_model_via_module(config);
    }
}

NewRun create_run(const launcher::Workspace& ws, db::Store& store, const recipes::Recipe& recipe,
                  const std::string& sweep) {
    const std::string run_id = launcher::new_run_id(recipe.run.name);
    const std::filesystem::path run_dir = ws.run_dir(run_id);
    std::error_code ec;
    std::filesystem::create_directories(run_dir, ec);
    if (ec) {
        throw RuntimeFailure("cannot create run folder " + run_dir.string() + ": " + ec.message());
    }
    // This process owns the run from before its first record to its end.
    util::FileLock owner = launcher::claim_run(run_dir, run_id, "a new run");
    const std::string resolved = recipes::to_toml(recipe);
    util::atomic_write(run_dir / "recipe.toml", resolved);

    db::RunRow row;
    row.id = run_id;
    row.name = recipe.run.name;
    row.recipe_path = std::filesystem::absolute(recipe.file).string();
    row.recipe_text = resolved;
    row.recipe_hash = util::sha256_hex(resolved);
    row.strategy = recipe.hiding.strategy;
    row.fraction = recipe.hiding.strategy == "none" ? 0.0 : recipe.hiding.fraction;
    row.seed = recipe.run.seed;
    row.num_epochs = recipe.schedule.epochs;
    row.metric = recipes::task_metric(recipe.task.kind);
    row.status = db::RunStatus::created;
    row.created_at = util::iso8601_utc_now();
    row.run_dir = run_dir.string();
    store.insert_run(row);
    if (!sweep.empty()) {
        store.set_run_sweep(run_id, sweep);
    }
    const std::int64_t pid = getpid();
    const int attempt =
        store.begin_attempt(run_id, util::hostname(), pid, util::process_start_ticks(pid));
    return {run_id, run_dir, resolved, attempt, std::move(owner)};
}

int run_command(const CommonOptions& common, const RunOptions& options) {
    const launcher::Workspace ws = launcher::resolve_workspace(common.workspace);
    const recipes::Recipe recipe = recipes::load(options.recipe, options.overrides);
    const trainer::Config config = trainer_config(recipe);
    check_before_recording(recipe, config);

    if (options.dry_run) {
        std::cout << "dry run: nothing is created or trained\n"
                  << "workspace: " << ws.root.string() << " (database " << ws.db_file.string()
                  << ", run folder " << ws.run_dir(recipe.run.name + "-<time>-<id>").string()
                  << ")\n"
                  << "would train " << recipe.model.kind << " on " << recipe.data.dataset << " for "
                  << recipe.schedule.epochs << " epochs with " << config.threads
                  << " threads, hiding " << recipe.hiding.strategy << "\n\n"
                  << recipes::show(recipe);
        return k_exit_ok;
    }

    trainer::require_module(); // a missing or foreign module fails before anything is recorded
    launcher::ensure_workspace(ws);
    db::Store store = db::Store::open(ws.db_file);
    launcher::reap_dead_runs(store);
    launcher::remember_workspace(ws); // `kakuren logs RUN` finds it from any folder

    NewRun created = create_run(ws, store, recipe);
    const std::string& run_id = created.run_id;
    const std::filesystem::path& run_dir = created.run_dir;
    const std::string& resolved = created.resolved;
    const int attempt = created.attempt;

    const bool json = common.format == Format::json;
    if (!json) {
        std::cout << "run " << run_id << "\n"
                  << "records: " << run_dir.string() << " (train.log, mllog.txt), database "
                  << ws.db_file.string() << std::endl;
    }

    Attempt session;
    session.ws = &ws;
    session.store = &store;
    session.run_id = run_id;
    session.attempt = attempt;
    session.config = config;
    session.recipe_text = resolved;
    session.quiet = options.quiet;
    session.format = common.format;
    session.owner = &created.owner;
    return run_attempt(session);
}

void register_run(CLI::App& app, CommonOptions& common, Commands& commands) {
    const auto state = std::make_shared<RunOptions>();
    RunOptions& run_options = *state;
    CLI::App* run = app.add_subcommand(
        "run", "Train a recipe in the foreground on this machine (no Slurm needed)");
    run->footer("Prints the run id first. On a terminal a live bar shows epoch, step, samples/s,\n"
                "the realised hidden fraction and the ETA; otherwise one line per epoch.\n"
                "Ctrl-C (or SIGTERM, SIGUSR1) stops at the next step boundary and writes a\n"
                "checkpoint (exit 75); kakuren resume RUN continues the run exactly.");
    run->add_option("recipe", run_options.recipe, "Recipe file (TOML)")->required();
    add_overrides(run, run_options.overrides);
    run->add_flag("--dry-run,-n", run_options.dry_run,
                  "Validate and print what would run; create nothing");
    run->add_flag("--quiet,-q", run_options.quiet, "No progress output (the run id still prints)");
    add_common(run, common, true);
    commands.push_back({run, [&common, state] { return run_command(common, *state); }});
}

} // namespace kakuren::cli

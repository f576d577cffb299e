// `kakuren resume`: continue a run from its newest valid checkpoint (`kakuren checkpoints`, which
// lists them and whether each is valid, is checkpoints_command.cpp).
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <optional>

#include "checkpoint/manager.hpp"
#include "checkpoint/rewind.hpp"
#include "cli/commands.hpp"
#include "cli/config_map.hpp"
#include "cli/lookup.hpp"
#include "cli/session.hpp"
#include "cli/text.hpp"
#include "db/store.hpp"
#include "launcher/job_state.hpp"
#include "launcher/ownership.hpp"
#include "launcher/workspace.hpp"
#include "recipes/recipe.hpp"
#include "recipes/recipe_diff.hpp"
#include "util/json.hpp"
#include "util/log.hpp"
#include "util/system.hpp"

namespace kakuren::cli {
namespace {

namespace fs = std::filesystem;

std::string since_text(const std::optional<checkpoint::Resume>& chosen) {
    return chosen ? "checkpoint " + chosen->name : "its start";
}

void say(const CommonOptions& common, const std::string& run_id, const std::string& job_id,
         bool running, const std::string& line) {
    if (common.format == Format::json) {
        std::cout << util::Json(util::JsonObject{{"run_id", run_id},
                                                 {"backend", "slurm"},
                                                 {"job_id", job_id},
                                                 {"resumed", !running},
                                                 {"running", running},
                                                 {"message", line}})
                         .dump_pretty()
                  << std::endl;
    } else {
        std::cout << line << "\n";
    }
}

/// A submitted run whose Slurm job is back in the queue (Slurm requeued it after a node
/// failure, kakuren after a time-limit warning or a preemption) needs no second job: a waiting
/// one is asked to start now, and one that Slurm has already started again is not an error
/// (resume raced Slurm's own restart; there is nothing left to do). Returns the exit code, or
/// nullopt when the run's newest job is not such a job.
std::optional<int> continue_requeued_job(const CommonOptions& common, db::Store& store,
                                         const db::RunRow& run) {
    launcher::Backends backends;
    const std::optional<db::JobRow> job = launcher::reconcile(store, run, backends);
    if (!job || job->backend != "slurm" || db::is_final_job_state(job->state)) {
        return std::nullopt;
    }
    const bool waiting = job->state == "requeued" || job->state == "pending";
    if (!waiting && job->requeues == 0) {
        return std::nullopt; // running as first submitted: the caller refuses
    }
    launcher::Backend* slurm = backends.get("slurm");
    if (slurm == nullptr) {
        return std::nullopt;
    }
    if (waiting) {
        try {
            slurm->start_now(job->job_id);
            say(common, run.id, job->job_id, false,
                "run " + run.id + " is waiting as Slurm job " + job->job_id + " (" + job->state +
                    "): asked Slurm to start it now; it continues from its newest valid "
                    "checkpoint");
            return k_exit_ok;
        } catch (const Error&) {
            // Only a pending job can move: Slurm may have started it meanwhile.
            const std::optional<launcher::JobView> view = slurm->query(job->job_id);
            if (!view || view->state != "running") {
                throw;
            }
        }
    }
    say(common, run.id, job->job_id, true,
        "run " + run.id + " is already running again as Slurm job " + job->job_id +
            " (Slurm requeued it and started it again): nothing to resume; follow it with "
            "kakuren status " +
            run.id);
    return k_exit_ok;
}

// Claims the run's lock (a job waits up to 180 s for a previous owner), naming its running attempt.
util::FileLock claim(const launcher::Workspace& ws, db::Store& store, const db::RunRow& listed,
                     const db::AttemptPlace& place) {
    std::string holder = "another process";
    for (const db::AttemptRow& a : store.attempts(listed.id)) {
        if (a.status == "running") {
            holder = "attempt " + std::to_string(a.attempt) + ", pid " + std::to_string(a.pid) +
                     " on " + a.host;
        }
    }
    return launcher::claim_run(ws.run_dir(listed.id), listed.id, holder,
                               place.job_id.empty() ? 0.0 : 180.0);
}

// The run as the database has it now; throws when it is gone or has ended meanwhile.
db::RunRow run_still_open(const launcher::Workspace& ws, db::Store& store, const std::string& id) {
    store.check_integrity();
    std::optional<db::RunRow> fresh = store.find_run(id);
    if (!fresh) {
        throw RuntimeFailure("run " + id + " is no longer in " + ws.db_file.string());
    }
    if (fresh->status == db::RunStatus::succeeded || fresh->status == db::RunStatus::finished) {
        throw RuntimeFailure("run " + id + " " + db::to_string(fresh->status) +
                             " meanwhile (another process continued it): nothing to resume");
    }
    return std::move(*fresh);
}

// Cuts the run's records back to the chosen checkpoint (checkpoint::rewind_run) and takes the
// continuation's recipe; notes both in train.log.
void cut_back(db::Store& store, const db::RunRow& run, const fs::path& run_dir,
              const Continuation& c) {
    const checkpoint::Rewind rewind{run.id, run_dir, c.chosen ? &*c.chosen : nullptr, c.skipped,
                                    c.attempt};
    const std::vector<std::string> removed = checkpoint::rewind_run(store, rewind);
    if (c.resolved != run.recipe_text) {
        store.update_run_recipe(run.id, c.resolved, util::sha256_hex(c.resolved),
                                c.recipe.schedule.epochs);
        util::atomic_write(run_dir / "recipe.toml", c.resolved);
    }
    checkpoint::log_take_over(rewind, removed, c.from);
}

// Refuses (UsageError) a continuation that would not repeat the run exactly, unless forced;
// warns of the changes it allows.
void check_exactness(const Continuation& c, const db::RunRow& run, const ResumeOptions& options,
                     int world_size, const std::string& reference) {
    const std::optional<checkpoint::Resume>& chosen = c.chosen;
    const trainer::Config& config = c.config;
    const std::vector<recipes::Change> changes = recipes::changes_between(reference, c.resolved);
    std::vector<recipes::Change> breaking;
    for (const recipes::Change& ch : changes) {
        if (recipes::breaks_exactness(ch.key)) {
            breaking.push_back(ch);
        }
    }
    const int epochs_done = chosen ? chosen->loop.position.epochs_done() : 0;
    if (config.schedule.epochs < epochs_done) {
        throw UsageError("run " + run.id + " has " + std::to_string(epochs_done) +
                         " epochs done at " + since_text(chosen) +
                         "; schedule.epochs = " + std::to_string(config.schedule.epochs) +
                         " would end it before that. Give at least " + std::to_string(epochs_done) +
                         " epochs. Nothing changed");
    }
    if (chosen && chosen->loop.world_size != world_size) {
        breaking.push_back(
            {"ranks", std::to_string(chosen->loop.world_size), std::to_string(world_size)});
    }
    const std::string since = chosen ? "checkpoint " + chosen->name : "its start";
    if (!breaking.empty() && !options.force) {
        throw UsageError("run " + run.id +
                         " cannot continue exactly with this recipe: it changes " +
                         recipes::describe(breaking) + " since " + since +
                         ". Resume with the run's own recipe, or add --force to continue anyway "
                         "(the result will then differ from an uninterrupted run). Nothing "
                         "changed");
    }
    if (!changes.empty()) {
        util::log_warning("continuing run " + run.id + " with a changed recipe: " +
                          recipes::describe(changes) + (breaking.empty() ? "" : " (forced)"));
    }
}

// Warns that a checkpoint written with another number of intra-op threads continues inexactly.
void warn_other_threads(const Continuation& c) {
    if (c.chosen && c.chosen->loop.threads != c.config.threads) {
        util::log_warning("checkpoint " + c.chosen->name + " was written with " +
                          std::to_string(c.chosen->loop.threads) +
                          " intra-op threads and this attempt uses " +
                          std::to_string(c.config.threads) +
                          ": the result can differ in the last bits from an uninterrupted run "
                          "(set run.threads = " +
                          std::to_string(c.chosen->loop.threads) + " to continue exactly)");
    }
}

} // namespace

Continuation take_over(const launcher::Workspace& ws, db::Store& store, const db::RunRow& listed,
                       const ResumeOptions& options, const db::AttemptPlace& place) {
    const fs::path run_dir = ws.run_dir(listed.id);
    // One owner: the lock first, then everything is decided again from the database (another
    // resume may have run, or finished the run, since the caller looked).
    util::FileLock owner = claim(ws, store, listed, place);
    const db::RunRow run = run_still_open(ws, store, listed.id);
    // We hold the lock, so whoever recorded a running attempt of this run is gone.
    store.reap_dead_runs([&](const db::OwnerProbe& p) { return p.run_id != run.id; },
                         &launcher::owner_gone_reason);

    Continuation c = plan_continuation(ws, store, run, options, place.world_size);
    c.owner.emplace(std::move(owner));

    // Take the run over: a new attempt, the records cut back to the checkpoint.
    const std::int64_t pid = getpid();
    c.attempt =
        store.begin_attempt(run.id, util::hostname(), pid, util::process_start_ticks(pid), place);
    cut_back(store, run, run_dir, c);
    return c;
}

Continuation plan_continuation(const launcher::Workspace& ws, const db::Store& store,
                               const db::RunRow& run, const ResumeOptions& options,
                               int world_size) {
    Continuation c;
    // The newest checkpoint that validates (files against their manifest, state from the
    // database); damaged ones are reported and never loaded.
    const fs::path run_dir = ws.run_dir(run.id);
    const checkpoint::Manager manager(const_cast<db::Store&>(store), run.id,
                                      run_dir / "checkpoints");
    c.chosen = manager.load_newest_valid(c.skipped);
    for (const checkpoint::Status& s : c.skipped) {
        util::log_warning("skipping checkpoint " + s.name + ": " + s.problem);
    }

    // The recipe to continue with: the one the checkpoint was written under (the run's own
    // without a checkpoint), or a new one; --set applies on top.
    const std::string reference = c.chosen ? c.chosen->recipe_text : run.recipe_text;
    c.recipe = options.recipe.empty()
                   ? recipes::parse(reference, run_dir / "recipe.toml", options.overrides)
                   : recipes::load(options.recipe, options.overrides);
    c.resolved = recipes::to_toml(c.recipe);
    c.config = trainer_config(c.recipe);
    check_threads_fit(c.config);

    // Refuse what would not continue the run exactly, before anything changes.
    check_exactness(c, run, options, world_size, reference);
    warn_other_threads(c);
    c.from = c.chosen
                 ? "checkpoint " + c.chosen->name + " (" + c.chosen->loop.position.describe() + ")"
                 : "the beginning (no valid checkpoint)";
    return c;
}

namespace {

/// A run still owned by a live attempt cannot be taken over: RuntimeFailure naming who owns it.
void refuse_while_running(const db::Store& store, const db::RunRow& run) {
    if (run.status != db::RunStatus::running) {
        return;
    }
    std::string who = "another process";
    for (const db::AttemptRow& a : store.attempts(run.id)) {
        if (a.status == "running") {
            who = "attempt " + std::to_string(a.attempt) + ", pid " + std::to_string(a.pid) +
                  " on " + a.host;
        }
    }
    throw RuntimeFailure("run " + run.id + " is still running (" + who +
                         "): stop it first (kill -TERM <pid> stops it at a checkpoint), "
                         "then resume it");
}

/// A run that already ended well has nothing to resume: says so (exit 0). Its --recipe and
/// --set are still checked, so a typo is an error even with nothing to do.
int say_nothing_to_resume(const CommonOptions& common, const launcher::Workspace& ws,
                          const db::RunRow& run, const ResumeOptions& options) {
    if (!options.recipe.empty()) {
        (void)recipes::load(options.recipe, options.overrides);
    } else if (!options.overrides.empty()) {
        (void)recipes::parse(run.recipe_text, ws.run_dir(run.id) / "recipe.toml",
                             options.overrides);
    }
    const std::string line =
        "run " + run.id + " already " + db::to_string(run.status) + " (" +
        std::to_string(run.epochs_done) + "/" + std::to_string(run.num_epochs) +
        " epochs, final test accuracy " +
        (run.final_accuracy ? percent(*run.final_accuracy, 2) : std::string("-")) +
        "): nothing to resume, nothing changed";
    if (common.format == Format::json) {
        std::cout << util::Json(util::JsonObject{{"run_id", run.id},
                                                 {"status", db::to_string(run.status)},
                                                 {"exit_code", 0},
                                                 {"resumed", false},
                                                 {"message", line}})
                         .dump_pretty()
                  << std::endl;
    } else {
        std::cout << line << "\n";
    }
    return k_exit_ok;
}

/// Continues the run in this process (kakuren resume without a Slurm job).
int continue_here(const CommonOptions& common, const launcher::Workspace& ws, db::Store& store,
                  const db::RunRow& run, const ResumeOptions& options) {
    Continuation c = take_over(ws, store, run, options, db::AttemptPlace{});
    const std::optional<checkpoint::Resume>& chosen = c.chosen;
    if (common.format != Format::json) {
        std::cout << "run " << run.id << " resumed from " << c.from << " as attempt " << c.attempt
                  << "\n"
                  << "records: " << ws.run_dir(run.id).string()
                  << " (train.log, mllog.txt), database " << ws.db_file.string() << std::endl;
    }
    util::JsonArray skipped_json;
    for (const checkpoint::Status& s : c.skipped) {
        skipped_json.emplace_back(util::JsonObject{{"name", s.name}, {"problem", s.problem}});
    }
    Attempt session;
    session.ws = &ws;
    session.store = &store;
    session.run_id = run.id;
    session.attempt = c.attempt;
    session.config = c.config;
    session.recipe_text = c.resolved;
    session.resume = chosen ? &*chosen : nullptr;
    session.owner = c.owner ? &*c.owner : nullptr;
    session.quiet = options.quiet;
    session.format = common.format;
    session.extra_json = {{"resumed", true},
                          {"attempt", c.attempt},
                          {"resumed_from", chosen ? util::Json(chosen->name) : util::Json::null()},
                          {"skipped_checkpoints", util::Json(std::move(skipped_json))}};
    return run_attempt(session);
}

} // namespace

int resume_command(const CommonOptions& common, const ResumeOptions& options) {
    const launcher::Workspace ws = launcher::resolve_workspace(common.workspace);
    db::Store store = open_store(ws);
    db::RunRow run = require_run(store, options.run);
    const bool submitted = !options.here && !store.jobs(run.id).empty();
    if (submitted) {
        if (const std::optional<int> code = continue_requeued_job(common, store, run)) {
            return *code;
        }
        run = require_run(store, options.run); // the backend may have ended its attempt
    }
    refuse_while_running(store, run);
    if (run.status == db::RunStatus::succeeded || run.status == db::RunStatus::finished) {
        return say_nothing_to_resume(common, ws, run, options);
    }
    if (submitted) {
        return resubmit_run(common, run.id); // through the backend it was submitted to
    }
    return continue_here(common, ws, store, run, options);
}

} // namespace kakuren::cli

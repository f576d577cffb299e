// `kakuren submit`: validate, record the run(s), write the batch script, hand it to the backend
// (Slurm through libslurm, or a detached local job) and return at once. `--sweep` submits one
// run per value (one Slurm job array); `kakuren resume` of a submitted run submits it again.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/command_line.hpp"
#include "cli/commands.hpp"
#include "cli/config_map.hpp"
#include "cli/lookup.hpp"
#include "db/store.hpp"
#include "launcher/backend.hpp"
#include "launcher/job_script.hpp"
#include "launcher/job_state.hpp"
#include "launcher/ownership.hpp"
#include "launcher/workspace.hpp"
#include "recipes/kinds.hpp"
#include "recipes/recipe.hpp"
#include "slurm/client.hpp"
#include "util/json.hpp"
#include "util/strings.hpp"
#include "util/system.hpp"

namespace kakuren::cli {
namespace {

namespace fs = std::filesystem;

struct Planned {
    recipes::Recipe recipe;
    std::string resolved;
    std::vector<std::string> sweep_values; ///< "key=value" of this run's sweep point
};

/// One recipe per point of the sweep (every combination of the --sweep values), each validated.
std::vector<Planned> plan_runs(const SubmitOptions& options) {
    std::vector<std::vector<std::string>> points{{}};
    for (const std::string& sweep : options.sweeps) {
        const std::size_t eq = sweep.find('=');
        const std::string key = sweep.substr(0, eq);
        const auto keys = recipes::known_keys();
        if (eq == std::string::npos || std::find(keys.begin(), keys.end(), key) == keys.end()) {
            throw UsageError("--sweep " + sweep +
                             ": expected KEY=V1,V2,... with a recipe key such as run.seed or "
                             "hiding.fraction ('kakuren recipe reference' lists them)");
        }
        std::vector<std::vector<std::string>> next;
        for (const std::string& value : util::split(sweep.substr(eq + 1), ',')) {
            if (value.empty()) {
                throw UsageError("--sweep " + sweep + ": an empty value");
            }
            for (const auto& point : points) {
                auto extended = point;
                extended.push_back(std::string(key).append("=").append(value));
                next.push_back(std::move(extended));
            }
        }
        points = std::move(next);
    }
    std::vector<Planned> runs;
    for (const auto& point : points) {
        std::vector<std::string> overrides = options.overrides;
        overrides.insert(overrides.end(), point.begin(), point.end());
        Planned p{recipes::load(options.recipe, overrides), {}, point};
        p.resolved = recipes::to_toml(p.recipe);
        runs.push_back(std::move(p));
    }
    return runs;
}

/// auto -> slurm when a controller answers, else local; a named backend stays as it is.
std::string resolve_backend_name(const std::string& name) {
    if (name != "auto") {
        return name;
    }
    return slurm::Client::available(1.0) ? "slurm" : "local";
}

launcher::ScriptSpec spec_for(const recipes::Recipe& recipe, const launcher::Workspace& ws,
                              const std::vector<std::string>& run_ids, const fs::path& output) {
    launcher::ScriptSpec spec = script_spec(recipe);
    spec.run_ids = run_ids;
    for (const std::string& id : run_ids) {
        spec.run_dirs.push_back(ws.run_dir(id).string());
    }
    spec.workspace = ws.root.string();
    spec.kakuren = kakuren_binary();
    spec.output = output.string();
    return spec;
}

db::RunRow run_row(const std::string& id, const Planned& p, const launcher::Workspace& ws) {
    db::RunRow row;
    row.id = id;
    row.name = p.recipe.run.name;
    row.recipe_path = fs::absolute(p.recipe.file).string();
    row.recipe_text = p.resolved;
    row.recipe_hash = util::sha256_hex(p.resolved);
    row.strategy = p.recipe.hiding.strategy;
    row.fraction = p.recipe.hiding.strategy == "none" ? 0.0 : p.recipe.hiding.fraction;
    row.seed = p.recipe.run.seed;
    row.num_epochs = p.recipe.schedule.epochs;
    row.metric = recipes::task_metric(p.recipe.task.kind);
    row.status = db::RunStatus::created;
    row.run_dir = ws.run_dir(id).string();
    return row;
}

struct Submitted {
    std::string run_id, job_id, script;
    std::vector<std::string> sweep_values;
};

/// Records one job per run (pending, before the backend sees it: a job that starts at once
/// finds its row), submits, and stores the ids. On failure the jobs and runs are marked failed
/// with the cause, and the error is rethrown.
std::vector<Submitted> submit_script(db::Store& store, launcher::Backend& backend,
                                     const launcher::Workspace& ws,
                                     const launcher::ScriptSpec& spec, const fs::path& script,
                                     const std::vector<std::vector<std::string>>& sweep_values,
                                     int max_requeues) {
    fs::create_directories(script.parent_path());
    fs::create_directories(fs::path(spec.output).parent_path());
    util::atomic_write(script, launcher::job_script(spec));
    fs::permissions(script, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
    std::vector<int> submissions;
    for (const std::string& id : spec.run_ids) {
        db::JobRow job;
        job.run_id = id;
        job.backend = backend.name();
        job.host = util::hostname();
        job.script = script.string();
        submissions.push_back(store.insert_job(job));
    }
    std::vector<std::string> job_ids;
    try {
        launcher::SubmitRequest request{spec, script, ws.root.string(), max_requeues};
        job_ids = backend.submit(request);
    } catch (const std::exception& e) {
        for (std::size_t i = 0; i < spec.run_ids.size(); ++i) {
            const std::string why = std::string("not submitted: ") + e.what();
            store.set_job_state(spec.run_ids[i], submissions[i], "failed", why);
            store.set_run_status(spec.run_ids[i], db::RunStatus::failed, why);
        }
        throw;
    }
    std::vector<Submitted> out;
    for (std::size_t i = 0; i < spec.run_ids.size(); ++i) {
        store.set_job_id(spec.run_ids[i], submissions[i], job_ids.at(i));
        out.push_back({spec.run_ids[i], job_ids[i], script.string(),
                       i < sweep_values.size() ? sweep_values[i] : std::vector<std::string>{}});
    }
    return out;
}

void print_submitted(const std::vector<Submitted>& done, const std::string& backend,
                     const std::string& sweep, const launcher::Workspace& ws, Format format) {
    if (format == Format::json) {
        util::JsonArray runs;
        for (const Submitted& s : done) {
            util::JsonArray values;
            for (const std::string& v : s.sweep_values) {
                values.emplace_back(v);
            }
            runs.emplace_back(util::JsonObject{{"run_id", s.run_id},
                                               {"job_id", s.job_id},
                                               {"script", s.script},
                                               {"sweep_values", util::Json(std::move(values))}});
        }
        std::cout << util::Json(util::JsonObject{{"backend", backend},
                                                 {"sweep", sweep.empty() ? util::Json::null()
                                                                         : util::Json(sweep)},
                                                 {"workspace", ws.root.string()},
                                                 {"runs", util::Json(std::move(runs))}})
                         .dump_pretty()
                  << std::endl;
        return;
    }
    for (const Submitted& s : done) {
        std::string values;
        for (const std::string& v : s.sweep_values) {
            values += " " + v;
        }
        std::cout << "run " << s.run_id << ": "
                  << (backend == "slurm" ? "Slurm job " : "local job, pid ") << s.job_id
                  << (values.empty() ? "" : " (" + values.substr(1) + ")") << "\n";
    }
    if (!sweep.empty()) {
        std::cout << "sweep " << sweep << ": kakuren report --name " << sweep
                  << " compares its runs once they are done\n";
    }
    const std::string first = done.front().run_id;
    std::cout << "follow it:  kakuren status " << first << "   kakuren logs " << first
              << " --follow\n";
}

/// --dry-run: the backend that would take the runs, their sweep values and the batch script;
/// creates and submits nothing. wanted: auto, slurm or local.
void print_dry_run(const std::vector<Planned>& runs, const launcher::Workspace& ws,
                   const std::string& wanted) {
    const recipes::Recipe& first = runs.front().recipe;
    const std::string chosen = resolve_backend_name(wanted);
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        ids.push_back("<run-id-" + std::to_string(i + 1) + ">");
    }
    const bool array = chosen == "slurm" && runs.size() > 1;
    const launcher::ScriptSpec spec =
        spec_for(first, ws, array ? ids : std::vector<std::string>{ids.front()},
                 ws.root / "runs" / "<run-id>" / "logs" / "slurm-%j.out");
    std::cout << "dry run: nothing is created or submitted\n"
              << "backend: " << chosen
              << (wanted == "auto" ? (chosen == "slurm" ? " (auto: a Slurm controller answered)"
                                                        : " (auto: no reachable Slurm controller)")
                                   : "")
              << "\nworkspace: " << ws.root.string() << "\n"
              << "runs: " << runs.size()
              << (array             ? " (one Slurm job array)"
                  : runs.size() > 1 ? " (one job each)"
                                    : "")
              << "\n";
    for (std::size_t i = 0; i < runs.size(); ++i) {
        std::string values;
        for (const std::string& v : runs[i].sweep_values) {
            values += " " + v;
        }
        if (!values.empty()) {
            std::cout << "  " << ids[i] << ":" << values << "\n";
        }
    }
    std::cout << "\n" << launcher::job_script(spec);
}

// Checks each run's data (a streaming set's headers) and model against it, as kakuren run does.
void check_planned_runs(const std::vector<Planned>& runs) {
    for (const Planned& p : runs) {
        // A streaming data set's headers, and the model against them (one forward pass of a zero
        // batch), before any record or job: as kakuren run checks them.
        const trainer::Config config = trainer_config(p.recipe);
        check_recipe_data(p.recipe, config);
        check_recipe_model(p.recipe, config);
    }
}

// The runs recorded for one submission, and the sweep that groups them ("" for one run).
struct RecordedRuns {
    std::vector<std::string> ids;
    std::string sweep;
};

// Records each planned run (its folder, recipe.toml and row); two or more share a sweep.
RecordedRuns record_runs(db::Store& store, const launcher::Workspace& ws,
                         const std::vector<Planned>& runs) {
    RecordedRuns out;
    for (const Planned& p : runs) {
        const std::string id = launcher::new_run_id(p.recipe.run.name);
        fs::create_directories(ws.run_dir(id) / "logs");
        util::atomic_write(ws.run_dir(id) / "recipe.toml", p.resolved);
        store.insert_run(run_row(id, p, ws));
        if (runs.size() > 1) {
            if (out.sweep.empty()) {
                out.sweep = "sweep-" + id;
            }
            store.set_run_sweep(id, out.sweep);
        }
        out.ids.push_back(id);
    }
    return out;
}

// Submits the recorded runs: a sweep on Slurm as one job array, otherwise one job per run.
std::vector<Submitted> submit_runs(db::Store& store, launcher::Backend& backend,
                                   const launcher::Workspace& ws, const std::vector<Planned>& runs,
                                   const RecordedRuns& recorded) {
    std::vector<Submitted> done;
    if (backend.name() == "slurm" && runs.size() > 1) {
        const recipes::Recipe& first = runs.front().recipe;
        const fs::path dir = ws.root / "sweeps" / recorded.sweep;
        std::vector<std::vector<std::string>> values;
        for (const Planned& p : runs) {
            values.push_back(p.sweep_values);
        }
        launcher::ScriptSpec spec = spec_for(first, ws, recorded.ids, dir / "slurm-%A_%a.out");
        spec.sweep = recorded.sweep; // the array's mark (launcher::job_mark)
        return submit_script(store, backend, ws, spec, dir / "job.sh", values,
                             first.slurm.max_requeues);
    }
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const std::string& id = recorded.ids[i];
        const fs::path dir = ws.run_dir(id);
        const auto one = submit_script(
            store, backend, ws, spec_for(runs[i].recipe, ws, {id}, dir / "logs" / "slurm-%j.out"),
            dir / "job.sh", {runs[i].sweep_values}, runs[i].recipe.slurm.max_requeues);
        done.insert(done.end(), one.begin(), one.end());
    }
    return done;
}

} // namespace

int submit_command(const CommonOptions& common, const SubmitOptions& options) {
    const launcher::Workspace ws = launcher::resolve_workspace(common.workspace);
    const std::vector<Planned> runs = plan_runs(options);
    check_planned_runs(runs);
    const recipes::Recipe& first = runs.front().recipe;
    const std::string wanted = options.backend.empty() ? first.launcher.backend : options.backend;
    if (wanted != "auto" && wanted != "slurm" && wanted != "local") {
        throw UsageError("--backend " + wanted + ": expected auto, slurm or local");
    }

    if (options.dry_run) {
        print_dry_run(runs, ws, wanted);
        return k_exit_ok;
    }

    // The backend first: an unreachable controller stops here, before anything is recorded.
    std::unique_ptr<launcher::Backend> backend = launcher::make_backend(wanted);
    launcher::ensure_workspace(ws); // as kakuren run: a folder named by --workspace is created
    db::Store store = db::Store::open(ws.db_file);
    launcher::reap_dead_runs(store);
    launcher::remember_workspace(ws);

    const RecordedRuns recorded = record_runs(store, ws, runs);
    const std::vector<Submitted> done = submit_runs(store, *backend, ws, runs, recorded);
    print_submitted(done, backend->name(), recorded.sweep, ws, common.format);
    return k_exit_ok;
}

int resubmit_run(const CommonOptions& common, const std::string& run_ref) {
    Located found = locate_run(common.workspace, run_ref);
    const db::RunRow& run = found.run;
    launcher::Backends backends;
    const std::optional<db::JobRow> job = launcher::reconcile(found.store, run, backends);
    if (!job) {
        throw UsageError("run " + run.id + " was not submitted; kakuren resume " + run.id +
                         " --here continues it in this process");
    }
    if (!db::is_final_job_state(job->state)) {
        throw RuntimeFailure("run " + run.id + " is still " + job->state + " as " + job->backend +
                             " job " + job->job_id + ": kakuren cancel " + run.id +
                             " stops it at a checkpoint, then resume it");
    }
    const recipes::Recipe recipe =
        recipes::parse(run.recipe_text, found.ws.run_dir(run.id) / "recipe.toml");
    std::unique_ptr<launcher::Backend> backend = launcher::make_backend(job->backend);
    const fs::path dir = found.ws.run_dir(run.id);
    const auto done =
        submit_script(found.store, *backend, found.ws,
                      spec_for(recipe, found.ws, {run.id}, dir / "logs" / "slurm-%j.out"),
                      dir / "job.sh", {}, recipe.slurm.max_requeues);
    if (common.format == Format::json) {
        std::cout << util::Json(util::JsonObject{{"run_id", run.id},
                                                 {"backend", backend->name()},
                                                 {"job_id", done.front().job_id},
                                                 {"resumed", true}})
                         .dump_pretty()
                  << std::endl;
    } else {
        std::cout << "run " << run.id << " resubmitted as "
                  << (backend->name() == "slurm" ? "Slurm job " : "local job, pid ")
                  << done.front().job_id << "; it continues from its newest valid checkpoint\n"
                  << "follow it:  kakuren status " << run.id << "   kakuren logs " << run.id
                  << " --follow\n";
    }
    return k_exit_ok;
}

void register_submit(CLI::App& app, CommonOptions& common, Commands& commands) {
    const auto state = std::make_shared<SubmitOptions>();
    SubmitOptions& submit_options = *state;
    CLI::App* submit = app.add_subcommand(
        "submit", "Submit a recipe as a Slurm job (or a detached local job) and return at once");
    submit->footer(
        "Validates the recipe, records the run, writes runs/<id>/job.sh and hands it to the\n"
        "backend: launcher.backend (auto = Slurm when a controller answers, else local) or\n"
        "--backend. Prints the run id and the job id. The job runs slurm.nodes x\n"
        "slurm.ntasks_per_node ranks; before the time limit (slurm.signal_grace_s) they\n"
        "checkpoint and the job requeues itself as the same run (slurm.max_requeues).\n"
        "--sweep KEY=V1,V2 submits one run per value as one Slurm job array (several\n"
        "--sweep: every combination); kakuren report --name 'sweep-...*' compares them.");
    submit->add_option("recipe", submit_options.recipe, "Recipe file (TOML)")->required();
    add_overrides(submit, submit_options.overrides);
    submit
        ->add_option("--sweep", submit_options.sweeps,
                     "One run per value, e.g. --sweep run.seed=1,2,3 (repeatable)")
        ->type_name("KEY=V1,V2,...")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    submit->add_option("--backend", submit_options.backend,
                       "auto, slurm or local (default: the recipe's launcher.backend)");
    submit->add_flag("--dry-run,-n", submit_options.dry_run,
                     "Validate and print the batch script and the backend; submit nothing");
    add_common(submit, common, true);
    commands.push_back({submit, [&common, state] { return submit_command(common, *state); }});
}

} // namespace kakuren::cli

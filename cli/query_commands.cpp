// Reading runs back: `runs`, `show`, `hidden`.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>

#include "cli/commands.hpp"
#include "cli/hidden_files.hpp"
#include "cli/job_state.hpp"
#include "cli/lookup.hpp"
#include "cli/platform_info.hpp"
#include "cli/text.hpp"
#include "db/store.hpp"
#include "launcher/ownership.hpp"
#include "launcher/workspace.hpp"
#include "report/recipe_summary.hpp"
#include "util/json.hpp"
#include "util/metrics.hpp"
#include "util/system.hpp"

namespace kakuren::cli {
namespace {

/// Opens the workspace's store for reading; nullopt when the workspace has none yet.
/// Marks runs whose process vanished as crashed first, so nothing stays "running" forever.
std::optional<db::Store> open_existing(const launcher::Workspace& ws) {
    if (!std::filesystem::exists(ws.db_file)) {
        return std::nullopt;
    }
    db::Store store = db::Store::open(ws.db_file);
    launcher::reap_dead_runs(store);
    return store;
}

util::Json optional_number(const std::optional<double>& v) {
    return v ? util::Json::measured(*v) : util::Json::null();
}

util::JsonObject run_to_json(const db::RunRow& r, const std::string& state) {
    return util::JsonObject{{"id", r.id},
                            {"name", r.name},
                            {"status", db::to_string(r.status)},
                            {"state", state},
                            {"strategy", r.strategy},
                            {"fraction", r.fraction},
                            {"mean_realised_fraction", r.mean_realised_fraction},
                            {"seed", r.seed},
                            {"num_samples", r.num_samples},
                            {"epochs_done", r.epochs_done},
                            {"num_epochs", r.num_epochs},
                            {"final_accuracy", optional_number(r.final_accuracy)},
                            {"best_accuracy", optional_number(r.best_accuracy)},
                            {"metric", r.metric},
                            {"created_at", r.created_at},
                            {"started_at", r.started_at},
                            {"ended_at", r.ended_at},
                            {"reason", r.reason},
                            {"recipe_path", r.recipe_path},
                            {"recipe_hash", r.recipe_hash},
                            {"run_dir", r.run_dir}};
}

/// The run's metric value: accuracy and IoU as percentages, MAE named ("MAE 0.1232").
std::string accuracy_text(const std::optional<double>& v, const std::string& metric) {
    if (!v) {
        return "-";
    }
    // A value in the targets' units (util/metrics.hpp) is named.
    return util::metrics::is_fraction(metric) ? report::metric_value(metric, *v)
                                              : metric + " " + report::metric_value(metric, *v);
}

/// A run as `kakuren runs` lists it, with the state it shows.
struct ListedRun {
    db::RunRow run;
    std::string state; ///< status, or for a submitted run its job's (pending, requeued...)
};

std::vector<ListedRun> list_runs(const db::Store& store) {
    // Submitted runs: the state kakuren status shows (pending, requeued, cancelled...).
    std::map<std::string, db::JobRow> jobs;
    for (db::JobRow& j : store.latest_jobs()) {
        jobs.emplace(j.run_id, std::move(j));
    }
    std::vector<ListedRun> out;
    for (db::RunRow& r : store.list_runs()) {
        const auto it = jobs.find(r.id);
        std::string state =
            it == jobs.end() ? db::to_string(r.status) : display_state(r, it->second);
        out.push_back({std::move(r), std::move(state)});
    }
    return out;
}

std::vector<std::string> run_header(bool with_workspace) {
    std::vector<std::string> header = {"RUN",    "STATUS",    "HIDING",   "REALISED",
                                       "EPOCHS", "FINAL ACC", "BEST ACC", "STARTED"};
    if (with_workspace) {
        header.insert(header.begin(), "WORKSPACE");
    }
    return header;
}

/// A row of the runs table; workspace non-empty adds the WORKSPACE cell first.
std::vector<std::string> run_cells(const ListedRun& listed, const std::string& workspace) {
    const db::RunRow& r = listed.run;
    // HIDING: the strategy with its own parameters (a rotate run has no F to show).
    std::vector<std::string> cells = {r.id,
                                      listed.state,
                                      report::hiding_label(report::flat_toml(r.recipe_text)),
                                      percent(r.mean_realised_fraction),
                                      std::to_string(r.epochs_done) + "/" +
                                          std::to_string(r.num_epochs),
                                      accuracy_text(r.final_accuracy, r.metric),
                                      accuracy_text(r.best_accuracy, r.metric),
                                      r.started_at.substr(0, 19)};
    if (!workspace.empty()) {
        cells.insert(cells.begin(), workspace);
    }
    return cells;
}

/// What `runs --all` found in one remembered workspace.
struct WorkspaceListing {
    std::string root;
    std::string state; ///< ok | missing (the folder is gone) | no database | unreadable
    std::string error; ///< why it is unreadable
    std::vector<ListedRun> runs;
};

WorkspaceListing list_workspace(const launcher::Workspace& ws) {
    WorkspaceListing out{ws.root.string(), "ok", "", {}};
    std::error_code ec;
    if (!std::filesystem::is_directory(ws.root, ec)) {
        out.state = "missing";
        return out;
    }
    if (!std::filesystem::exists(ws.db_file, ec)) {
        out.state = "no database";
        return out;
    }
    // One damaged or foreign database must not hide the other workspaces' runs.
    try {
        db::Store store = db::Store::open(ws.db_file, false);
        launcher::reap_dead_runs(store);
        out.runs = list_runs(store);
    } catch (const Error& e) {
        out.state = "unreadable";
        out.error = e.what();
    }
    return out;
}

/// `kakuren runs --all`: every remembered workspace, in the order the list gives (most recently
/// added first), its runs newest first.
int runs_all_command(const CommonOptions& common) {
    std::vector<WorkspaceListing> listings;
    for (const launcher::Workspace& ws : launcher::remembered_workspaces()) {
        listings.push_back(list_workspace(ws));
    }
    if (common.format == Format::json) {
        util::JsonArray workspaces;
        util::JsonArray runs;
        for (const WorkspaceListing& l : listings) {
            util::JsonObject w{{"workspace", l.root}, {"state", l.state}, {"runs", l.runs.size()}};
            if (!l.error.empty()) {
                w.emplace_back("error", l.error);
            }
            workspaces.push_back(std::move(w));
            for (const ListedRun& r : l.runs) {
                util::JsonObject run = run_to_json(r.run, r.state);
                run.insert(run.begin(), {"workspace", l.root});
                runs.push_back(std::move(run));
            }
        }
        std::cout << util::Json(util::JsonObject{{"workspaces", std::move(workspaces)},
                                                 {"runs", std::move(runs)}})
                         .dump_pretty()
                  << std::endl;
        return k_exit_ok;
    }
    if (listings.empty()) {
        std::cout << "no remembered workspaces yet: kakuren run and kakuren submit remember "
                     "theirs (in $XDG_STATE_HOME/kakuren/workspaces)\n";
        return k_exit_ok;
    }
    Table table(run_header(true));
    for (const WorkspaceListing& l : listings) {
        for (const ListedRun& r : l.runs) {
            table.add(run_cells(r, l.root));
        }
        if (l.state != "ok" || l.runs.empty()) {
            std::vector<std::string> cells(run_header(true).size(), "-");
            cells[0] = l.root;
            cells[2] = l.state == "ok" ? "no runs" : l.state;
            table.add(std::move(cells));
        }
    }
    std::cout << table.render();
    for (const WorkspaceListing& l : listings) {
        if (!l.error.empty()) {
            std::cout << l.root << ": " << l.error << "\n";
        }
    }
    return k_exit_ok;
}

} // namespace

int runs_command(const CommonOptions& common, bool all) {
    if (all) {
        return runs_all_command(common);
    }
    const launcher::Workspace ws = launcher::resolve_workspace(common.workspace);
    if (!std::filesystem::is_directory(ws.root)) {
        throw UsageError(
            "workspace " + ws.root.string() +
            (std::filesystem::exists(ws.root) ? " is not a folder" : " does not exist") +
            "; give the folder that holds kakuren.db");
    }
    std::optional<db::Store> store = open_existing(ws);
    const std::vector<ListedRun> runs = store ? list_runs(*store) : std::vector<ListedRun>{};
    if (common.format == Format::json) {
        util::JsonArray array;
        for (const ListedRun& r : runs) {
            array.push_back(run_to_json(r.run, r.state));
        }
        std::cout << util::Json(std::move(array)).dump_pretty() << std::endl;
        return k_exit_ok;
    }
    if (runs.empty()) {
        std::cout << "no runs in " << ws.root.string() << "\n";
        return k_exit_ok;
    }
    Table table(run_header(false));
    for (const ListedRun& r : runs) {
        table.add(run_cells(r, ""));
    }
    std::cout << table.render();
    return k_exit_ok;
}

int show_command(const CommonOptions& common, const std::string& ref) {
    const launcher::Workspace ws = launcher::resolve_workspace(common.workspace);
    std::optional<db::Store> store = open_existing(ws);
    if (!store) {
        throw UsageError("no kakuren.db in " + ws.root.string() +
                         "; pass --workspace or set KAKUREN_WORKSPACE");
    }
    const db::RunRow run = require_run(*store, ref);
    const std::vector<db::EpochRow> epochs = store->epochs(run.id);
    const std::vector<db::AttemptRow> attempts = store->attempts(run.id);
    if (common.format == Format::json) {
        util::JsonArray epoch_array;
        for (const db::EpochRow& e : epochs) {
            const double realised =
                run.num_samples > 0 ? static_cast<double>(e.hidden) / run.num_samples : 0.0;
            util::JsonObject row{{"epoch", e.epoch},
                                 {"train_loss", util::Json::measured(e.train_loss)},
                                 {"train_accuracy", util::Json::measured(e.train_accuracy)},
                                 {"test_loss", util::Json::measured(e.test_loss)},
                                 {"test_accuracy", util::Json::measured(e.test_accuracy)},
                                 {"lr", e.lr},
                                 {"lr_scale", e.lr_scale},
                                 {"requested_fraction", e.max_fraction},
                                 {"realised_fraction", realised},
                                 {"visible", e.visible},
                                 {"hidden", e.hidden},
                                 {"moved_back", e.moved_back},
                                 {"candidates", e.candidates},
                                 {"refreshed", e.refreshed},
                                 {"train_s", e.train_s},
                                 {"hidden_pass_s", e.hidden_pass_s},
                                 {"eval_s", e.eval_s},
                                 {"total_s", e.total_s},
                                 {"samples_per_s", e.samples_per_s},
                                 {"comm_s", e.comm_s ? util::Json(*e.comm_s) : util::Json::null()}};
            if (e.bytes_read) {
                row.emplace_back("bytes_read", static_cast<long long>(*e.bytes_read));
            }
            epoch_array.push_back(std::move(row));
        }
        util::JsonArray attempt_array;
        for (const db::AttemptRow& a : attempts) {
            attempt_array.push_back(util::JsonObject{{"attempt", a.attempt},
                                                     {"host", a.host},
                                                     {"pid", a.pid},
                                                     {"started_at", a.started_at},
                                                     {"ended_at", a.ended_at},
                                                     {"status", a.status},
                                                     {"reason", a.reason},
                                                     {"job_id", a.job_id},
                                                     {"world_size", a.world_size},
                                                     {"nodes", a.nodes}});
        }
        const std::vector<db::JobRow> jobs = store->jobs(run.id);
        util::Json run_json = run_to_json(run, jobs.empty() ? db::to_string(run.status)
                                                            : display_state(run, jobs.back()));
        util::JsonObject platform;
        for (const PlatformField& f : read_platform(run.run_dir)) {
            platform.emplace_back(f.key, f.value);
        }
        std::cout << util::Json(util::JsonObject{{"run", run_json},
                                                 {"platform", std::move(platform)},
                                                 {"attempts", std::move(attempt_array)},
                                                 {"epochs", std::move(epoch_array)}})
                         .dump_pretty()
                  << std::endl;
        return k_exit_ok;
    }
    std::cout << "run       " << run.id << "\n"
              << "status    " << db::to_string(run.status)
              << (run.reason.empty() ? "" : " (" + run.reason + ")") << "\n"
              << "hiding    " << report::hiding_label(report::flat_toml(run.recipe_text))
              << ", realised mean " << percent(run.mean_realised_fraction) << "\n"
              << "metric    " << run.metric
              << (util::metrics::lower_is_better(run.metric) ? " (lower is better)" : "") << "\n"
              << "seed      " << run.seed << "\n"
              << "samples   " << thousands(run.num_samples) << "\n"
              << "recipe    " << run.recipe_path << " (sha256 " << run.recipe_hash.substr(0, 12)
              << ")\n"
              << "folder    " << run.run_dir << "\n"
              << "platform  " << platform_line(read_platform(run.run_dir)) << "\n"
              << "logs      " << run.run_dir << "/train.log, " << run.run_dir << "/mllog.txt\n"
              << "times     created " << run.created_at << ", started " << run.started_at
              << ", ended " << (run.ended_at.empty() ? "-" : run.ended_at) << "\n";
    for (const db::AttemptRow& a : attempts) {
        std::cout << "attempt " << a.attempt << " pid " << a.pid << " on " << a.host << ": "
                  << a.status << (a.reason.empty() ? "" : " (" + a.reason + ")") << "\n";
    }
    if (epochs.empty()) {
        std::cout << "no epochs recorded yet\n";
        return k_exit_ok;
    }
    // COMM s (multi-rank runs only): seconds waited on the other ranks' collectives that were
    // not hidden behind computation. READ MB (streamed data sets: npy, hdf5): bytes read from disk.
    const bool multi_rank = std::any_of(epochs.begin(), epochs.end(), [](const db::EpochRow& e) {
        return e.comm_s && *e.comm_s > 0;
    });
    const bool streamed = std::any_of(epochs.begin(), epochs.end(), [](const db::EpochRow& e) {
        return e.bytes_read.has_value();
    });
    std::string metric_header = run.metric == "accuracy" ? "ACC" : run.metric;
    std::transform(metric_header.begin(), metric_header.end(), metric_header.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    std::vector<std::string> header = {"EPOCH",    "LOSS",      "TEST " + metric_header,
                                       "LR",       "SCALE",     "MAX F",
                                       "REALISED", "HIDDEN",    "MOVED BACK",
                                       "TRAIN s",  "REFRESH s", "EVAL s"};
    if (multi_rank) {
        header.emplace_back("COMM s");
    }
    header.emplace_back("SAMPLES/s");
    if (streamed) {
        header.emplace_back("READ MB");
    }
    Table table(std::move(header));
    for (const db::EpochRow& e : epochs) {
        const double realised =
            run.num_samples > 0 ? static_cast<double>(e.hidden) / run.num_samples : 0.0;
        std::vector<std::string> cells = {std::to_string(e.epoch),
                                          fixed(e.train_loss, 4),
                                          report::metric_value(run.metric, e.test_accuracy),
                                          fixed(e.lr, 5),
                                          fixed(e.lr_scale, 3),
                                          percent(e.max_fraction),
                                          percent(realised),
                                          thousands(e.hidden),
                                          thousands(e.moved_back),
                                          fixed(e.train_s, 1),
                                          fixed(e.hidden_pass_s, 1),
                                          fixed(e.eval_s, 1)};
        if (multi_rank) {
            cells.push_back(e.comm_s ? fixed(*e.comm_s, 2) : "-");
        }
        cells.push_back(thousands(static_cast<std::int64_t>(e.samples_per_s)));
        if (streamed) {
            cells.push_back(e.bytes_read ? fixed(static_cast<double>(*e.bytes_read) / 1e6, 1)
                                         : "-");
        }
        table.add(std::move(cells));
    }
    std::cout << "\n" << table.render();
    return k_exit_ok;
}

int hidden_command(const CommonOptions& common, const std::string& ref, int epoch,
                   long long sample) {
    const launcher::Workspace ws = launcher::resolve_workspace(common.workspace);
    std::optional<db::Store> store = open_existing(ws);
    if (!store) {
        throw UsageError("no kakuren.db in " + ws.root.string() +
                         "; pass --workspace or set KAKUREN_WORKSPACE");
    }
    const db::RunRow run = require_run(*store, ref);
    const bool json = common.format == Format::json;
    if (epoch > 0) {
        const auto ids = store->hidden_set(run.id, epoch);
        if (!ids) {
            throw UsageError("run " + run.id + " has no epoch " + std::to_string(epoch) +
                             " recorded (epochs done: " + std::to_string(run.epochs_done) + ")");
        }
        std::string note;
        const auto files = sample_files_of(run, *ids, note);
        if (json) {
            util::JsonArray array(ids->begin(), ids->end());
            util::JsonObject out{{"run_id", run.id},
                                 {"epoch", epoch},
                                 {"num_samples", run.num_samples},
                                 {"num_hidden", ids->size()},
                                 {"hidden", std::move(array)}};
            if (files) {
                out.emplace_back("files_root", files->root);
                out.emplace_back("files",
                                 util::JsonArray(files->files.begin(), files->files.end()));
            }
            std::cout << util::Json(std::move(out)).dump() << std::endl;
            return k_exit_ok;
        }
        std::cout << "epoch " << epoch << ": " << thousands(static_cast<std::int64_t>(ids->size()))
                  << " of " << thousands(run.num_samples) << " samples hidden";
        if (run.num_samples > 0) {
            std::cout << " (" << percent(static_cast<double>(ids->size()) / run.num_samples) << ")";
        }
        std::cout << "\n";
        if (files) {
            std::cout << "sample  file (in " << files->root << ")\n";
            for (std::size_t i = 0; i < ids->size(); ++i) {
                std::cout << (*ids)[i] << "  " << files->relative(i) << "\n";
            }
            return k_exit_ok;
        }
        if (!note.empty()) {
            std::cout << note << "\n";
        }
        for (std::size_t i = 0; i < ids->size(); ++i) {
            std::cout << (*ids)[i] << ((i + 1) % 12 == 0 || i + 1 == ids->size() ? "\n" : " ");
        }
        return k_exit_ok;
    }
    if (sample < 0 || (run.num_samples > 0 && sample >= run.num_samples)) {
        throw UsageError("--sample " + std::to_string(sample) + " is out of range; " +
                         (run.num_samples > 0
                              ? "run " + run.id + " has " + std::to_string(run.num_samples) +
                                    " training samples: give 0 to " +
                                    std::to_string(run.num_samples - 1)
                              : std::string("samples are numbered from 0")));
    }
    const auto history = store->sample_history(run.id, sample);
    std::vector<int> hidden_in;
    for (const auto& [e, was_hidden] : history) {
        if (was_hidden) {
            hidden_in.push_back(e);
        }
    }
    const auto state = store->sample_state(run.id);
    const auto index = static_cast<std::size_t>(sample);
    const bool have_state = state && index < state->loss.size();
    std::string note;
    const auto file = sample_files_of(run, {sample}, note);
    if (json) {
        util::JsonArray epochs(hidden_in.begin(), hidden_in.end());
        util::JsonObject out{{"run_id", run.id},
                             {"sample", sample},
                             {"epochs_recorded", history.size()},
                             {"times_hidden", hidden_in.size()},
                             {"hidden_in_epochs", std::move(epochs)}};
        if (file) {
            out.emplace_back("file", file->files.front());
        }
        if (have_state) {
            out.emplace_back("latest", util::JsonObject{{"epoch", state->epoch},
                                                        {"loss", state->loss[index]},
                                                        {"correct", state->correct[index] != 0},
                                                        {"confidence", state->confidence[index]}});
        }
        std::cout << util::Json(std::move(out)).dump() << std::endl;
        return k_exit_ok;
    }
    std::cout << "sample " << sample << (file ? " (" + file->files.front() + ")" : std::string())
              << " was hidden in " << hidden_in.size() << " of " << history.size() << " epochs";
    if (!hidden_in.empty()) {
        std::cout << ":";
        for (int e : hidden_in) {
            std::cout << " " << e;
        }
    }
    std::cout << "\n";
    if (have_state) {
        std::cout << "after epoch " << state->epoch << ": loss " << fixed(state->loss[index], 4)
                  << ", " << (state->correct[index] != 0 ? "correct" : "wrong") << ", confidence "
                  << fixed(state->confidence[index], 3) << "\n";
    }
    return k_exit_ok;
}

} // namespace kakuren::cli

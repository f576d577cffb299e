// Reading runs back: `runs` (`show`: show_command.cpp, `hidden`: hidden_command.cpp).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>

#include "cli/commands.hpp"
#include "cli/hidden_files.hpp"
#include "cli/lookup.hpp"
#include "cli/platform_info.hpp"
#include "cli/run_json.hpp"
#include "cli/text.hpp"
#include "db/store.hpp"
#include "launcher/job_state.hpp"
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
            it == jobs.end() ? db::to_string(r.status) : launcher::display_state(r, it->second);
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

} // namespace kakuren::cli

// `kakuren status` (runs and their jobs and attempts, from the database corrected by the
// backend), `kakuren logs` (a rank's log, from any folder, optionally followed), and
// `kakuren cancel` (stop a submitted run: its ranks checkpoint on the way out).
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/command_line.hpp"
#include "cli/commands.hpp"
#include "cli/lookup.hpp"
#include "cli/text.hpp"
#include "launcher/job_state.hpp"
#include "util/json.hpp"
#include "util/system.hpp"

namespace kakuren::cli {
namespace {

namespace fs = std::filesystem;

/// An attempt's state for users: completed, failed, crashed, running, requeued (it stopped at
/// a checkpoint and its job was requeued), cancelled, interrupted.
std::string attempt_state(const db::AttemptRow& a, bool last,
                          const std::optional<db::JobRow>& job) {
    if (a.status == "succeeded" || a.status == "finished") {
        return "completed";
    }
    if (a.status != "interrupted") {
        return a.status;
    }
    if (job && !a.job_id.empty() && a.job_id == job->job_id) {
        if (last && job->state == "cancelled") {
            return "cancelled";
        }
        if (!last || job->state == "requeued") {
            return "requeued";
        }
    }
    return "interrupted";
}

util::Json text_or_null(const std::string& s) {
    return s.empty() ? util::Json::null() : util::Json(s);
}

util::Json job_json(const db::JobRow& j) {
    return util::JsonObject{{"submission", j.submission},
                            {"backend", j.backend},
                            {"job_id", j.job_id},
                            {"state", j.state},
                            {"reason", text_or_null(j.reason)},
                            {"requeues", j.requeues},
                            {"submitted_at", j.submitted_at},
                            {"ended_at", text_or_null(j.ended_at)},
                            {"script", j.script},
                            {"host", j.host}};
}

// Every run of the workspace with its latest job (none: not submitted).
struct RunJobs {
    std::vector<db::RunRow> runs;
    std::map<std::string, db::JobRow> latest; ///< by run id

    // The latest job of run r, if it has one.
    [[nodiscard]] std::optional<db::JobRow> job_of(const db::RunRow& r) const {
        const auto it = latest.find(r.id);
        return it == latest.end() ? std::nullopt : std::optional<db::JobRow>(it->second);
    }
};

// Reads every run and latest job, bringing the jobs not yet ended up to date with their backend.
RunJobs reconciled_runs(db::Store& store, launcher::Backends& backends) {
    RunJobs all;
    for (db::JobRow& j : store.latest_jobs()) {
        all.latest.emplace(j.run_id, std::move(j));
    }
    all.runs = store.list_runs();
    bool changed = false;
    for (const db::RunRow& r : all.runs) {
        const auto it = all.latest.find(r.id);
        if (it != all.latest.end() && !db::is_final_job_state(it->second.state)) {
            if (auto fresh = launcher::reconcile(store, r, backends)) {
                changed = changed || fresh->state != it->second.state;
                it->second = *fresh;
            }
        }
    }
    if (changed) {
        all.runs = store.list_runs(); // attempts ended by reconcile changed run statuses
    }
    return all;
}

// Prints the runs as one JSON array (--format json).
void print_runs_json(const RunJobs& all) {
    util::JsonArray out;
    for (const db::RunRow& r : all.runs) {
        const auto job = all.job_of(r);
        out.emplace_back(util::JsonObject{
            {"run_id", r.id},
            {"state", launcher::display_state(r, job)},
            {"status", db::to_string(r.status)},
            {"epochs_done", r.epochs_done},
            {"num_epochs", r.num_epochs},
            {"final_accuracy",
             r.final_accuracy ? util::Json(*r.final_accuracy) : util::Json::null()},
            {"sweep", text_or_null(r.sweep)},
            {"job", job ? job_json(*job) : util::Json::null()},
            {"reason", text_or_null(job && !job->reason.empty() ? job->reason : r.reason)}});
    }
    std::cout << util::Json(std::move(out)).dump_pretty() << std::endl;
}

// Prints the runs as a table, one line each, reasons cut to 60 characters.
void print_runs_table(const RunJobs& all) {
    Table table({"RUN", "STATE", "JOB", "EPOCHS", "ACC", "REASON"});
    for (const db::RunRow& r : all.runs) {
        const auto job = all.job_of(r);
        std::string reason = job && !job->reason.empty() ? job->reason : r.reason;
        if (reason.size() > 60) {
            reason = reason.substr(0, 57) + "...";
        }
        table.add({r.id, launcher::display_state(r, job),
                   job ? job->backend + " " + job->job_id : "-",
                   std::to_string(r.epochs_done) + "/" + std::to_string(r.num_epochs),
                   r.final_accuracy ? percent(*r.final_accuracy, 2) : "-", reason});
    }
    std::cout << table.render();
}

int status_all(const CommonOptions& common) {
    const launcher::Workspace ws = launcher::resolve_workspace(common.workspace);
    if (!fs::exists(ws.db_file)) {
        if (common.format == Format::json) {
            std::cout << "[]" << std::endl;
        } else {
            std::cout << "no runs in " << ws.root.string() << "\n";
        }
        return k_exit_ok;
    }
    db::Store store = open_store(ws);
    launcher::Backends backends;
    const RunJobs all = reconciled_runs(store, backends);
    if (common.format == Format::json) {
        print_runs_json(all);
        return k_exit_ok;
    }
    if (all.runs.empty()) {
        std::cout << "no runs in " << ws.root.string() << "\n";
        return k_exit_ok;
    }
    print_runs_table(all);
    if (!backends.note().empty()) {
        std::cout << "note: " << backends.note() << "\n";
    }
    return k_exit_ok;
}

/// One line of `kakuren status RUN`: an attempt, or a job without one ("-": none).
struct Line {
    std::string attempt, job, state, where, started, ended, reason;
};

/// `kakuren status RUN --format json`.
void print_status_json(const db::RunRow& run, const std::string& state, const fs::path& dir,
                       const fs::path& workspace, const std::vector<Line>& lines,
                       const std::vector<db::JobRow>& jobs, const std::string& note) {
    util::JsonArray attempt_list;
    for (const Line& l : lines) {
        attempt_list.emplace_back(util::JsonObject{
            {"attempt", l.attempt == "-" ? util::Json::null() : util::Json(std::stoi(l.attempt))},
            {"job_id", l.job == "-" ? util::Json::null() : util::Json(l.job)},
            {"state", l.state},
            {"where", l.where},
            {"started_at", l.started == "-" ? util::Json::null() : util::Json(l.started)},
            {"ended_at", l.ended == "-" ? util::Json::null() : util::Json(l.ended)},
            {"reason", text_or_null(l.reason)}});
    }
    util::JsonArray job_list;
    for (const db::JobRow& j : jobs) {
        job_list.push_back(job_json(j));
    }
    std::cout << util::Json(util::JsonObject{{"run_id", run.id},
                                             {"state", state},
                                             {"status", db::to_string(run.status)},
                                             {"epochs_done", run.epochs_done},
                                             {"num_epochs", run.num_epochs},
                                             {"final_accuracy",
                                              run.final_accuracy ? util::Json(*run.final_accuracy)
                                                                 : util::Json::null()},
                                             {"sweep", text_or_null(run.sweep)},
                                             {"run_dir", dir.string()},
                                             {"workspace", workspace.string()},
                                             {"attempts", util::Json(std::move(attempt_list))},
                                             {"jobs", util::Json(std::move(job_list))},
                                             {"note", text_or_null(note)}})
                     .dump_pretty()
              << std::endl;
}

int status_one(const CommonOptions& common, const std::string& ref) {
    Located found = locate_run(common.workspace, ref);
    launcher::Backends backends;
    const std::optional<db::JobRow> job = launcher::reconcile(found.store, found.run, backends);
    const db::RunRow run = require_run(found.store, found.run.id);
    const std::vector<db::JobRow> jobs = found.store.jobs(run.id);
    const std::vector<db::AttemptRow> attempts = found.store.attempts(run.id);
    const std::string state = launcher::display_state(run, job);
    const fs::path dir = found.ws.run_dir(run.id);

    // Per attempt, plus a waiting job that has no attempt yet.
    std::vector<Line> lines;
    for (std::size_t i = 0; i < attempts.size(); ++i) {
        const db::AttemptRow& a = attempts[i];
        lines.push_back(
            {std::to_string(a.attempt), a.job_id.empty() ? "-" : a.job_id,
             attempt_state(a, i + 1 == attempts.size(), job),
             (a.nodes.empty() ? a.host : a.nodes) +
                 (a.world_size > 1 ? " (" + std::to_string(a.world_size) + " ranks)" : ""),
             a.started_at, a.ended_at.empty() ? "-" : a.ended_at, a.reason});
    }
    const bool waiting = job && (job->state == "pending" || job->state == "requeued") &&
                         (attempts.empty() || attempts.back().status != "running");
    if (waiting) {
        lines.push_back({"-", job->job_id, "pending", "-", "-", "-",
                         job->state == "requeued" ? job->reason : "waiting for resources"});
    }
    if (job && job->state == "failed" && !job->reason.empty() &&
        (attempts.empty() || attempts.back().job_id != job->job_id)) {
        lines.push_back({"-", job->job_id, "failed", "-", "-", job->ended_at, job->reason});
    }

    if (common.format == Format::json) {
        print_status_json(run, state, dir, found.ws.root, lines, jobs, backends.note());
        return k_exit_ok;
    }
    std::cout << "run " << run.id << ": " << state << ", " << run.epochs_done << "/"
              << run.num_epochs << " epochs"
              << (run.final_accuracy ? ", test accuracy " + percent(*run.final_accuracy, 2) : "")
              << "\n";
    if (job) {
        std::cout << "job: " << job->backend << " " << job->job_id << " (" << job->state;
        if (job->requeues > 0) {
            std::cout << ", requeued " << job->requeues << "x";
        }
        std::cout << ")" << (job->reason.empty() ? "" : ": " + job->reason) << "\n";
    }
    std::cout << "folder: " << dir.string() << "  (kakuren logs " << run.id << " [--rank N])\n";
    if (!lines.empty()) {
        Table table({"ATTEMPT", "JOB", "STATE", "WHERE", "STARTED", "ENDED", "REASON"});
        for (const Line& l : lines) {
            table.add({l.attempt, l.job, l.state, l.where, l.started, l.ended, l.reason});
        }
        std::cout << table.render();
    }
    if (!backends.note().empty()) {
        std::cout << "note: " << backends.note() << "\n";
    }
    return k_exit_ok;
}

/// Whether more can still be written to the run's logs.
bool still_active(Located& found) {
    launcher::Backends backends;
    const std::optional<db::JobRow> job = launcher::reconcile(found.store, found.run, backends);
    const db::RunRow run = require_run(found.store, found.run.id);
    if (job && !db::is_final_job_state(job->state)) {
        return true;
    }
    return run.status == db::RunStatus::running || run.status == db::RunStatus::created;
}

} // namespace

int status_command(const CommonOptions& common, const std::string& run_ref) {
    return run_ref.empty() ? status_all(common) : status_one(common, run_ref);
}

int logs_command(const CommonOptions& common, const std::string& run_ref, int rank, bool follow) {
    Located found = locate_run(common.workspace, run_ref);
    const fs::path dir = found.ws.run_dir(found.run.id);
    fs::path file = dir / "logs" / ("rank-" + std::to_string(rank) + ".log");
    if (!fs::exists(file) && rank == 0 && !fs::exists(dir / "logs" / "rank-1.log") &&
        found.store.jobs(found.run.id).empty()) {
        file = dir / "train.log"; // a kakuren run: one process, its log
    }
    if (!follow && !fs::exists(file)) {
        throw UsageError(
            "no log " + file.string() + " yet" +
            (rank > 0 ? " (does the run have rank " + std::to_string(rank) + "?)" : ""));
    }
    std::cerr << "==> " << file.string() << " <==" << std::endl;
    std::ifstream in;
    std::streamoff offset = 0;
    auto idle_since = std::chrono::steady_clock::now();
    bool said_waiting = false;
    while (true) {
        if (!in.is_open()) {
            in.open(file);
            if (in.is_open()) {
                in.seekg(offset);
            }
        }
        bool grew = false;
        if (in.is_open()) {
            std::string line;
            while (std::getline(in, line)) {
                std::cout << line;
                if (!in.eof()) {
                    std::cout << '\n';
                }
                grew = true;
            }
            std::cout << std::flush;
            in.clear();
            offset = in.tellg();
        } else if (!follow) {
            throw UsageError(
                "no log " + file.string() + " yet" +
                (rank > 0 ? " (does the run have rank " + std::to_string(rank) + "?)" : ""));
        } else if (!said_waiting) {
            std::cerr << "(no log yet: waiting for the job to start)" << std::endl;
            said_waiting = true;
        }
        if (!follow) {
            return k_exit_ok;
        }
        const auto now = std::chrono::steady_clock::now();
        if (grew) {
            idle_since = now;
        } else if (now - idle_since > std::chrono::seconds(2)) {
            if (!still_active(found)) {
                return k_exit_ok;
            }
            idle_since = now;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
}

int cancel_command(const CommonOptions& common, const std::string& run_ref) {
    Located found = locate_run(common.workspace, run_ref);
    const db::RunRow& run = found.run;
    launcher::Backends backends;
    const std::optional<db::JobRow> job = launcher::reconcile(found.store, run, backends);
    if (!job) {
        throw UsageError("run " + run.id +
                         " was not submitted (kakuren run): stop it with Ctrl-C or kill -TERM " +
                         "<pid>; it checkpoints and exits 75");
    }
    if (db::is_final_job_state(job->state)) {
        if (common.format == Format::json) {
            std::cout << util::Json(util::JsonObject{{"run_id", run.id},
                                                     {"job_id", job->job_id},
                                                     {"backend", job->backend},
                                                     {"state", job->state},
                                                     {"cancelled", false}})
                             .dump_pretty()
                      << std::endl;
        } else {
            std::cout << "run " << run.id << ": job " << job->job_id << " already " << job->state
                      << "; nothing to cancel\n";
        }
        return k_exit_ok;
    }
    launcher::Backend* backend = backends.get(job->backend);
    if (backend == nullptr) {
        throw RuntimeFailure("cannot cancel " + job->backend + " job " + job->job_id + ": " +
                             backends.note());
    }
    const std::string reason =
        "cancelled by kakuren cancel on " + util::hostname() + " at " + util::iso8601_utc_now();
    // The record first: the ranks, stopping, must not requeue the job.
    found.store.set_job_state(run.id, job->submission, "cancelled", reason);
    backend->cancel(job->job_id);
    if (run.status == db::RunStatus::created) {
        found.store.set_run_status(run.id, db::RunStatus::interrupted,
                                   "cancelled before it started");
    }
    if (common.format == Format::json) {
        std::cout << util::Json(util::JsonObject{{"run_id", run.id},
                                                 {"job_id", job->job_id},
                                                 {"backend", job->backend},
                                                 {"state", "cancelled"},
                                                 {"cancelled", true}})
                         .dump_pretty()
                  << std::endl;
    } else {
        std::cout << "run " << run.id << ": " << job->backend << " job " << job->job_id
                  << " cancelled; running ranks get SIGTERM and write a checkpoint on the way "
                     "out. kakuren resume "
                  << run.id << " submits it again\n";
    }
    return k_exit_ok;
}

void register_status(CLI::App& app, CommonOptions& common, Commands& commands) {
    const auto state = std::make_shared<std::string>();
    std::string& status_ref = *state;
    CLI::App* status = app.add_subcommand(
        "status", "Submitted runs: state per attempt (pending, running, requeued, completed, "
                  "failed with reason, cancelled)");
    status->footer("Without RUN: every run of the workspace. With RUN: its jobs and attempts.\n"
                   "States come from the database, corrected by Slurm while it still knows the\n"
                   "job (a job that ended without telling, e.g. a dead node, is marked so).");
    status->add_option("run", status_ref,
                       "Run id (a unique prefix is enough); found from any folder");
    add_common(status, common, true);
    commands.push_back({status, [&common, state] { return status_command(common, *state); }});
}

void register_logs(CLI::App& app, CommonOptions& common, Commands& commands) {
    struct Args {
        std::string run_ref;
        int log_rank = 0;
        bool log_follow = false;
    };
    const auto state = std::make_shared<Args>();
    auto& [run_ref, log_rank, log_follow] = *state;
    CLI::App* logs = app.add_subcommand("logs", "Print a run's log (a rank's), from any folder");
    logs->add_option("run", run_ref, "Run id (a unique prefix is enough)")->required();
    logs->add_option("--rank,-r", log_rank, "Rank whose log to show (default 0)")
        ->check(CLI::NonNegativeNumber);
    logs->add_flag("--follow,-f", log_follow, "Keep printing until the run stops");
    add_common(logs, common, false);
    commands.push_back({logs, [&common, state] {
                            return logs_command(common, state->run_ref, state->log_rank,
                                                state->log_follow);
                        }});
}

void register_cancel(CLI::App& app, CommonOptions& common, Commands& commands) {
    const auto state = std::make_shared<std::string>();
    std::string& run_ref = *state;
    CLI::App* cancel = app.add_subcommand(
        "cancel", "Cancel a submitted run's job; running ranks checkpoint on the way out");
    cancel->add_option("run", run_ref, "Run id (a unique prefix is enough)")->required();
    add_common(cancel, common, true);
    commands.push_back({cancel, [&common, state] { return cancel_command(common, *state); }});
}

} // namespace kakuren::cli

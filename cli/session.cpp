// One attempt of a run: train, record, report (kakuren run and kakuren resume).
#include "cli/session.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>

#include "checkpoint/manager.hpp"
#include "cli/recorder.hpp"
#include "cli/text.hpp"
#include "launcher/ownership.hpp"
#include "launcher/signals.hpp"
#include "launcher/watchdog.hpp"
#include "trainer/module.hpp"
#include "util/log.hpp"
#include "util/stop.hpp"
#include "util/system.hpp"

namespace kakuren::cli {
namespace {

util::Json run_json(const std::string& run_id, const std::string& status, int exit_code,
                    const trainer::Summary& s, const launcher::Workspace& ws,
                    const std::optional<std::string>& checkpoint, const util::JsonObject& extra) {
    const auto dir = ws.run_dir(run_id);
    util::JsonObject out{
        {"run_id", run_id},
        {"status", status},
        {"exit_code", exit_code},
        {"epochs_done", s.epochs_done},
        // null before the first evaluation, as in reports: the summary's 0 is no result.
        {"final_accuracy", s.epochs_done > 0 ? util::Json(s.final_accuracy) : util::Json::null()},
        {"best_accuracy", s.epochs_done > 0 ? util::Json(s.best_accuracy) : util::Json::null()},
        {"metric", std::string(s.metric_name)},
        {"target_reached", s.target_reached},
        {"run_dir", dir.string()},
        {"mllog", (dir / "mllog.txt").string()},
        {"log", (dir / "train.log").string()},
        {"database", ws.db_file.string()},
        {"last_checkpoint", checkpoint ? util::Json(*checkpoint) : util::Json::null()}};
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
}

/// "final test accuracy 91.20%, best 91.50%", or "no evaluation yet" for a run stopped before
/// its first epoch ended (its summary then holds no result, only zeros).
std::string outcome_text(const trainer::Summary& s) {
    if (s.epochs_done == 0) {
        return "no evaluation yet";
    }
    return "final test " + std::string(s.metric_name) + " " +
           report::metric_value(s.metric_name, s.final_accuracy) + ", best " +
           report::metric_value(s.metric_name, s.best_accuracy);
}

/// The watchdog's expiry (launcher/watchdog.hpp): the step in progress did not end within
/// run.stop_grace_s of a stop request. Records the attempt as interrupted (its own database
/// connection: the stuck thread may hold the other), says so, and exits without unwinding the
/// stuck thread. last: the newest checkpoint written.
[[noreturn]] void abandon_attempt(const Attempt& a, const std::optional<std::string>& last) {
    std::string reason = "stopped by signal " + std::to_string(launcher::stop_signal()) +
                         ": the step in progress did not end within run.stop_grace_s = " +
                         fixed(a.config.stop_grace_s, 1) +
                         " s of the stop request; abandoned without a checkpoint";
    reason += last ? "; resumable from checkpoint " + *last
                   : "; no checkpoint yet: kakuren resume starts the run again";
    if (a.record) {
        try {
            db::Store store = db::Store::open(a.ws->db_file, false);
            store.end_attempt(a.run_id, a.attempt, "interrupted", reason);
        } catch (const std::exception& e) {
            std::cerr << "kakuren: warning: the end of run " << a.run_id
                      << " could not be recorded (" << e.what() << ")" << std::endl;
        }
        std::ofstream(a.ws->run_dir(a.run_id) / "train.log", std::ios::app)
            << util::iso8601_utc_now() << " interrupted: " << reason << std::endl;
    }
    std::cerr << "\nkakuren: " << reason << std::endl;
    std::cout << "run " << a.run_id << " interrupted (" << reason << ")" << std::endl;
    if (last) {
        std::cout << "continue it with: kakuren resume " << a.run_id << std::endl;
    }
    ::_exit(k_exit_interrupted);
}

struct Outcome {
    std::string status;
    int code = k_exit_ok;
    std::string reason; ///< empty when the run ended normally
};

/// How the attempt ended, from what train() returned; last: the newest checkpoint written.
Outcome outcome_of(const Attempt& a, const trainer::Summary& summary,
                   const std::optional<std::string>& last) {
    if (!summary.diverged.empty()) {
        // A failure of the run, not of kakuren: the database records it, and resume continues
        // from the last checkpoint (written before the non-finite step).
        return {"failed", k_exit_diverged,
                summary.diverged + (last ? "; resumable from checkpoint " + *last
                                         : "; no checkpoint was written before it")};
    }
    if (summary.interrupted) {
        const std::string by = launcher::stop_signal() == 0 && a.pause_after_epoch > 0
                                   ? std::string("paused by kakuren tune")
                                   : "stopped by signal " + std::to_string(launcher::stop_signal());
        return {"interrupted", k_exit_interrupted,
                by + " after " + std::to_string(summary.epochs_done) + " epochs" +
                    (last ? "; resumable from checkpoint " + *last : std::string())};
    }
    if (summary.target_reached || !a.config.target_accuracy) {
        return {summary.target_reached ? "succeeded" : "finished", k_exit_ok, ""};
    }
    const std::string_view metric = summary.metric_name;
    return {"finished", k_exit_target_missed,
            "target " + std::string(metric) + " " +
                report::metric_value(metric, *a.config.target_accuracy) + " not reached (best " +
                report::metric_value(metric, summary.best_accuracy) + ")"};
}

/// An owner whose lock file was deleted may have a successor (issue 23 #4): from the moment
/// it is no longer the run's lock it writes nothing, neither records nor MLPerf lines.
void guard_ownership(const Attempt& a, const std::filesystem::path& run_dir, Recorder& recorder,
                     util::MlLog& mllog) {
    if (a.owner == nullptr || !a.record) {
        return;
    }
    recorder.set_owner_check([owner = a.owner, run_dir, id = a.run_id] {
        launcher::check_still_owner(*owner, run_dir, id);
    });
    mllog.set_guard([owner = a.owner, run_dir] { return launcher::still_owner(*owner, run_dir); });
}

/// Records the attempt's end as failed (train.log and the database), unless this process no
/// longer owns the run (the records are another owner's) or the database was replaced.
void record_failure(const Attempt& a, const std::exception& e, std::ostream& log) {
    const std::filesystem::path run_dir = a.ws->run_dir(a.run_id);
    if (a.owner != nullptr && a.record && !launcher::still_owner(*a.owner, run_dir)) {
        return; // the failure is OwnershipLost's (it crossed the module as a plain failure)
    }
    log << util::iso8601_utc_now() << " failed: " << e.what() << std::endl;
    if (!a.record || dynamic_cast<const db::DbReplaced*>(&e) != nullptr) {
        return;
    }
    // Recording the end can fail for the same root cause (a full disk): the root cause is what
    // the user sees; the lock this process held tells the next command it ended.
    try {
        a.store->end_attempt(a.run_id, a.attempt, "failed", e.what());
    } catch (const std::exception& end_error) {
        util::log_warning("the end of run " + a.run_id + " could not be recorded (" +
                          end_error.what() +
                          "); the next kakuren command marks it crashed, and kakuren resume " +
                          a.run_id + " continues it");
        log << util::iso8601_utc_now() << " the end could not be recorded: " << end_error.what()
            << std::endl;
    }
}

/// The attempt's last words on stdout: one line, or with --format json the run's JSON.
void print_outcome(const Attempt& a, const trainer::Summary& summary, const Outcome& outcome,
                   const std::optional<std::string>& last_checkpoint) {
    if (a.format == Format::json) {
        std::cout << run_json(a.run_id, outcome.status, outcome.code, summary, *a.ws,
                              last_checkpoint, a.extra_json)
                         .dump_pretty()
                  << std::endl;
        return;
    }
    std::cout << "run " << a.run_id << " " << outcome.status << ": " << summary.epochs_done
              << " epochs, " << outcome_text(summary)
              << (outcome.reason.empty() ? "" : " (" + outcome.reason + ")") << "\n";
    if (summary.interrupted && last_checkpoint) {
        std::cout << "continue it with: kakuren resume " << a.run_id << "\n";
    }
}

/// The attempt's checkpoint writer; none when the recipe has no checkpoints or nothing is
/// recorded.
std::optional<checkpoint::Manager> checkpoint_manager(const Attempt& a,
                                                      const std::filesystem::path& run_dir) {
    std::optional<checkpoint::Manager> manager;
    if (a.config.checkpoint && a.record) {
        manager.emplace(*a.store, a.run_id, run_dir / "checkpoints", *a.config.checkpoint);
        manager->set_context(a.attempt, a.recipe_text);
    }
    return manager;
}

} // namespace

int run_attempt(Attempt& a) {
    const launcher::Workspace& ws = *a.ws;
    db::Store& store = *a.store;
    const std::filesystem::path run_dir = ws.run_dir(a.run_id);
    const bool json = a.format == Format::json;

    std::optional<checkpoint::Manager> checkpoints = checkpoint_manager(a, run_dir);
    std::ofstream log;
    if (a.record) {
        log.open(run_dir / "train.log", std::ios::app);
    } // else: a closed stream, which writes nothing
    const bool tty = isatty(STDERR_FILENO) == 1;
    Recorder recorder(store, a.run_id, log, tty && !a.quiet, !a.quiet, json ? std::cerr : std::cout,
                      a.config.schedule.epochs, checkpoints ? &*checkpoints : nullptr, a.record);
    if (a.resume != nullptr) {
        recorder.set_last_checkpoint(a.resume->name);
    }
    recorder.pause_after(a.pause_after_epoch);
    util::MlLog mllog = a.record ? util::MlLog(run_dir / "mllog.txt") : util::MlLog();
    guard_ownership(a, run_dir, recorder, mllog);
    launcher::install_stop_handlers();

    // The owner's heartbeat, for commands on other hosts (launcher/ownership.hpp).
    std::optional<launcher::Heartbeat> heartbeat;
    trainer::Summary summary;
    try {
        if (a.record) {
            store.check_same_file();
            heartbeat.emplace(ws.db_file, a.run_id, a.attempt);
        }
        // The observer's work in this binary (checkpoint writes) sees the stop flag too.
        const util::StopScope stop_scope(&launcher::stop_flag());
        // Its expiry never comes while a checkpoint is written (held): the newest one stands.
        launcher::StopWatchdog watchdog(launcher::stop_flag(), a.config.stop_grace_s,
                                        [&] { abandon_attempt(a, recorder.last_checkpoint()); });
        recorder.set_watchdog(&watchdog);
        summary =
            trainer::train_via_module(a.config, recorder, mllog, &launcher::stop_flag(), a.resume);
    } catch (const std::exception& e) {
        recorder.clear_bar();
        heartbeat.reset();
        record_failure(a, e, log);
        if (json && a.print_outcome) {
            util::JsonObject extra = a.extra_json;
            extra.emplace_back("error", std::string(e.what()));
            std::cout << run_json(a.run_id, "failed", k_exit_failure, summary, ws,
                                  recorder.last_checkpoint(), extra)
                             .dump_pretty()
                      << std::endl;
        }
        throw;
    }
    heartbeat.reset();
    recorder.clear_bar();

    const Outcome outcome = outcome_of(a, summary, recorder.last_checkpoint());
    const auto& [status, code, reason] = outcome;
    if (code == k_exit_diverged) {
        std::cerr << "kakuren: error: run " << a.run_id << ": " << reason << std::endl;
    }
    if (a.record) {
        if (a.owner != nullptr) {
            launcher::check_still_owner(*a.owner, run_dir, a.run_id);
        }
        store.end_attempt(a.run_id, a.attempt, status, reason);
    }
    log << util::iso8601_utc_now() << " " << status << (reason.empty() ? "" : ": " + reason)
        << std::endl;

    if (a.print_outcome) {
        print_outcome(a, summary, outcome, recorder.last_checkpoint());
    }
    return code;
}

} // namespace kakuren::cli

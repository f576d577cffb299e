// kakuren tune --parallel: a round's candidates as separate processes (cli/tune_parallel.hpp).
#include "cli/tune_parallel.hpp"

#include <iostream>

#include "cli/tune_runner.hpp"
#include "db/tunes.hpp"
#include "launcher/process_pool.hpp"
#include "launcher/signals.hpp"

namespace kakuren::cli {

std::filesystem::path candidate_log(const launcher::Workspace& ws, const std::string& tune_id,
                                    int candidate) {
    return ws.root / "tunes" / tune_id / ("candidate-" + std::to_string(candidate) + ".log");
}

void ProcessRoundRunner::train(const db::TuneRow& tune, const std::vector<int>& candidates,
                               int until) {
    // Between rounds a stop signal only sets the flag (as in the in-process tune); it stops the
    // tune here, before another round's processes start.
    launcher::install_stop_handlers();
    if (const int sig = launcher::stop_signal(); sig != 0) {
        throw TuneInterrupted("signal " + std::to_string(sig) +
                              " before the round's candidates started");
    }
    std::vector<launcher::PoolTask> tasks;
    for (const int c : candidates) {
        tasks.push_back(
            {{"/proc/self/exe", "tune", "--resume", tune.id, "--trial", std::to_string(c),
              "--until", std::to_string(until), "--workspace", m_ws.root.string()},
             candidate_log(m_ws, tune.id, c)});
    }
    const launcher::PoolResult result = launcher::run_pool(tasks, m_parallel);
    if (result.signal != 0) {
        throw TuneInterrupted("signal " + std::to_string(result.signal) +
                              ": the candidates running stopped with a checkpoint");
    }
    std::string failed;
    bool interrupted = false;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        if (result.codes[i] == 0) {
            continue;
        }
        interrupted = interrupted || result.codes[i] == k_exit_interrupted;
        failed += (failed.empty() ? "" : "; ") + std::string("candidate ") +
                  std::to_string(candidates[i]) + " exited with code " +
                  std::to_string(result.codes[i]) + " (its log: " + tasks[i].log.string() + ")";
    }
    throw_if_failed(tune.id, failed, interrupted);
}

void throw_if_failed(const std::string& tune_id, const std::string& failed, bool interrupted) {
    if (failed.empty()) {
        return;
    }
    if (interrupted) {
        throw TuneInterrupted(failed);
    }
    throw RuntimeFailure("tune " + tune_id + ": " + failed);
}

int tune_trial_command(const CommonOptions& common, const TuneOptions& options) {
    if (options.resume.empty() || options.until < 1) {
        throw UsageError("--trial C is the worker of a --parallel tune: it needs --resume TUNE "
                         "and --until EPOCH >= 1");
    }
    const launcher::Workspace ws = launcher::resolve_workspace(common.workspace);
    db::Store store = db::Store::open(ws.db_file, false);
    const std::optional<db::TuneRow> tune = db::find_tune(store, options.resume);
    if (!tune) {
        throw UsageError("no tune " + options.resume + " in " + ws.db_file.string());
    }
    LocalTuneTrainer trainer(ws, store, tune->recipe_path);
    try {
        tune::train_candidate(store, tune->id, options.trial, options.until, trainer, std::cout);
    } catch (const TuneInterrupted& e) {
        std::cerr << "kakuren: candidate " << options.trial << " of tune " << tune->id
                  << " stopped: " << e.what() << "\n";
        return k_exit_interrupted;
    }
    return k_exit_ok;
}

} // namespace kakuren::cli

#pragma once
// kakuren tune --backend slurm: a round's candidates as one Slurm job array. Task i runs the
// worker `kakuren tune --resume TUNE --trial C --until E` (cli/tune_parallel.hpp) for the round's
// i-th candidate on a node of the cluster, with the recipe's slurm settings (partition, account,
// time, cpus, setup lines; one process per candidate). This process waits for the array to end,
// then decides the next round from the database, as a local tune does. Ctrl-C or SIGTERM
// cancels the array: its candidates stop with a checkpoint, and kakuren tune --resume goes on.
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "db/tunes.hpp"
#include "launcher/backend.hpp"
#include "launcher/job_script.hpp"
#include "launcher/workspace.hpp"
#include "tune/tune.hpp"

namespace kakuren::cli {

class SlurmRoundRunner : public tune::RoundRunner {
  public:
    /// parallel > 1: at most that many of a round's candidates run at once (--array=...%N).
    /// progress: where each round's submission is announced.
    SlurmRoundRunner(const launcher::Workspace& ws, const db::Store& store, int parallel,
                     std::ostream& progress)
        : m_ws(ws), m_store(store), m_parallel(parallel), m_progress(progress) {}
    /// Throws TuneInterrupted when a stop signal arrived (the array is cancelled; its tasks stop
    /// with a checkpoint) or a candidate stopped by one; RuntimeFailure naming each candidate
    /// that failed and its log.
    void train(const db::TuneRow& tune, const std::vector<int>& candidates, int until) override;

  private:
    /// Writes the round's script, submits it and records its job ids beside it.
    std::vector<std::string> submit(launcher::Backend& slurm, const db::TuneRow& tune,
                                    const std::vector<int>& candidates, int until);

    const launcher::Workspace& m_ws;
    const db::Store& m_store;
    int m_parallel;
    std::ostream& m_progress;
};

/// The array's batch script: the recipe's slurm.setup lines, then task i trains candidates[i]
/// to epoch `until`, its output appended to the candidate's log (candidate_log). Exposed for
/// tests.
std::string tune_array_script(const launcher::ScriptSpec& spec, const launcher::Workspace& ws,
                              const std::string& tune_id, const std::vector<int>& candidates,
                              int until);

} // namespace kakuren::cli

#pragma once
// kakuren tune --parallel N: a round's candidates as a local job array. Each candidate is its own
// process (`kakuren tune --resume TUNE --trial C --until E`, this executable), which trains that
// candidate's run exactly as the in-process tune does (tune::train_candidate with the run /
// resume machinery); up to N run at once (launcher::run_pool). The tune stays one record: the
// parent decides the rounds from the database when all of a round's processes have ended.
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "launcher/workspace.hpp"
#include "tune/tune.hpp"

namespace kakuren::cli {

class ProcessRoundRunner : public tune::RoundRunner {
  public:
    ProcessRoundRunner(const launcher::Workspace& ws, int parallel)
        : m_ws(ws), m_parallel(parallel) {}
    /// Throws TuneInterrupted when a stop signal arrived (passed on to the candidates running,
    /// which stop with a checkpoint) or a candidate stopped by one; RuntimeFailure naming each
    /// candidate that failed and its log.
    void train(const db::TuneRow& tune, const std::vector<int>& candidates, int until) override;

  private:
    const launcher::Workspace& m_ws;
    int m_parallel;
};

/// The log of a --parallel tune's candidate: <workspace>/tunes/<tune>/candidate-<c>.log.
std::filesystem::path candidate_log(const launcher::Workspace& ws, const std::string& tune_id,
                                    int candidate);

/// Ends a round whose candidates failed: nothing when `failed` is empty, TuneInterrupted when
/// one was stopped by a signal (interrupted), else RuntimeFailure naming them (local and Slurm
/// rounds alike).
void throw_if_failed(const std::string& tune_id, const std::string& failed, bool interrupted);

/// The worker: `kakuren tune --resume TUNE --trial C --until E` trains candidate C to epoch E.
/// Exit 0, or 75 when a signal stopped it (with a checkpoint).
int tune_trial_command(const CommonOptions& common, const TuneOptions& options);

} // namespace kakuren::cli

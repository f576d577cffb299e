#pragma once
// kakuren tune's trials trained in this process, one after another, through the machinery of
// kakuren run (create_run, run_attempt) and kakuren resume (take_over): a trial paused after a
// round is an interrupted run with a checkpoint at that epoch's end, and the next round resumes
// it exactly.
#include <filesystem>
#include <string>

#include "db/store.hpp"
#include "launcher/workspace.hpp"
#include "tune/tune.hpp"
#include "util/error.hpp"

namespace kakuren::cli {

/// A trial stopped by a signal (SIGINT, SIGTERM, ...): the tune stops; running kakuren tune
/// --resume continues it.
class TuneInterrupted : public RuntimeFailure {
  public:
    using RuntimeFailure::RuntimeFailure;
};

class LocalTuneTrainer : public tune::Trainer {
  public:
    /// recipe_path: the tuned recipe's, for messages.
    LocalTuneTrainer(const launcher::Workspace& ws, db::Store& store,
                     std::filesystem::path recipe_path)
        : m_ws(ws), m_store(store), m_recipe_path(std::move(recipe_path)) {}

    std::string start(const std::string& tune_id, const std::string& recipe_text,
                      const std::vector<std::string>& overrides, int until,
                      const std::function<void(const std::string&)>& created) override;
    void resume(const std::string& run_id, int until) override;

  private:
    const launcher::Workspace& m_ws;
    db::Store& m_store;
    std::filesystem::path m_recipe_path;
};

} // namespace kakuren::cli

// kakuren tune's trials in this process (cli/tune_runner.hpp).
#include "cli/tune_runner.hpp"

#include "cli/config_map.hpp"
#include "cli/session.hpp"
#include "launcher/signals.hpp"
#include "recipes/recipe.hpp"

namespace kakuren::cli {
namespace {

/// After an attempt: a pause is over (its flag cleared); a signal stops the tune.
void after_attempt(int code, const std::string& run_id) {
    const int signal = launcher::stop_signal();
    launcher::clear_pause();
    if (code == k_exit_interrupted && signal != 0) {
        throw TuneInterrupted("run " + run_id + " stopped by signal " + std::to_string(signal) +
                              " with a checkpoint");
    }
}

} // namespace

std::string LocalTuneTrainer::start(const std::string& tune_id, const std::string& recipe_text,
                                    const std::vector<std::string>& overrides, int until,
                                    const std::function<void(const std::string&)>& created) {
    const recipes::Recipe recipe = recipes::parse(recipe_text, m_recipe_path, overrides);
    NewRun run = create_run(m_ws, m_store, recipe, tune_id);
    created(run.run_id);
    Attempt a;
    a.ws = &m_ws;
    a.store = &m_store;
    a.run_id = run.run_id;
    a.attempt = run.attempt;
    a.config = trainer_config(recipe);
    a.recipe_text = run.resolved;
    a.quiet = true;
    a.print_outcome = false;
    a.pause_after_epoch = until < recipe.schedule.epochs ? until : 0;
    a.owner = &run.owner;
    after_attempt(run_attempt(a), run.run_id);
    return run.run_id;
}

void LocalTuneTrainer::resume(const std::string& run_id, int until) {
    const std::optional<db::RunRow> run = m_store.find_run(run_id);
    if (!run) {
        throw RuntimeFailure("run " + run_id + " is not in " + m_ws.db_file.string());
    }
    ResumeOptions options;
    options.run = run_id;
    options.quiet = true;
    Continuation c = take_over(m_ws, m_store, *run, options, db::AttemptPlace{});
    Attempt a;
    a.ws = &m_ws;
    a.store = &m_store;
    a.run_id = run_id;
    a.attempt = c.attempt;
    a.config = c.config;
    a.recipe_text = c.resolved;
    a.resume = c.chosen ? &*c.chosen : nullptr;
    a.quiet = true;
    a.print_outcome = false;
    a.pause_after_epoch = until < c.recipe.schedule.epochs ? until : 0;
    a.owner = c.owner ? &*c.owner : nullptr;
    after_attempt(run_attempt(a), run_id);
}

} // namespace kakuren::cli

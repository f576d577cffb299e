#pragma once
// One attempt of a run in this process, shared by `kakuren run` and `kakuren resume`: trains,
// records every epoch (database, train.log) and checkpoint, shows progress, ends the attempt
// with the status its outcome gives and prints that outcome.
#include <string>

#include "checkpoint/state.hpp"
#include "cli/commands.hpp"
#include "db/store.hpp"
#include "launcher/workspace.hpp"
#include "trainer/trainer.hpp"
#include "util/json.hpp"

namespace kakuren::cli {

struct Attempt {
    const launcher::Workspace* ws = nullptr;
    db::Store* store = nullptr;
    std::string run_id;
    int attempt = 1;         ///< from Store::begin_attempt
    trainer::Config config;  ///< with config.checkpoint set: checkpoints are written
    std::string recipe_text; ///< the resolved recipe, kept in each checkpoint
    const checkpoint::Resume* resume = nullptr; ///< continue from this checkpoint
    bool quiet = false;
    Format format = Format::text;
    util::JsonObject extra_json; ///< added to the --format json summary
};

/// Runs the attempt (begun with Store::begin_attempt) to its end and returns the exit code
/// (README "Exit codes"). A failure ends the attempt as failed and is rethrown.
int run_attempt(Attempt& attempt);

} // namespace kakuren::cli

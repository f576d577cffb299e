#pragma once
// How main (cli/app.cpp) builds the command line: each command registers its subcommand and its
// options on the app (register_<command>, in the command's own file) and says what to run when
// the command line names it. The option blocks are CLI11's; only this layer includes CLI11.
#include <functional>
#include <string>
#include <vector>

#include "cli/commands.hpp"

namespace CLI {
class App;
}

namespace kakuren::cli {

/// A registered (sub)subcommand: run() is called after parsing when the command line named it;
/// it returns the exit code and may throw (main maps the exceptions to codes 1 and 2).
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;
};
using Commands = std::vector<Command>;

/// --workspace,-w, and --format text|json when with_format.
void add_common(CLI::App* sub, CommonOptions& common, bool with_format);
/// --set KEY=VALUE (repeatable) into overrides.
void add_overrides(CLI::App* sub, std::vector<std::string>& overrides);

// Each registers one top-level subcommand (with its own subcommands: recipe, data) on app,
// its options writing into storage the returned Commands own, and appends what to run. common
// must outlive the commands. Listed in the order of `kakuren --help`.
void register_run(CLI::App& app, CommonOptions& common, Commands& commands);    // run_command.cpp
void register_runs(CLI::App& app, CommonOptions& common, Commands& commands);   // query_options.cpp
void register_show(CLI::App& app, CommonOptions& common, Commands& commands);   // query_options.cpp
void register_hidden(CLI::App& app, CommonOptions& common, Commands& commands); // query_options.cpp
void register_recipe(CLI::App& app, CommonOptions& common,
                     Commands& commands); // recipe_commands.cpp
void register_report(CLI::App& app, CommonOptions& common,
                     Commands& commands); // report_command.cpp
void register_export(CLI::App& app, CommonOptions& common,
                     Commands& commands);                                     // export_command.cpp
void register_data(CLI::App& app, CommonOptions& common, Commands& commands); // data_command.cpp
void register_resume(CLI::App& app, CommonOptions& common,
                     Commands& commands); // resume_options.cpp
void register_submit(CLI::App& app, CommonOptions& common,
                     Commands& commands);                                     // submit_command.cpp
void register_tune(CLI::App& app, CommonOptions& common, Commands& commands); // tune_command.cpp
void register_status(CLI::App& app, CommonOptions& common,
                     Commands& commands);                                     // status_command.cpp
void register_logs(CLI::App& app, CommonOptions& common, Commands& commands); // status_command.cpp
void register_cancel(CLI::App& app, CommonOptions& common,
                     Commands& commands);                                    // status_command.cpp
void register_job(CLI::App& app, CommonOptions& common, Commands& commands); // job_command.cpp
void register_checkpoints(CLI::App& app, CommonOptions& common,
                          Commands& commands); // resume_options.cpp

} // namespace kakuren::cli

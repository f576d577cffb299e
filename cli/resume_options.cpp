// The command lines of `kakuren resume` and `kakuren checkpoints` (the commands are in
// resume_command.cpp).
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "cli/command_line.hpp"
#include "cli/commands.hpp"

namespace kakuren::cli {

void register_resume(CLI::App& app, CommonOptions& common, Commands& commands) {
    const auto state = std::make_shared<ResumeOptions>();
    ResumeOptions& resume_options = *state;
    CLI::App* resume = app.add_subcommand(
        "resume", "Continue a stopped, killed or failed run from its newest valid checkpoint");
    resume->footer(
        "Continues the same run id as a new attempt, exactly as if it had never stopped.\n"
        "A damaged checkpoint is reported and skipped. A recipe change that breaks exactness\n"
        "(data, model, optimizer.kind, run.seed) is refused unless --force. A finished run\n"
        "is left as it is (exit 0).");
    resume->add_option("run", resume_options.run, "Run id (a unique prefix is enough)")->required();
    resume->add_option("--recipe", resume_options.recipe,
                       "Continue with this recipe instead of the run's own");
    add_overrides(resume, resume_options.overrides);
    resume->add_flag("--force", resume_options.force,
                     "Continue even with recipe changes that break exactness");
    resume->add_flag("--quiet,-q", resume_options.quiet,
                     "No progress output (the run id still prints)");
    resume->add_flag("--here", resume_options.here,
                     "A submitted run: continue it in this process (one rank) instead of "
                     "submitting a new job");
    add_common(resume, common, true);
    commands.push_back({resume, [&common, state] { return resume_command(common, *state); }});
}

void register_checkpoints(CLI::App& app, CommonOptions& common, Commands& commands) {
    const auto state = std::make_shared<std::string>();
    std::string& run_ref = *state;
    CLI::App* checkpoints = app.add_subcommand(
        "checkpoints",
        "A run's checkpoints: epoch, step, size, accuracy, and whether each is valid");
    checkpoints->add_option("run", run_ref, "Run id (a unique prefix is enough)")->required();
    add_common(checkpoints, common, true);
    commands.push_back(
        {checkpoints, [&common, state] { return checkpoints_command(common, *state); }});
}

} // namespace kakuren::cli

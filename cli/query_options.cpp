// The command lines of `kakuren runs`, `kakuren show` and `kakuren hidden` (the commands are in
// query_commands.cpp).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <string>

#include "cli/command_line.hpp"
#include "cli/commands.hpp"

namespace kakuren::cli {
namespace {

/// An integer >= 1, with a message that says so (CLI::PositiveNumber names a range up to
/// 1.8e308).
CLI::Validator at_least_one(const std::string& option) {
    return CLI::Validator(
        [option](std::string& text) -> std::string {
            long long value = 0;
            std::size_t used = 0;
            try {
                value = std::stoll(text, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != text.size() || value < 1) {
                return option + " must be a whole number >= 1 (epochs count from 1), not " + text;
            }
            return {};
        },
        "INT>=1");
}

} // namespace

void register_runs(CLI::App& app, CommonOptions& common, Commands& commands) {
    const auto state = std::make_shared<bool>(false);
    bool& runs_all = *state;
    CLI::App* runs = app.add_subcommand("runs", "List the workspace's runs, newest first");
    CLI::Option* runs_all_flag =
        runs->add_flag("--all,-a", runs_all,
                       "Every remembered workspace's runs (kakuren run and submit remember "
                       "theirs), with a WORKSPACE column");
    add_common(runs, common, true);
    runs_all_flag->excludes("--workspace");
    commands.push_back({runs, [&common, state] { return runs_command(common, *state); }});
}

void register_show(CLI::App& app, CommonOptions& common, Commands& commands) {
    const auto state = std::make_shared<std::string>();
    std::string& run_ref = *state;
    CLI::App* show = app.add_subcommand(
        "show", "One run: status, paths, and per epoch the requested vs realised hidden fraction");
    show->add_option("run", run_ref, "Run id (a unique prefix is enough)")->required();
    add_common(show, common, true);
    commands.push_back({show, [&common, state] { return show_command(common, *state); }});
}

void register_hidden(CLI::App& app, CommonOptions& common, Commands& commands) {
    struct Args {
        std::string run_ref;
        int epoch = 0;
        long long sample = -1;
    };
    const auto state = std::make_shared<Args>();
    auto& [run_ref, epoch, sample] = *state;
    CLI::App* hidden =
        app.add_subcommand("hidden", "Which samples were hidden: in one epoch, or for one sample");
    hidden->add_option("run", run_ref, "Run id (a unique prefix is enough)")->required();
    auto* epoch_opt =
        hidden->add_option("--epoch,-e", epoch, "Epoch (1-based): list its hidden samples")
            ->check(at_least_one("--epoch"));
    // Its range (0 to the run's samples - 1) is checked by hidden_command, which knows it.
    auto* sample_opt = hidden->add_option("--sample,-s", sample,
                                          "Sample index: the epochs in which it was hidden");
    epoch_opt->excludes(sample_opt);
    add_common(hidden, common, true);
    commands.push_back(
        {hidden, [&common, state, epoch_opt, sample_opt] {
             if (epoch_opt->count() == 0 && sample_opt->count() == 0) {
                 std::cerr << "kakuren: error: hidden needs --epoch E or --sample ID\n";
                 return static_cast<int>(k_exit_usage);
             }
             return hidden_command(common, state->run_ref, state->epoch, state->sample);
         }});
}

} // namespace kakuren::cli

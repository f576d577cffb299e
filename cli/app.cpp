// Command-line parsing and error mapping: every error ends as "kakuren: error: ..." and an
// exit code from cli/commands.hpp, never as a bare terminate. Each command registers its own
// subcommand and options (cli/command_line.hpp).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/command_line.hpp"
#include "cli/commands.hpp"
#include "db/store.hpp"
#include "launcher/signals.hpp"
#include "recipes/recipe.hpp"

namespace kakuren::cli {
namespace {

constexpr const char* k_description =
    R"(kakuren trains LibTorch models from TOML recipes with adaptive sample hiding
(KAKURENBO): each epoch the samples the model already knows well are hidden from the
backward pass, the learning rate compensates, and training takes less time.
Every run is recorded in the workspace's SQLite database (kakuren.db) and its folder
runs/<run-id>/ (resolved recipe, MLPerf log mllog.txt, train.log).

Examples:
  kakuren recipe check recipes/fashion_mnist_cnn.toml
  kakuren run recipes/fashion_mnist_cnn.toml
  kakuren run recipes/fashion_mnist_cnn.toml --set hiding.strategy=none --set run.seed=2
  kakuren runs --format json
  kakuren show <run-id>
  kakuren hidden <run-id> --epoch 7      # which samples were hidden in epoch 7
  kakuren hidden <run-id> --sample 123   # how often sample 123 was hidden
  kakuren resume <run-id>                # continue a stopped or killed run exactly
  kakuren checkpoints <run-id>           # its checkpoints, and whether each is valid
  kakuren data convert --to npy fm-npy   # Fashion-MNIST as numpy arrays (or --to hdf5)
  kakuren data inspect fm-npy            # what kakuren sees there, and any bad sample
  kakuren report --all -o report.html    # time saved, accuracy cost, plots
  kakuren export --mlflow mlruns         # every run for MLflow (mlflow ui)
  kakuren runs --all                     # the runs of every workspace you used
  kakuren submit recipes/fashion_mnist_cnn.toml --dry-run   # the batch script, nothing sent
  kakuren submit recipes/fashion_mnist_cnn.toml   # Slurm job (or a detached local one)
  kakuren submit recipes/synthetic_tiny.toml --sweep run.seed=1,2,3   # one job array
  kakuren status [<run-id>]              # pending, running, requeued, completed, failed...
  kakuren logs <run-id> --rank 1 --follow
  kakuren cancel <run-id>                # its ranks checkpoint; kakuren resume resubmits

Exit codes: 0 ok, 1 runtime failure, 2 bad recipe or command line,
3 all epochs done but run.target_accuracy not reached, 75 stopped by a signal after writing
a checkpoint (kakuren resume continues the run).

Environment: KAKUREN_WORKSPACE is the default --workspace. For kakuren's developers only:
KAKUREN_TRAIN_MODULE=FILE loads the training module (trainer and LibTorch) from FILE instead of
libkakuren_train.so beside the binary; kakuren runs that file's code, and refuses it (exit 1)
unless it is a kakuren training module built from the same sources.)";

/// A first word that names no command: "kakuren: error: unknown command ..." with the list of
/// commands, and true (CLI11 would otherwise take it for a positional argument).
bool refuse_unknown_command(const CLI::App& app, int argc, char** argv) {
    if (argc > 1 && argv[1][0] != '-') {
        const std::string word = argv[1];
        bool known = false;
        std::vector<std::string> names;
        for (const CLI::App* sub : app.get_subcommands({})) {
            known = known || sub->check_name(word);
            if (!sub->get_group().empty()) {
                names.push_back(sub->get_name());
            }
        }
        if (!known) {
            std::string list;
            for (const std::string& n : names) {
                list += (list.empty() ? "" : ", ") + n;
            }
            std::cerr << "kakuren: error: unknown command '" << word << "'; the commands are "
                      << list << "\nRun 'kakuren --help' for usage.\n";
            return true;
        }
    }
    return false;
}

/// Runs the command the command line named; maps what it throws to exit codes 1 and 2.
int run_parsed(const Commands& commands) {
    try {
        for (const Command& command : commands) {
            if (command.app->parsed()) {
                return command.run();
            }
        }
    } catch (const recipes::RecipeError& e) {
        for (const std::string& message : e.messages()) {
            std::cerr << message << '\n';
        }
        return k_exit_usage;
    } catch (const UsageError& e) {
        std::cerr << "kakuren: error: " << e.what() << '\n';
        return k_exit_usage;
    } catch (const db::AmbiguousRun& e) {
        // Like no match: the command line does not name one run.
        std::cerr << "kakuren: error: " << e.what() << '\n';
        return k_exit_usage;
    } catch (const Error& e) {
        std::cerr << "kakuren: error: " << e.what() << '\n';
        return k_exit_failure;
    } catch (const std::exception& e) {
        std::cerr << "kakuren: error: unexpected failure: " << e.what() << '\n';
        return k_exit_failure;
    }
    return k_exit_usage;
}

/// main's work; main only adds a last catch (bugprone-exception-escape: building the command
/// line can throw too).
int parse_and_run(int argc, char** argv) {
    launcher::install_process_signals();
    CLI::App app{k_description, "kakuren"};
    app.set_version_flag("--version", "kakuren 0.1.0");
    app.require_subcommand(1);
    app.fallthrough(false);

    CommonOptions common;
    Commands commands;
    register_run(app, common, commands);
    register_runs(app, common, commands);
    register_show(app, common, commands);
    register_hidden(app, common, commands);
    register_recipe(app, common, commands);
    register_report(app, common, commands);
    register_export(app, common, commands);
    register_data(app, common, commands);
    register_resume(app, common, commands);
    register_submit(app, common, commands);
    register_tune(app, common, commands);
    register_status(app, common, commands);
    register_logs(app, common, commands);
    register_cancel(app, common, commands);
    register_job(app, common, commands);
    register_checkpoints(app, common, commands);

    if (refuse_unknown_command(app, argc, argv)) {
        return k_exit_usage;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "kakuren: error: " << e.what() << "\nRun 'kakuren --help' for usage.\n";
        return k_exit_usage;
    }
    return run_parsed(commands);
}

} // namespace

int main(int argc, char** argv) {
    try {
        return parse_and_run(argc, argv);
    } catch (...) {
        std::fputs("kakuren: error: unexpected failure while building the command line\n", stderr);
        return k_exit_failure;
    }
}

} // namespace kakuren::cli

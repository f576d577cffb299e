#pragma once
// The kakuren subcommands. Each returns the process exit code (see README "Exit codes") and
// throws kakuren::Error subclasses for failures that main maps to codes 1 and 2.
#include <string>
#include <vector>

namespace kakuren::cli {

enum ExitCode : int {
    k_exit_ok = 0,
    k_exit_failure = 1,        ///< runtime failure (data, database, I/O)
    k_exit_usage = 2,          ///< bad recipe or command line
    k_exit_target_missed = 3,  ///< all epochs done, run.target_accuracy not reached
    k_exit_interrupted = 75,   ///< stopped by SIGINT/SIGTERM/SIGUSR1 at a step boundary
};

enum class Format { text, json };

struct CommonOptions {
    std::string workspace; ///< --workspace (empty: $KAKUREN_WORKSPACE or the current folder)
    Format format = Format::text;
};

struct RunOptions {
    std::string recipe;
    std::vector<std::string> overrides; ///< --set key=value
    bool dry_run = false;
    bool quiet = false;                 ///< no progress bar / epoch lines
};

int run_command(const CommonOptions& common, const RunOptions& options);
int runs_command(const CommonOptions& common);
int show_command(const CommonOptions& common, const std::string& run);
int hidden_command(const CommonOptions& common, const std::string& run, int epoch,
                   long long sample);
int recipe_check_command(const std::string& file, const std::vector<std::string>& overrides);
int recipe_show_command(const CommonOptions& common, const std::string& file,
                        const std::vector<std::string>& overrides);
int recipe_reference_command();

} // namespace kakuren::cli

#pragma once
// The kakuren subcommands. Each returns the process exit code (see docs/cli.md "Exit codes") and
// throws kakuren::Error subclasses for failures that main maps to codes 1 and 2.
#include <string>
#include <vector>

#include "trainer/data_tools.hpp"
#include "trainer/trainer.hpp"

namespace CLI {
class App;
}

namespace kakuren::recipes {
struct Recipe;
}

namespace kakuren::cli {

enum ExitCode : int {
    k_exit_ok = 0,
    k_exit_failure = 1,       ///< runtime failure (data, database, I/O)
    k_exit_usage = 2,         ///< bad recipe or command line
    k_exit_target_missed = 3, ///< all epochs done, run.target_accuracy not reached
    k_exit_diverged = 4,      ///< a training loss was not finite (run.stop_on_nan): run failed
    k_exit_interrupted = 75,  ///< stopped by SIGINT/SIGTERM/SIGUSR1 at a step boundary after
                              ///< writing a checkpoint: `kakuren resume` continues the run
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
    bool quiet = false; ///< no progress bar / epoch lines
};

int run_command(const CommonOptions& common, const RunOptions& options);
/// `kakuren runs`: the workspace's runs; all = every remembered workspace's, with a workspace
/// column (one that no longer exists is listed as missing, not an error).
int runs_command(const CommonOptions& common, bool all = false);
int show_command(const CommonOptions& common, const std::string& run);
int hidden_command(const CommonOptions& common, const std::string& run, int epoch,
                   long long sample);
int recipe_check_command(const std::string& file, const std::vector<std::string>& overrides);
int recipe_show_command(const CommonOptions& common, const std::string& file,
                        const std::vector<std::string>& overrides);
int recipe_reference_command();

/// `kakuren data inspect` / `kakuren data convert` (cli/data_command.cpp; docs/data.md).
struct DataOptions {
    std::string path;                                       ///< inspect: data set or split
    std::string out, to;                                    ///< convert: folder, npy | hdf5
    std::string from = "/usr/share/datasets/fashion-mnist"; ///< convert: IDX folder
    std::vector<std::string> overrides; ///< inspect: --set KEY=VALUE of a recipe
};
int data_inspect_command(const CommonOptions& common, const DataOptions& options);
/// Before anything is recorded (recipe check, run, submit): a streaming data set's headers and
/// the model's fit to them (trainer::check_data through the module; nothing for other data
/// sets). Throws recipes::RecipeError (exit 2) with one "origin: error: message" line per
/// problem, the origin being where the recipe set the key concerned.
void check_recipe_data(const recipes::Recipe& recipe, const trainer::Config& config);
/// Before anything is recorded (recipe check, run and its dry run; cli/model_check.cpp): one
/// forward pass of the model on a zero batch of the data's sample shape, read from its headers
/// (trainer::check_model_fit through the module). Throws recipes::RecipeError (exit 2) with one
/// "origin: error: message" line naming the module file, the input shape and the root cause.
/// Throws a RecipeError of problems, each at its key's file:line:col (the file for a default);
/// returns when there is none.
void throw_recipe_problems(const recipes::Recipe& recipe,
                           const std::vector<trainer::DataProblem>& problems);
void check_recipe_model(const recipes::Recipe& recipe, const trainer::Config& config);
int data_convert_command(const DataOptions& options);

/// `kakuren resume` and `kakuren checkpoints` (cli/resume_command.cpp); docs/checkpoints.md.
struct ResumeOptions {
    std::string run;                    ///< id or unique prefix
    std::string recipe;                 ///< --recipe FILE; empty: the run's own resolved recipe
    std::vector<std::string> overrides; ///< --set key=value, on top of that recipe
    bool force = false;                 ///< continue despite changes that break exactness
    bool quiet = false;                 ///< no progress bar / epoch lines
    bool here = false; ///< a submitted run: continue in this process instead of resubmitting
};
int resume_command(const CommonOptions& common, const ResumeOptions& options);
int checkpoints_command(const CommonOptions& common, const std::string& run);

/// `kakuren submit` (cli/submit_command.cpp); docs/slurm.md.
struct SubmitOptions {
    std::string recipe;
    std::vector<std::string> overrides; ///< --set key=value
    std::vector<std::string> sweeps;    ///< --sweep key=v1,v2,... (several: every combination)
    std::string backend;                ///< --backend; empty = the recipe's launcher.backend
    bool dry_run = false;
};
int submit_command(const CommonOptions& common, const SubmitOptions& options);
/// `kakuren resume` of a submitted run: a new job through the run's backend.
int resubmit_run(const CommonOptions& common, const std::string& run_ref);

/// `kakuren job RUN` (cli/job_command.cpp): one rank of a submitted run, started by the batch
/// script; with local_ranks > 0 it starts that many ranks on this machine and waits for them.
int job_command(const CommonOptions& common, const std::string& run_ref, int local_ranks);

/// `kakuren status`, `kakuren logs`, `kakuren cancel` (cli/status_command.cpp).
int status_command(const CommonOptions& common, const std::string& run_ref);
int logs_command(const CommonOptions& common, const std::string& run_ref, int rank, bool follow);
int cancel_command(const CommonOptions& common, const std::string& run_ref);

/// `kakuren report` (cli/report_command.cpp); see docs/reports.md.
struct ReportOptions {
    std::vector<std::string> runs; ///< ids or unique prefixes
    bool all = false;
    std::string name;     ///< --name glob over run names and ids
    std::string baseline; ///< --baseline RUN
    std::string format;   ///< table | json | csv | html; empty: from -o's extension, else table
    std::string output;   ///< -o FILE; empty: stdout
    bool samples = false;
    int epoch = 0;      ///< --epoch for --samples; 0 = the latest
    double target = -1; ///< --target accuracy; < 0 = the recipe's
};
int report_command(const CommonOptions& common, const ReportOptions& options);

/// `kakuren tune` (cli/tune_command.cpp; docs/tune.md).
struct TuneOptions {
    std::string recipe;
    std::vector<std::string> overrides; ///< --set key=value on the recipe tuned
    std::vector<std::string> tries;     ///< --try STRATEGY[:KEY=VALUE,...]; empty: the default set
    std::string budget;                 ///< --budget EPOCHS | DURATION; empty: 3 x schedule.epochs
    int eta = 2;                        ///< --eta: 1 / eta of the candidates survive a round
    std::string rank_by = "time";       ///< --rank-by time | work
    std::string resume;                 ///< --resume TUNE: continue that tune
    std::string output;                 ///< -o FILE: the winner's recipe; empty: beside RECIPE
    bool dry_run = false;
    bool force = false; ///< replace an existing winner's recipe file
    int parallel = 1;   ///< --parallel N: a round's candidates as up to N processes at once
    std::string backend = "local"; ///< --backend local | slurm (a round as a Slurm job array)
    int trial = -1;                ///< internal (--trial C with --resume): train candidate C only
    int until = 0;                 ///< internal (--until E with --trial): to epoch E
};
int tune_command(const CommonOptions& common, const TuneOptions& options);

/// kakuren data synth: writes a stand-in data set (trainer::write_standin through the training
/// module) and prints what it wrote and how long it took.
int data_synth_command(trainer::SynthConfig config);
/// `kakuren export` (cli/export_command.cpp; docs/notes-h24export.md).
struct ExportOptions {
    std::vector<std::string> runs; ///< ids or unique prefixes; empty: every run of the workspace
    std::string mlflow_dir;        ///< --mlflow DIR: the MLflow file store root
    std::string experiment;        ///< --experiment NAME; empty: each run's recipe name
};
int export_command(const CommonOptions& common, const ExportOptions& options);
/// Registers the `export` subcommand and its own options on app (not --workspace / --format);
/// returns it.
CLI::App* add_export_subcommand(CLI::App& app, ExportOptions& options);

/// Registers --workspace,-w on a subcommand, writing into workspace (cli/app.cpp); an empty
/// value is a command-line error (exit 2) rather than "not given".
void add_workspace_option(CLI::App* sub, std::string& workspace);
/// Registers the `report` subcommand and its options on app; returns it.
CLI::App* add_report_subcommand(CLI::App& app, CommonOptions& common, ReportOptions& options);

} // namespace kakuren::cli

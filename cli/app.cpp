// Command-line parsing and error mapping: every error ends as "kakuren: error: ..." and an
// exit code from cli/commands.hpp, never as a bare terminate.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <map>

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

void add_common(CLI::App* sub, CommonOptions& common, bool with_format) {
    add_workspace_option(sub, common.workspace);
    if (with_format) {
        sub->add_option("--format", common.format, "Output format: text or json")
            ->transform(CLI::CheckedTransformer(
                std::map<std::string, Format>{{"text", Format::text}, {"json", Format::json}},
                CLI::ignore_case));
    }
}

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

void add_overrides(CLI::App* sub, std::vector<std::string>& overrides) {
    sub->add_option("--set", overrides,
                    "Override a recipe value, e.g. --set hiding.fraction=0.2 (repeatable; the "
                    "value is read as TOML, else as a string)")
        ->type_name("KEY=VALUE")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

CLI::App* add_tune_subcommand(CLI::App& app, CommonOptions& common, TuneOptions& o) {
    CLI::App* tune = app.add_subcommand(
        "tune", "Find the hiding that reaches the recipe's target soonest, and whether it pays");
    tune->footer(
        "Trains none and each candidate a few epochs (same seed), keeps the best 1/eta, continues\n"
        "those runs (resumed, never retrained) and so on within the budget; ranks them by the\n"
        "projected time (or work) to task.target / run.target_accuracy, with an uncertainty.\n"
        "Prints a ranked table and a verdict, writes the winner's recipe as RECIPE.tuned.toml.\n"
        "Examples:\n"
        "  kakuren tune recipes/synthetic_tiny.toml --set task.target=0.85 --budget 24\n"
        "  kakuren tune recipes/fashion_mnist_cnn.toml --try rotate --try "
        "kakurenbo:fraction=0.4 --budget 2h\n"
        "  kakuren tune --resume tune-synthetic_tiny-...   # after a kill or Ctrl-C "
        "(docs/tune.md)");
    tune->add_option("recipe", o.recipe, "Recipe file (TOML) with a target");
    add_overrides(tune, o.overrides);
    tune->add_option("--try", o.tries,
                     "A candidate: STRATEGY or STRATEGY:KEY=VALUE,... (repeatable; default: every "
                     "strategy at its defaults and one more setting)")
        ->type_name("STRATEGY[:K=V,...]")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    tune->add_option("--budget", o.budget,
                     "Epochs of all trials together (24) or a duration (90s, 30m, 2h); default 3 x "
                     "schedule.epochs");
    tune->add_option("--eta", o.eta, "Halving factor: 1/eta of the candidates survive a round")
        ->check(CLI::Range(2, 16));
    tune->add_option("--rank-by", o.rank_by,
                     "time (seconds to the target, this machine) or work (samples trained: "
                     "reproducible)")
        ->check(CLI::IsMember({"time", "work"}));
    tune->add_option("--resume", o.resume, "Continue this tune (id or unique prefix)");
    tune->add_option("--parallel", o.parallel,
                     "Train up to N candidates of a round at once, each as its own process "
                     "(default 1: one after another in this process)");
    // A --parallel tune's worker process: one candidate to one epoch (cli/tune_parallel.cpp).
    tune->add_option("--trial", o.trial)->group("");
    tune->add_option("--until", o.until)->group("");
    tune->add_option("-o,--output", o.output, "Where to write the winner's recipe");
    tune->add_flag("--force", o.force, "Replace the winner's recipe file if it exists");
    tune->add_flag("--dry-run,-n", o.dry_run,
                   "Check and print the candidates and rounds; create "
                   "nothing");
    add_common(tune, common, true);
    return tune;
}

} // namespace

void add_workspace_option(CLI::App* sub, std::string& workspace) {
    // Refused here: past parsing, an empty value means "not given" (launcher::resolve_workspace).
    const CLI::Validator not_empty(
        [](std::string& text) -> std::string {
            return text.empty() ? "'' is empty; give a folder name (or leave it out)" : "";
        },
        "");
    sub->add_option("--workspace,-w", workspace,
                    "Folder holding kakuren.db and runs/ (default: $KAKUREN_WORKSPACE, else the "
                    "current folder)")
        ->check(not_empty);
}

int main(int argc, char** argv) {
    launcher::install_process_signals();
    CLI::App app{k_description, "kakuren"};
    app.set_version_flag("--version", "kakuren 0.1.0");
    app.require_subcommand(1);
    app.fallthrough(false);

    CommonOptions common;
    RunOptions run_options;
    std::string run_ref;
    int epoch = 0;
    long long sample = -1;
    std::string recipe_file;
    std::vector<std::string> recipe_overrides;

    CLI::App* run = app.add_subcommand(
        "run", "Train a recipe in the foreground on this machine (no Slurm needed)");
    run->footer("Prints the run id first. On a terminal a live bar shows epoch, step, samples/s,\n"
                "the realised hidden fraction and the ETA; otherwise one line per epoch.\n"
                "Ctrl-C (or SIGTERM, SIGUSR1) stops at the next step boundary and writes a\n"
                "checkpoint (exit 75); kakuren resume RUN continues the run exactly.");
    run->add_option("recipe", run_options.recipe, "Recipe file (TOML)")->required();
    add_overrides(run, run_options.overrides);
    run->add_flag("--dry-run,-n", run_options.dry_run,
                  "Validate and print what would run; create nothing");
    run->add_flag("--quiet,-q", run_options.quiet, "No progress output (the run id still prints)");
    add_common(run, common, true);

    bool runs_all = false;
    CLI::App* runs = app.add_subcommand("runs", "List the workspace's runs, newest first");
    CLI::Option* runs_all_flag =
        runs->add_flag("--all,-a", runs_all,
                       "Every remembered workspace's runs (kakuren run and submit remember "
                       "theirs), with a WORKSPACE column");
    add_common(runs, common, true);
    runs_all_flag->excludes("--workspace");

    CLI::App* show = app.add_subcommand(
        "show", "One run: status, paths, and per epoch the requested vs realised hidden fraction");
    show->add_option("run", run_ref, "Run id (a unique prefix is enough)")->required();
    add_common(show, common, true);

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

    CLI::App* recipe = app.add_subcommand("recipe", "Validate recipes and explain their values");
    recipe->require_subcommand(1);
    CLI::App* check = recipe->add_subcommand(
        "check", "Validate a recipe: every error with file:line:col; exit 2 if any (npy / hdf5 "
                 "data: also opens both splits' headers and builds the model for their shape)");
    check->add_option("file", recipe_file, "Recipe file (TOML)")->required();
    add_overrides(check, recipe_overrides);
    CLI::App* show_recipe = recipe->add_subcommand(
        "show", "Print every resolved value and where it came from (file:line, --set, default)");
    show_recipe->add_option("file", recipe_file, "Recipe file (TOML)")->required();
    add_overrides(show_recipe, recipe_overrides);
    add_common(show_recipe, common, true);
    CLI::App* reference =
        recipe->add_subcommand("reference", "Print the recipe reference (every key, as Markdown)");
    ReportOptions report_options;
    CLI::App* report = add_report_subcommand(app, common, report_options);
    ExportOptions export_options;
    CLI::App* export_app = add_export_subcommand(app, export_options);
    add_common(export_app, common, true);
    DataOptions data_options;
    CLI::App* data = app.add_subcommand(
        "data",
        "Look at data sets on disk; convert IDX to npy / hdf5 / images; write the stand-ins");
    data->require_subcommand(1);
    CLI::App* inspect = data->add_subcommand(
        "inspect", "What kakuren sees: format, N per split, shapes, types, bytes, classes, and "
                   "the first problems found reading every sample");
    inspect->footer("PATH is a split (an npy folder, an .h5 file, a DeepCAM folder, a folder of\n"
                    "class folders of JPEG / PNG images) or a folder holding train and test\n"
                    "splits (train/ + test/, or train.h5 + test.h5). Images: every file is\n"
                    "decoded and the sizes seen are listed. A folder of .npy files under other\n"
                    "names, or an HDF5 file of other datasets, is listed array by array. A\n"
                    "recipe (.toml, with --set) shows both of its splits as it names them.\n"
                    "Exit 1 when a problem was found, so that scripts can check data first:\n"
                    "  kakuren data inspect /scratch/cosmoflow --format json");
    inspect->add_option("path", data_options.path, "Data set, split or recipe (.toml)")->required();
    add_overrides(inspect, data_options.overrides);
    add_common(inspect, common, true);
    CLI::App* convert = data->add_subcommand(
        "convert", "Write an IDX data set (Fashion-MNIST by default) as npy, hdf5 or images");
    convert->footer("npy: OUT/train/{data,targets}.npy and OUT/test/...; hdf5: OUT/train.h5 and\n"
                    "OUT/test.h5 with the datasets data and targets. uint8 images [N, 1, H, W],\n"
                    "uint8 labels; images: OUT/train/LABEL/NNNNN.png (grey PNG files) and\n"
                    "OUT/train/files.lst (the IDX order), OUT/test/... Each trains\n"
                    "bit-identically to the IDX files. Then:\n"
                    "  kakuren data convert --to npy fmnist-npy\n"
                    "  kakuren run recipes/fashion_mnist_cnn.toml --set data.dataset=npy \\\n"
                    "      --set data.train=fmnist-npy/train --set data.test=fmnist-npy/test");
    convert->add_option("out", data_options.out, "Folder to write")->required();
    convert->add_option("--to", data_options.to, "npy, hdf5 or images")
        ->required()
        ->check(CLI::IsMember({"npy", "hdf5", "images"}));
    convert->add_option("--from", data_options.from, "Folder with the four IDX files (.gz or not)")
        ->capture_default_str();

    ResumeOptions resume_options;
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

    SubmitOptions submit_options;
    CLI::App* submit = app.add_subcommand(
        "submit", "Submit a recipe as a Slurm job (or a detached local job) and return at once");
    submit->footer(
        "Validates the recipe, records the run, writes runs/<id>/job.sh and hands it to the\n"
        "backend: launcher.backend (auto = Slurm when a controller answers, else local) or\n"
        "--backend. Prints the run id and the job id. The job runs slurm.nodes x\n"
        "slurm.ntasks_per_node ranks; before the time limit (slurm.signal_grace_s) they\n"
        "checkpoint and the job requeues itself as the same run (slurm.max_requeues).\n"
        "--sweep KEY=V1,V2 submits one run per value as one Slurm job array (several\n"
        "--sweep: every combination); kakuren report --name 'sweep-...*' compares them.");
    submit->add_option("recipe", submit_options.recipe, "Recipe file (TOML)")->required();
    add_overrides(submit, submit_options.overrides);
    submit
        ->add_option("--sweep", submit_options.sweeps,
                     "One run per value, e.g. --sweep run.seed=1,2,3 (repeatable)")
        ->type_name("KEY=V1,V2,...")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    submit->add_option("--backend", submit_options.backend,
                       "auto, slurm or local (default: the recipe's launcher.backend)");
    submit->add_flag("--dry-run,-n", submit_options.dry_run,
                     "Validate and print the batch script and the backend; submit nothing");
    add_common(submit, common, true);

    TuneOptions tune_options;
    CLI::App* tune = add_tune_subcommand(app, common, tune_options);

    std::string status_ref;
    CLI::App* status = app.add_subcommand(
        "status", "Submitted runs: state per attempt (pending, running, requeued, completed, "
                  "failed with reason, cancelled)");
    status->footer("Without RUN: every run of the workspace. With RUN: its jobs and attempts.\n"
                   "States come from the database, corrected by Slurm while it still knows the\n"
                   "job (a job that ended without telling, e.g. a dead node, is marked so).");
    status->add_option("run", status_ref,
                       "Run id (a unique prefix is enough); found from any folder");
    add_common(status, common, true);

    int log_rank = 0;
    bool log_follow = false;
    CLI::App* logs = app.add_subcommand("logs", "Print a run's log (a rank's), from any folder");
    logs->add_option("run", run_ref, "Run id (a unique prefix is enough)")->required();
    logs->add_option("--rank,-r", log_rank, "Rank whose log to show (default 0)")
        ->check(CLI::NonNegativeNumber);
    logs->add_flag("--follow,-f", log_follow, "Keep printing until the run stops");
    add_common(logs, common, false);

    CLI::App* cancel = app.add_subcommand(
        "cancel", "Cancel a submitted run's job; running ranks checkpoint on the way out");
    cancel->add_option("run", run_ref, "Run id (a unique prefix is enough)")->required();
    add_common(cancel, common, true);

    int local_ranks = 0;
    CLI::App* job = app.add_subcommand(
        "job", "Internal: one rank of a submitted run (started by its batch script)");
    job->group(""); // not listed in --help
    job->add_option("run", run_ref, "Run id")->required();
    job->add_option("--local-ranks", local_ranks,
                    "Start this many ranks on this machine and wait for them (local backend)")
        ->check(CLI::NonNegativeNumber);
    add_common(job, common, false);

    CLI::App* checkpoints = app.add_subcommand(
        "checkpoints",
        "A run's checkpoints: epoch, step, size, accuracy, and whether each is valid");
    checkpoints->add_option("run", run_ref, "Run id (a unique prefix is enough)")->required();
    add_common(checkpoints, common, true);

    trainer::SynthConfig synth;
    CLI::App* synth_app = data->add_subcommand(
        "synth", "Write the CosmoFlow or DeepCAM stand-in in the reference file layout");
    synth_app->footer(
        "Examples:\n"
        "  kakuren data synth cosmoflow --size 16 --samples 1024 -o data/cosmoflow\n"
        "  kakuren data synth deepcam --height 32 --width 32 --samples 512 -o data/deepcam\n"
        "\n"
        "Writes DIR/train and DIR/validation. cosmoflow: one .npy per sample of int16 counts\n"
        "[4, S, S, S] and one of 4 float32 targets in [-1, 1], listed in files_data.lst and\n"
        "files_label.lst (NVIDIA's MLPerf HPC numpy layout). deepcam: one HDF5 file per sample\n"
        "with climate/data (H x W x 16 float32) and climate/labels_0 (H x W, classes 0/1/2),\n"
        "plus DIR/stats.h5 (per-channel minval, maxval, mean, std of the training split).\n"
        "Seeded: the default seed gives exactly the samples of data.dataset = \"synthetic\"\n"
        "with data.synthetic_kind = cosmoflow / deepcam. Stand-ins, not the real data sets.");
    synth_app->add_option("kind", synth.kind, "cosmoflow or deepcam")
        ->required()
        ->check(CLI::IsMember({"cosmoflow", "deepcam"}));
    // Checked on the text as typed: a number beyond int64 would otherwise arrive clamped.
    const auto samples_range = CLI::Range(std::int64_t{1}, trainer::k_max_synth_samples);
    synth_app->add_option("--samples", synth.train, "Training samples")
        ->required()
        ->check(samples_range);
    synth_app
        ->add_option("--validation-samples", synth.validation,
                     "Validation samples (default: samples / 4, at least 1)")
        ->check(samples_range);
    synth_app->add_option("--size", synth.size, "cosmoflow: cube side S (default 16)");
    synth_app->add_option("--height", synth.height, "deepcam: height H (default 32)");
    synth_app->add_option("--width", synth.width, "deepcam: width W (default 32)");
    synth_app->add_option("--seed", synth.seed, "Generator seed (default: the in-memory sets')");
    synth_app->add_option("-o,--out", synth.out, "Output folder (created)")->required();

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
            return k_exit_usage;
        }
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

    try {
        if (run->parsed()) {
            return run_command(common, run_options);
        }
        if (runs->parsed()) {
            return runs_command(common, runs_all);
        }
        if (show->parsed()) {
            return show_command(common, run_ref);
        }
        if (hidden->parsed()) {
            if (epoch_opt->count() == 0 && sample_opt->count() == 0) {
                std::cerr << "kakuren: error: hidden needs --epoch E or --sample ID\n";
                return k_exit_usage;
            }
            return hidden_command(common, run_ref, epoch, sample);
        }
        if (check->parsed()) {
            return recipe_check_command(recipe_file, recipe_overrides);
        }
        if (show_recipe->parsed()) {
            return recipe_show_command(common, recipe_file, recipe_overrides);
        }
        if (reference->parsed()) {
            return recipe_reference_command();
        }
        if (report->parsed()) {
            return report_command(common, report_options);
        }
        if (export_app->parsed()) {
            return export_command(common, export_options);
        }
        if (inspect->parsed()) {
            return data_inspect_command(common, data_options);
        }
        if (convert->parsed()) {
            return data_convert_command(data_options);
        }
        if (resume->parsed()) {
            return resume_command(common, resume_options);
        }
        if (submit->parsed()) {
            return submit_command(common, submit_options);
        }
        if (tune->parsed()) {
            if (tune_options.recipe.empty() == tune_options.resume.empty()) {
                std::cerr << "kakuren: error: tune needs a RECIPE, or --resume TUNE (not both)\n";
                return k_exit_usage;
            }
            return tune_command(common, tune_options);
        }
        if (status->parsed()) {
            return status_command(common, status_ref);
        }
        if (logs->parsed()) {
            return logs_command(common, run_ref, log_rank, log_follow);
        }
        if (cancel->parsed()) {
            return cancel_command(common, run_ref);
        }
        if (job->parsed()) {
            return job_command(common, run_ref, local_ranks);
        }
        if (checkpoints->parsed()) {
            return checkpoints_command(common, run_ref);
        }
        if (synth_app->parsed()) {
            return data_synth_command(synth);
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

} // namespace kakuren::cli

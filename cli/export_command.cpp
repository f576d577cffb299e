// `kakuren export --mlflow DIR`: the workspace's runs in MLflow's file-store layout
// (report/mlflow_export does the writing; this file maps the command line onto it).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <memory>

#include "cli/command_line.hpp"
#include "cli/commands.hpp"
#include "cli/lookup.hpp"
#include "cli/text.hpp"
#include "report/mlflow_export.hpp"
#include "util/json.hpp"

namespace kakuren::cli {

CLI::App* add_export_subcommand(CLI::App& app, ExportOptions& options) {
    CLI::App* sub = app.add_subcommand(
        "export", "Write runs for the tools you already use: MLflow's file store (mlflow ui)");
    sub->footer(
        "Writes each run as an MLflow run: parameters = the resolved recipe (data.batch_size,\n"
        "hiding.fraction, ...), metrics per epoch with step = epoch (train_loss, test_accuracy,\n"
        "requested_fraction, realised_fraction, train_s, eval_s, total_s, comm_s, ...), tags =\n"
        "strategy, hiding, seed, status, metric, kakuren.run_id; run name = the kakuren run id.\n"
        "One experiment per recipe name ([run] name), or --experiment NAME for all. Exporting\n"
        "again updates the same MLflow runs (their ids derive from the kakuren run ids), so it\n"
        "can run after every training. An existing store keeps its other experiments. Examples:\n"
        "  kakuren export --mlflow mlruns               # every run of the workspace\n"
        "  kakuren export --mlflow mlruns RUN1 RUN2 --experiment hiding-study\n"
        "  MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri ./mlruns\n"
        "(MLflow 3 reads a file store only with MLFLOW_ALLOW_FILE_STORE=true; `mlflow\n"
        "migrate-filestore` copies it into a database.)");
    sub->add_option("runs", options.runs,
                    "Run ids (a unique prefix is enough); default: every run of the workspace");
    sub->add_option("--mlflow", options.mlflow_dir,
                    "MLflow file store folder (the mlruns folder; created when missing)")
        ->required()
        ->type_name("DIR");
    sub->add_option("--experiment", options.experiment,
                    "MLflow experiment for every run (default: each run's recipe name)")
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                return text.find_first_not_of(" \t") == std::string::npos
                           ? "'" + text + "' is blank; give an experiment name (or leave it out)"
                           : "";
            },
            "NAME"));
    return sub;
}

int export_command(const CommonOptions& common, const ExportOptions& options) {
    const launcher::Workspace ws = launcher::resolve_workspace(common.workspace);
    db::Store store = open_store(ws);
    std::vector<db::RunRow> runs;
    if (options.runs.empty()) {
        runs = store.list_runs();
    } else {
        for (const std::string& ref : options.runs) {
            runs.push_back(require_run(store, ref));
        }
    }
    // Oldest first: MLflow lists by start time anyway, and the summary reads in training order.
    std::reverse(runs.begin(), runs.end());
    report::MlflowStore mlflow(options.mlflow_dir);
    std::vector<report::MlflowRun> written;
    for (const db::RunRow& run : runs) {
        const std::string experiment = options.experiment.empty() ? run.name : options.experiment;
        written.push_back(mlflow.write_run(run, store.epochs(run.id), experiment, ws.root));
    }
    if (common.format == Format::json) {
        util::JsonArray array;
        for (const report::MlflowRun& r : written) {
            array.push_back(util::JsonObject{{"run_id", r.kakuren_run_id},
                                             {"mlflow_run_id", r.mlflow_run_id},
                                             {"experiment_id", r.experiment_id},
                                             {"experiment", r.experiment_name},
                                             {"epochs", r.num_epochs},
                                             {"params", r.num_params},
                                             {"metrics", r.num_metrics},
                                             {"tags", r.num_tags},
                                             {"path", r.dir.string()}});
        }
        std::cout << util::Json(util::JsonObject{{"mlflow_dir", mlflow.root().string()},
                                                 {"workspace", ws.root.string()},
                                                 {"runs", std::move(array)}})
                         .dump_pretty()
                  << std::endl;
        return k_exit_ok;
    }
    if (written.empty()) {
        std::cout << "no runs in " << ws.root.string() << "; nothing exported\n";
        return k_exit_ok;
    }
    Table table({"RUN", "EXPERIMENT", "MLFLOW RUN", "EPOCHS", "METRICS"});
    for (const report::MlflowRun& r : written) {
        table.add({r.kakuren_run_id, r.experiment_name + " (" + r.experiment_id + ")",
                   r.mlflow_run_id, std::to_string(r.num_epochs), std::to_string(r.num_metrics)});
    }
    std::cout << table.render() << "exported " << written.size()
              << (written.size() == 1 ? " run" : " runs") << " to " << mlflow.root().string()
              << " (MLflow file store); look at them with\n"
              << "  MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri "
              << mlflow.root().string() << "\n";
    return k_exit_ok;
}

void register_export(CLI::App& app, CommonOptions& common, Commands& commands) {
    const auto state = std::make_shared<ExportOptions>();
    ExportOptions& export_options = *state;
    CLI::App* export_app = add_export_subcommand(app, export_options);
    add_common(export_app, common, true);
    commands.push_back({export_app, [&common, state] { return export_command(common, *state); }});
}

} // namespace kakuren::cli

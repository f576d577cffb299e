// `kakuren show RUN`: one run's record, its attempts and its epochs (a table, or --format json).
#include <algorithm>
#include <cctype>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/lookup.hpp"
#include "cli/platform_info.hpp"
#include "cli/run_json.hpp"
#include "cli/text.hpp"
#include "db/store.hpp"
#include "launcher/job_state.hpp"
#include "launcher/workspace.hpp"
#include "report/recipe_summary.hpp"
#include "util/json.hpp"
#include "util/metrics.hpp"

namespace kakuren::cli {
namespace {

/// The fraction of the run's samples hidden in an epoch (the requested one is e.max_fraction).
double realised_fraction(const db::RunRow& run, const db::EpochRow& e) {
    return run.num_samples > 0 ? static_cast<double>(e.hidden) / run.num_samples : 0.0;
}

util::JsonObject epoch_json(const db::RunRow& run, const db::EpochRow& e) {
    util::JsonObject row{{"epoch", e.epoch},
                         {"train_loss", util::Json::measured(e.train_loss)},
                         {"train_accuracy", util::Json::measured(e.train_accuracy)},
                         {"test_loss", util::Json::measured(e.test_loss)},
                         {"test_accuracy", util::Json::measured(e.test_accuracy)},
                         {"lr", e.lr},
                         {"lr_scale", e.lr_scale},
                         {"requested_fraction", e.max_fraction},
                         {"realised_fraction", realised_fraction(run, e)},
                         {"visible", e.visible},
                         {"hidden", e.hidden},
                         {"moved_back", e.moved_back},
                         {"candidates", e.candidates},
                         {"refreshed", e.refreshed},
                         {"train_s", e.train_s},
                         {"hidden_pass_s", e.hidden_pass_s},
                         {"eval_s", e.eval_s},
                         {"total_s", e.total_s},
                         {"samples_per_s", e.samples_per_s},
                         {"comm_s", e.comm_s ? util::Json(*e.comm_s) : util::Json::null()}};
    if (e.bytes_read) {
        row.emplace_back("bytes_read", static_cast<long long>(*e.bytes_read));
    }
    return row;
}

util::JsonObject attempt_json(const db::AttemptRow& a) {
    return util::JsonObject{{"attempt", a.attempt},
                            {"host", a.host},
                            {"pid", a.pid},
                            {"started_at", a.started_at},
                            {"ended_at", a.ended_at},
                            {"status", a.status},
                            {"reason", a.reason},
                            {"job_id", a.job_id},
                            {"world_size", a.world_size},
                            {"nodes", a.nodes}};
}

void print_json(const db::Store& store, const db::RunRow& run,
                const std::vector<db::EpochRow>& epochs,
                const std::vector<db::AttemptRow>& attempts) {
    util::JsonArray epoch_array;
    for (const db::EpochRow& e : epochs) {
        epoch_array.push_back(epoch_json(run, e));
    }
    util::JsonArray attempt_array;
    for (const db::AttemptRow& a : attempts) {
        attempt_array.push_back(attempt_json(a));
    }
    const std::vector<db::JobRow> jobs = store.jobs(run.id);
    util::Json run_json = run_to_json(
        run, jobs.empty() ? db::to_string(run.status) : launcher::display_state(run, jobs.back()));
    util::JsonObject platform;
    for (const PlatformField& f : read_platform(run.run_dir)) {
        platform.emplace_back(f.key, f.value);
    }
    std::cout << util::Json(util::JsonObject{{"run", run_json},
                                             {"platform", std::move(platform)},
                                             {"attempts", std::move(attempt_array)},
                                             {"epochs", std::move(epoch_array)}})
                     .dump_pretty()
              << std::endl;
}

void print_record(const db::RunRow& run, const std::vector<db::AttemptRow>& attempts) {
    std::cout << "run       " << run.id << "\n"
              << "status    " << db::to_string(run.status)
              << (run.reason.empty() ? "" : " (" + run.reason + ")") << "\n"
              << "hiding    " << report::hiding_label(report::flat_toml(run.recipe_text))
              << ", realised mean " << percent(run.mean_realised_fraction) << "\n"
              << "metric    " << run.metric
              << (util::metrics::lower_is_better(run.metric) ? " (lower is better)" : "") << "\n"
              << "seed      " << run.seed << "\n"
              << "samples   " << thousands(run.num_samples) << "\n"
              << "recipe    " << run.recipe_path << " (sha256 " << run.recipe_hash.substr(0, 12)
              << ")\n"
              << "folder    " << run.run_dir << "\n"
              << "platform  " << platform_line(read_platform(run.run_dir)) << "\n"
              << "logs      " << run.run_dir << "/train.log, " << run.run_dir << "/mllog.txt\n"
              << "times     created " << run.created_at << ", started " << run.started_at
              << ", ended " << (run.ended_at.empty() ? "-" : run.ended_at) << "\n";
    for (const db::AttemptRow& a : attempts) {
        std::cout << "attempt " << a.attempt << " pid " << a.pid << " on " << a.host << ": "
                  << a.status << (a.reason.empty() ? "" : " (" + a.reason + ")") << "\n";
    }
}

/// Which optional columns the epoch table has. COMM s (multi-rank runs only): seconds waited on
/// the other ranks' collectives that were not hidden behind computation. READ MB (streamed data
/// sets: npy, hdf5): bytes read from disk.
struct Columns {
    bool comm = false;
    bool read = false;
};

std::vector<std::string> epoch_header(const std::string& metric, Columns columns) {
    std::string metric_header = metric == "accuracy" ? "ACC" : metric;
    std::transform(metric_header.begin(), metric_header.end(), metric_header.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    std::vector<std::string> header = {"EPOCH",    "LOSS",      "TEST " + metric_header,
                                       "LR",       "SCALE",     "MAX F",
                                       "REALISED", "HIDDEN",    "MOVED BACK",
                                       "TRAIN s",  "REFRESH s", "EVAL s"};
    if (columns.comm) {
        header.emplace_back("COMM s");
    }
    header.emplace_back("SAMPLES/s");
    if (columns.read) {
        header.emplace_back("READ MB");
    }
    return header;
}

std::vector<std::string> epoch_cells(const db::RunRow& run, const db::EpochRow& e,
                                     Columns columns) {
    std::vector<std::string> cells = {std::to_string(e.epoch),
                                      fixed(e.train_loss, 4),
                                      report::metric_value(run.metric, e.test_accuracy),
                                      fixed(e.lr, 5),
                                      fixed(e.lr_scale, 3),
                                      percent(e.max_fraction),
                                      percent(realised_fraction(run, e)),
                                      thousands(e.hidden),
                                      thousands(e.moved_back),
                                      fixed(e.train_s, 1),
                                      fixed(e.hidden_pass_s, 1),
                                      fixed(e.eval_s, 1)};
    if (columns.comm) {
        cells.push_back(e.comm_s ? fixed(*e.comm_s, 2) : "-");
    }
    cells.push_back(thousands(static_cast<std::int64_t>(e.samples_per_s)));
    if (columns.read) {
        cells.push_back(e.bytes_read ? fixed(static_cast<double>(*e.bytes_read) / 1e6, 1) : "-");
    }
    return cells;
}

std::string epoch_table(const db::RunRow& run, const std::vector<db::EpochRow>& epochs) {
    Columns columns;
    columns.comm = std::any_of(epochs.begin(), epochs.end(),
                               [](const db::EpochRow& e) { return e.comm_s && *e.comm_s > 0; });
    columns.read = std::any_of(epochs.begin(), epochs.end(),
                               [](const db::EpochRow& e) { return e.bytes_read.has_value(); });
    Table table(epoch_header(run.metric, columns));
    for (const db::EpochRow& e : epochs) {
        table.add(epoch_cells(run, e, columns));
    }
    return table.render();
}

} // namespace

int show_command(const CommonOptions& common, const std::string& ref) {
    const db::Store store = open_store(launcher::resolve_workspace(common.workspace));
    const db::RunRow run = require_run(store, ref);
    const std::vector<db::EpochRow> epochs = store.epochs(run.id);
    const std::vector<db::AttemptRow> attempts = store.attempts(run.id);
    if (common.format == Format::json) {
        print_json(store, run, epochs, attempts);
        return k_exit_ok;
    }
    print_record(run, attempts);
    if (epochs.empty()) {
        std::cout << "no epochs recorded yet\n";
        return k_exit_ok;
    }
    std::cout << "\n" << epoch_table(run, epochs);
    return k_exit_ok;
}

} // namespace kakuren::cli

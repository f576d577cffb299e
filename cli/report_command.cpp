// `kakuren report`: what runs cost, where the time went, and what hiding saved (report/ does the
// work; this file maps the command line onto it).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/command_line.hpp"
#include "cli/commands.hpp"
#include "db/store.hpp"
#include "launcher/ownership.hpp"
#include "launcher/workspace.hpp"
#include "report/render.hpp"
#include "report/report.hpp"
#include "tune/report_section.hpp"
#include "util/strings.hpp"
#include "util/system.hpp"

namespace kakuren::cli {

namespace {

/// The format named by --format, else by -o's extension, else the text table.
std::string resolve_format(const ReportOptions& options) {
    if (!options.format.empty()) {
        const std::string format = util::lower(options.format);
        return format == "text" ? "table" : format;
    }
    const std::string ext = std::filesystem::path(options.output).extension().string();
    if (ext == ".html" || ext == ".htm") {
        return "html";
    }
    if (ext == ".json") {
        return "json";
    }
    if (ext == ".csv") {
        return "csv";
    }
    return "table";
}

} // namespace

CLI::App* add_report_subcommand(CLI::App& app, CommonOptions& common, ReportOptions& options) {
    CLI::App* sub = app.add_subcommand(
        "report", "What runs cost, where the time went and what hiding saved: tables, JSON, CSV "
                  "or an HTML page with plots");
    sub->footer(
        "Without RUN, --all or --name: the newest run. Each hiding run is compared with a\n"
        "baseline: --baseline RUN, else a run of the same recipe with hiding.strategy=none\n"
        "(same seed preferred), which joins the report. Examples:\n"
        "  kakuren report                         # the newest run and its baseline\n"
        "  kakuren report --all -o report.html    # every run, one self-contained page\n"
        "  kakuren report RUN --samples --epoch 5 # how often each sample was hidden\n"
        "  kakuren report --name 'fashion*' --format json");
    sub->add_option("runs", options.runs, "Run ids (a unique prefix is enough)");
    sub->add_flag("--all,-a", options.all, "Every run of the workspace");
    sub->add_option("--name", options.name,
                    "Runs whose name, id or sweep id matches this glob, e.g. 'fashion*' or "
                    "the sweep-... id kakuren submit --sweep printed");
    sub->add_option("--baseline,-b", options.baseline,
                    "Compare every hiding run with this run (default: found by recipe)");
    sub->add_option("--format,-f", options.format,
                    "table, json, csv or html (default: from -o's extension, else table)")
        ->check(CLI::IsMember({"table", "text", "json", "csv", "html"}, CLI::ignore_case));
    sub->add_option("--output,-o", options.output, "Write to this file instead of stdout");
    sub->add_flag("--samples", options.samples,
                  "Per-sample view: how often each sample was hidden, hidden vs visible losses");
    sub->add_option("--epoch,-e", options.epoch,
                    "With --samples: the epoch whose hidden set splits the losses (default: "
                    "the latest)")
        ->check(CLI::PositiveNumber);
    sub->add_option(
           "--target", options.target,
           "Accuracy target (0-1] for time-to-target (default: each run's task.target, else "
           "run.target_accuracy)")
        ->check(CLI::Range(0.0, 1.0));
    add_workspace_option(sub, common.workspace);
    return sub;
}

int report_command(const CommonOptions& common, const ReportOptions& options) {
    if (options.epoch > 0 && !options.samples) {
        throw UsageError("--epoch selects the epoch of the --samples view; add --samples");
    }
    if (std::isnan(options.target) || options.target == 0) {
        throw UsageError("--target must be in (0, 1], e.g. --target 0.9");
    }
    const launcher::Workspace ws = launcher::resolve_workspace(common.workspace);
    if (!std::filesystem::exists(ws.db_file)) {
        throw UsageError("no kakuren.db in " + ws.root.string() +
                         "; pass --workspace or set KAKUREN_WORKSPACE");
    }
    db::Store store = db::Store::open(ws.db_file);
    // A run whose process vanished is reported as crashed, never as running.
    launcher::reap_dead_runs(store);

    report::Request request;
    request.runs = options.runs;
    request.all = options.all;
    request.name_pattern = options.name;
    request.baseline = options.baseline;
    request.samples = options.samples;
    request.sample_epoch = options.epoch;
    if (options.target > 0) {
        request.target = options.target;
    }
    request.workspace = ws.root.string();
    report::Report report = report::build_report(store, request);
    report.tunes = tune::report_sections(store, report, options.all);

    const std::string format = resolve_format(options);
    std::string text;
    if (format == "json") {
        text = report::render_json(report);
    } else if (format == "csv") {
        text = report::render_csv(report);
    } else if (format == "html") {
        text = report::render_html(report);
    } else {
        text = report::render_table(report);
    }
    if (options.output.empty()) {
        std::cout << text << std::flush;
        return k_exit_ok;
    }
    util::atomic_write(options.output, text);
    std::cerr << "wrote " << options.output << " (" << format << ", " << report.runs.size()
              << " run" << (report.runs.size() == 1 ? "" : "s") << ")\n";
    return k_exit_ok;
}

void register_report(CLI::App& app, CommonOptions& common, Commands& commands) {
    const auto state = std::make_shared<ReportOptions>();
    ReportOptions& report_options = *state;
    CLI::App* report = add_report_subcommand(app, common, report_options);
    commands.push_back({report, [&common, state] { return report_command(common, *state); }});
}

} // namespace kakuren::cli

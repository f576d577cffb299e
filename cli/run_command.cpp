// `kakuren run`: validate, record, train in the foreground, report.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/config_map.hpp"
#include "cli/text.hpp"
#include "db/store.hpp"
#include "launcher/signals.hpp"
#include "launcher/workspace.hpp"
#include "recipes/recipe.hpp"
#include "trainer/trainer.hpp"
#include "util/json.hpp"
#include "util/system.hpp"

namespace kakuren::cli {
namespace {

std::string epoch_line(const trainer::EpochResult& r, int num_epochs, std::int64_t num_samples) {
    const double realised =
        num_samples > 0 ? static_cast<double>(r.hidden) / static_cast<double>(num_samples) : 0.0;
    std::string line = "epoch " + std::to_string(r.epoch) + "/" + std::to_string(num_epochs);
    line += "  loss " + fixed(r.train_loss, 4) + "  test acc " + percent(r.test_accuracy, 2);
    line += "  lr " + fixed(r.lr, 4);
    if (r.lr_scale != 1.0) {
        line += "x" + fixed(r.lr_scale, 3);
    }
    line += "  hidden " + thousands(r.hidden) + "/" + thousands(num_samples) + " (" +
            percent(realised) + " of max " + percent(r.max_fraction) + ")";
    line += "  moved back " + thousands(r.moved_back);
    line += "  time " + fixed(r.total_s, 1) + "s (train " + fixed(r.train_s, 1) + ", refresh " +
            fixed(r.hidden_pass_s, 1) + ", eval " + fixed(r.eval_s, 1) + ")";
    return line;
}

/// Writes each epoch to the database and the run's log, and shows progress.
class Recorder : public trainer::Observer {
  public:
    Recorder(db::Store& store, std::string run_id, std::ostream& log, bool live_bar, bool lines,
             std::ostream& line_out, int num_epochs)
        : m_store(store), m_run_id(std::move(run_id)), m_log(log), m_live_bar(live_bar),
          m_lines(lines), m_line_out(line_out), m_num_epochs(num_epochs) {}

    void on_start(std::int64_t num_train, std::int64_t num_test) override {
        m_num_train = num_train;
        m_store.set_run_num_samples(m_run_id, num_train);
        m_log << util::iso8601_utc_now() << " start: " << thousands(num_train)
              << " training samples, " << thousands(num_test) << " test samples" << std::endl;
    }

    void on_progress(const trainer::StepProgress& p) override {
        if (!m_live_bar) {
            return;
        }
        const double epoch_fraction =
            p.num_steps > 0 ? static_cast<double>(p.step) / static_cast<double>(p.num_steps) : 0.0;
        const int width = 24;
        const int filled = static_cast<int>(std::lround(epoch_fraction * width));
        std::string bar = "\r\033[2Kepoch " + std::to_string(p.epoch) + "/" +
                          std::to_string(p.num_epochs) + " [" + std::string(filled, '#') +
                          std::string(width - filled, '.') + "] " + p.phase + " " +
                          std::to_string(p.step) + "/" + std::to_string(p.num_steps) + "  " +
                          thousands(std::llround(p.samples_per_s)) + " samples/s  hidden " +
                          percent(p.hidden_fraction) + "  ETA " + eta(p, epoch_fraction);
        std::cerr << bar << std::flush;
        m_bar_shown = true;
    }

    void on_epoch(const trainer::EpochResult& r) override {
        db::EpochRow row;
        row.run_id = m_run_id;
        row.epoch = r.epoch;
        row.train_loss = r.train_loss;
        row.train_accuracy = r.train_accuracy;
        row.test_loss = r.test_loss;
        row.test_accuracy = r.test_accuracy;
        row.lr = r.lr;
        row.lr_scale = r.lr_scale;
        row.max_fraction = r.max_fraction;
        row.visible = r.visible;
        row.hidden = r.hidden;
        row.moved_back = r.moved_back;
        row.candidates = r.candidates;
        row.refreshed = r.refreshed;
        row.train_s = r.train_s;
        row.hidden_pass_s = r.hidden_pass_s;
        row.eval_s = r.eval_s;
        row.total_s = r.total_s;
        row.samples_per_s = r.samples_per_s;
        row.ended_at = util::iso8601_utc_now();
        db::SampleState state;
        state.epoch = r.epoch;
        state.loss.assign(r.loss.begin(), r.loss.end());
        state.correct.assign(r.correct.begin(), r.correct.end());
        state.confidence.assign(r.confidence.begin(), r.confidence.end());
        m_store.record_epoch(row, state, r.hidden_ids, static_cast<std::int64_t>(r.loss.size()));

        m_epoch_seconds += r.total_s;
        m_epochs_seen += 1;
        const std::string line = epoch_line(r, m_num_epochs, static_cast<std::int64_t>(r.loss.size()));
        m_log << row.ended_at << " " << line << std::endl;
        if (m_bar_shown) {
            std::cerr << "\r\033[2K" << std::flush;
            m_bar_shown = false;
        }
        if (m_lines) {
            m_line_out << line << std::endl;
        }
    }

    void clear_bar() {
        if (m_bar_shown) {
            std::cerr << "\r\033[2K" << std::flush;
            m_bar_shown = false;
        }
    }

  private:
    std::string eta(const trainer::StepProgress& p, double epoch_fraction) const {
        if (m_epochs_seen == 0) {
            return epoch_fraction > 0.05 ? duration(p.elapsed_s / epoch_fraction * m_num_epochs -
                                                    p.elapsed_s)
                                         : "?";
        }
        const double per_epoch = m_epoch_seconds / m_epochs_seen;
        return duration(per_epoch * ((p.num_epochs - p.epoch) + (1.0 - epoch_fraction)));
    }

    db::Store& m_store;
    std::string m_run_id;
    std::ostream& m_log;
    bool m_live_bar;
    bool m_lines;
    std::ostream& m_line_out;
    int m_num_epochs;
    std::int64_t m_num_train = 0;
    double m_epoch_seconds = 0;
    int m_epochs_seen = 0;
    bool m_bar_shown = false;
};

util::Json run_json(const std::string& run_id, const std::string& status, int exit_code,
                    const trainer::Summary& s, const launcher::Workspace& ws) {
    const auto dir = ws.run_dir(run_id);
    return util::JsonObject{{"run_id", run_id},
                            {"status", status},
                            {"exit_code", exit_code},
                            {"epochs_done", s.epochs_done},
                            {"final_accuracy", s.final_accuracy},
                            {"best_accuracy", s.best_accuracy},
                            {"target_reached", s.target_reached},
                            {"run_dir", dir.string()},
                            {"mllog", (dir / "mllog.txt").string()},
                            {"log", (dir / "train.log").string()},
                            {"database", ws.db_file.string()}};
}

} // namespace

int run_command(const CommonOptions& common, const RunOptions& options) {
    const launcher::Workspace ws = launcher::resolve_workspace(common.workspace);
    const recipes::Recipe recipe = recipes::load(options.recipe, options.overrides);
    const trainer::Config config = trainer_config(recipe);

    if (options.dry_run) {
        std::cout << "dry run: nothing is created or trained\n"
                  << "workspace: " << ws.root.string() << " (database " << ws.db_file.string()
                  << ", run folder " << ws.run_dir(recipe.run.name + "-<time>-<id>").string()
                  << ")\n"
                  << "would train " << recipe.model.kind << " on " << recipe.data.dataset << " for "
                  << recipe.schedule.epochs << " epochs with " << config.threads
                  << " threads, hiding " << recipe.hiding.strategy << "\n\n"
                  << recipes::show(recipe);
        return k_exit_ok;
    }

    db::Store store = db::Store::open(ws.db_file);
    store.reap_dead_runs(util::hostname(), &util::process_alive);

    const std::string run_id = launcher::new_run_id(recipe.run.name);
    const std::filesystem::path run_dir = ws.run_dir(run_id);
    std::error_code ec;
    std::filesystem::create_directories(run_dir, ec);
    if (ec) {
        throw RuntimeFailure("cannot create run folder " + run_dir.string() + ": " + ec.message());
    }
    const std::string resolved = recipes::to_toml(recipe);
    util::atomic_write(run_dir / "recipe.toml", resolved);

    db::RunRow row;
    row.id = run_id;
    row.name = recipe.run.name;
    row.recipe_path = std::filesystem::absolute(recipe.file).string();
    row.recipe_text = resolved;
    row.recipe_hash = util::sha256_hex(resolved);
    row.strategy = recipe.hiding.strategy;
    row.fraction = recipe.hiding.strategy == "none" ? 0.0 : recipe.hiding.fraction;
    row.seed = recipe.run.seed;
    row.num_epochs = recipe.schedule.epochs;
    row.status = db::RunStatus::created;
    row.created_at = util::iso8601_utc_now();
    row.run_dir = run_dir.string();
    store.insert_run(row);
    const std::int64_t pid = getpid();
    const int attempt =
        store.begin_attempt(run_id, util::hostname(), pid, util::process_start_ticks(pid));

    const bool json = common.format == Format::json;
    if (!json) {
        std::cout << "run " << run_id << "\n"
                  << "records: " << run_dir.string() << " (train.log, mllog.txt), database "
                  << ws.db_file.string() << std::endl;
    }

    std::ofstream log(run_dir / "train.log", std::ios::app);
    const bool tty = isatty(STDERR_FILENO) == 1;
    Recorder recorder(store, run_id, log, tty && !options.quiet, !options.quiet,
                      json ? std::cerr : std::cout, config.schedule.epochs);
    util::MlLog mllog(run_dir / "mllog.txt");
    launcher::install_stop_handlers();

    trainer::Summary summary;
    try {
        summary = trainer::train(config, recorder, mllog, &launcher::stop_flag());
    } catch (const std::exception& e) {
        recorder.clear_bar();
        log << util::iso8601_utc_now() << " failed: " << e.what() << std::endl;
        store.end_attempt(run_id, attempt, "failed", e.what());
        throw;
    }
    recorder.clear_bar();

    std::string status;
    int code = k_exit_ok;
    std::string reason;
    if (summary.interrupted) {
        status = "interrupted";
        code = k_exit_interrupted;
        reason = "stopped by signal " + std::to_string(launcher::stop_signal()) + " after " +
                 std::to_string(summary.epochs_done) + " epochs";
    } else if (summary.target_reached || !config.target_accuracy) {
        status = summary.target_reached ? "succeeded" : "finished";
    } else {
        status = "finished";
        code = k_exit_target_missed;
        reason = "target accuracy " + percent(*config.target_accuracy, 2) + " not reached (best " +
                 percent(summary.best_accuracy, 2) + ")";
    }
    store.end_attempt(run_id, attempt, status, reason);
    log << util::iso8601_utc_now() << " " << status << (reason.empty() ? "" : ": " + reason)
        << std::endl;

    if (json) {
        std::cout << run_json(run_id, status, code, summary, ws).dump_pretty() << std::endl;
    } else {
        std::cout << "run " << run_id << " " << status << ": " << summary.epochs_done
                  << " epochs, final test accuracy " << percent(summary.final_accuracy, 2)
                  << ", best " << percent(summary.best_accuracy, 2)
                  << (reason.empty() ? "" : " (" + reason + ")") << "\n";
    }
    return code;
}

} // namespace kakuren::cli

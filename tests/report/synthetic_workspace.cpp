#include "synthetic_workspace.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <ctime>
#include <fstream>
#include <numeric>
#include <span>

#include "recipes/recipe.hpp"
#include "util/json.hpp"
#include "util/mllog.hpp"
#include "util/system.hpp"

namespace kakuren::report::testing {

namespace {

constexpr const char* k_recipe = R"([run]
name = "synthetic"
[data]
dataset = "synthetic"
synthetic_size = 12
[model]
kind = "mlp"
hidden = [64]
[schedule]
warmup_epochs = 0
)";

std::string iso(std::int64_t ms) {
    const auto secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
    return out;
}

std::string resolved_recipe(const SyntheticRun& s) {
    std::vector<std::string> sets = {
        "run.name=" + s.name,
        "run.seed=" + std::to_string(s.seed),
        "hiding.strategy=" + s.strategy,
        "hiding.fraction=" + std::to_string(s.fraction),
        "schedule.epochs=" + std::to_string(s.epochs),
        "data.synthetic_train=" + std::to_string(s.num_samples),
        "data.batch_size=" + std::to_string(s.batch_size),
        "schedule.milestones=" +
            (s.epochs > 2 ? "[" + std::to_string(s.epochs * 2 / 3) + "]" : std::string("[]")),
    };
    if (s.target) {
        sets.push_back("run.target_accuracy=" + std::to_string(*s.target));
    }
    sets.insert(sets.end(), s.sets.begin(), s.sets.end());
    return recipes::to_toml(recipes::parse(k_recipe, "synthetic.toml", sets));
}

/// A small deterministic hash in [0, 1).
double noise(std::uint64_t a, std::uint64_t b) {
    std::uint64_t x = a * 0x9E3779B97F4A7C15ULL + b * 0xBF58476D1CE4E5B9ULL + 0x94D049BB133111EBULL;
    x ^= x >> 31;
    x *= 0xD6E8FEB86659FD93ULL;
    x ^= x >> 29;
    return static_cast<double>(x >> 11) / static_cast<double>(1ULL << 53);
}

/// The MLPerf log being written: its lines and the time (ms) of the next record.
struct LogWriter {
    std::vector<std::string> lines;
    std::int64_t t = 0;
    void emit(const char* key, const util::Json& value, const util::JsonObject& meta = {}) {
        lines.push_back(util::mllog_line(t, key, value, meta, "trainer/loop.cpp", 500));
    }
};

/// The runs row of spec, for the id and run directory already chosen.
db::RunRow run_row(const SyntheticRun& spec, const SyntheticResult& result,
                   const std::filesystem::path& workspace) {
    db::RunRow row;
    row.id = result.id;
    row.name = spec.name;
    row.recipe_path = (workspace / "synthetic.toml").string();
    row.recipe_text = resolved_recipe(spec);
    row.recipe_hash = util::sha256_hex(row.recipe_text);
    row.strategy = spec.strategy;
    row.fraction = spec.fraction;
    row.seed = spec.seed;
    row.num_samples = spec.num_samples;
    row.num_epochs = spec.epochs;
    row.created_at = iso(spec.start_ms);
    row.run_dir = result.run_dir.string();
    row.metric = spec.metric;
    return row;
}

/// The log's init block (submission, system, optimizer and hiding settings), 0.4 s long, up to
/// run_start; records init_s and run_start_ms in result.
void emit_init(LogWriter& log, const SyntheticRun& spec, SyntheticResult& result) {
    log.emit("cache_clear", true);
    log.emit("init_start", util::Json());
    log.emit("submission_benchmark", spec.name);
    log.emit("submission_org", "kakuren");
    log.emit("submission_division", "open");
    log.emit("submission_status", "research");
    log.emit("submission_platform", "1xCPU-2c");
    log.emit("seed", static_cast<long long>(spec.seed));
    log.emit("number_of_ranks", 1);
    log.emit("number_of_nodes", 1);
    log.emit("accelerators_per_node", 0);
    log.emit("global_batch_size", spec.batch_size);
    log.emit("gradient_accumulation_steps", 1);
    log.emit("opt_name", "sgd");
    log.emit("opt_base_learning_rate", 0.05);
    log.emit("opt_learning_rate_warmup_epochs", 0);
    log.emit("opt_learning_rate_warmup_factor", 1.0);
    log.emit("opt_learning_rate_decay_boundary_epochs", util::JsonArray{spec.epochs * 2 / 3});
    log.emit("opt_learning_rate_decay_factor", 0.1);
    log.emit("opt_weight_decay", 5e-4);
    log.emit("opt_momentum", 0.9);
    log.emit("hiding_strategy", spec.strategy);
    log.emit("hiding_fraction", spec.fraction);
    log.emit("hiding_tau", 0.7);
    log.emit("hiding_lr_compensation", "scheduled");
    log.emit("hiding_refresh_every", 1);
    log.emit("train_samples", static_cast<long long>(spec.num_samples));
    log.emit("eval_samples", 512);
    log.t += 400;
    result.init_s = 0.4;
    log.emit("init_stop", util::Json());
    log.emit("run_start", util::Json());
    result.run_start_ms = log.t;
}

/// Epoch e's row, starting at t_ms: it hides 70% of fraction x N candidates (none in epoch 1,
/// 0.8 x fraction after the LR milestone), its times scale with the visible samples.
db::EpochRow epoch_row(const SyntheticRun& spec, const std::string& run_id, int e,
                       std::int64_t t_ms) {
    const std::int64_t n = spec.num_samples;
    const int milestone = spec.epochs > 2 ? spec.epochs * 2 / 3 : spec.epochs + 1;
    const double f_e =
        spec.strategy == "none" ? 0.0 : spec.fraction * (e - 1 >= milestone ? 0.8 : 1.0);
    const std::int64_t candidates = e == 1 ? 0 : static_cast<std::int64_t>(f_e * n);
    const std::int64_t hidden = candidates * 7 / 10;
    db::EpochRow r;
    r.run_id = run_id;
    r.epoch = e;
    r.test_accuracy = synthetic_accuracy(spec, e);
    r.test_loss = 1.5 - r.test_accuracy;
    r.train_loss = 1.4 - r.test_accuracy;
    r.train_accuracy = r.test_accuracy + 0.01;
    r.lr = e - 1 >= milestone ? 0.005 : 0.05;
    r.lr_scale = spec.strategy == "none" ? 1.0 : 1.0 / (1.0 - f_e);
    r.max_fraction = f_e;
    r.candidates = candidates;
    r.hidden = hidden;
    r.moved_back = candidates - hidden;
    r.visible = n - hidden;
    r.refreshed = hidden;
    r.train_s = spec.epoch_s * static_cast<double>(r.visible) / static_cast<double>(n);
    r.hidden_pass_s = 0.3 * spec.epoch_s * static_cast<double>(hidden) / static_cast<double>(n);
    r.eval_s = 0.1 * spec.epoch_s;
    r.total_s = r.train_s + r.hidden_pass_s + r.eval_s + 0.01;
    r.samples_per_s = static_cast<double>(r.visible) / r.train_s;
    r.comm_s = spec.comm_s;
    r.bytes_read = spec.bytes_read;
    r.ended_at = iso(t_ms + static_cast<std::int64_t>(r.total_s * 1000));
    return r;
}

/// The epoch's log records, epoch_start to epoch_stop; advances the log's time through it.
void emit_epoch(LogWriter& log, const db::EpochRow& r, std::int64_t n) {
    const util::JsonObject meta{{"epoch_num", r.epoch}};
    log.emit("epoch_start", util::Json(), meta);
    log.emit("hidden_samples", static_cast<long long>(r.hidden), meta);
    log.emit("moved_back_samples", static_cast<long long>(r.moved_back), meta);
    log.emit("realised_hidden_fraction", static_cast<double>(r.hidden) / static_cast<double>(n),
             meta);
    log.emit("learning_rate", r.lr * r.lr_scale, meta);
    log.emit("lr_scale", r.lr_scale, meta);
    log.t += static_cast<std::int64_t>((r.train_s + r.hidden_pass_s) * 1000);
    log.emit("train_loss", r.train_loss, meta);
    log.emit("eval_start", util::Json(), meta);
    log.t += static_cast<std::int64_t>(r.eval_s * 1000);
    log.emit("eval_accuracy", r.test_accuracy, meta);
    log.emit("eval_error", 1.0 - r.test_accuracy, meta);
    log.emit("eval_stop", util::Json(), meta);
    log.t += 10;
    log.emit("epoch_stop", util::Json(), meta);
}

/// Epoch e's per-sample state (with spec.write_samples) and its hidden set of `hidden` ids.
std::vector<std::int64_t> hidden_ids(const SyntheticRun& spec, int e, std::int64_t hidden,
                                     util::SampleStats& state) {
    const std::int64_t n = spec.num_samples;
    std::vector<std::int64_t> ids;
    if (!spec.write_samples) {
        // Still a valid hidden set of the right size (the first ids).
        ids.resize(static_cast<std::size_t>(hidden));
        std::iota(ids.begin(), ids.end(), 0);
        return ids;
    }
    const std::span<float> loss = state.loss();
    for (std::int64_t i = 0; i < n; ++i) {
        const auto k = static_cast<std::size_t>(i);
        loss[k] = static_cast<float>(
            2.0 * noise(static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(e)) / e);
        state.correct()[k] = loss[k] < 0.5F ? 1 : 0;
        state.confidence()[k] = 1.0F - loss[k] / 2.0F;
    }
    // Hidden: the samples with the lowest loss this epoch (ties by index).
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::nth_element(order.begin(), order.begin() + hidden, order.end(),
                     [&](std::int64_t a, std::int64_t b) {
                         const float la = loss[static_cast<std::size_t>(a)];
                         const float lb = loss[static_cast<std::size_t>(b)];
                         return la != lb ? la < lb : a < b;
                     });
    ids.assign(order.begin(), order.begin() + hidden);
    std::sort(ids.begin(), ids.end());
    return ids;
}

/// Records the epochs up to last_epoch (or the first reaching spec.target) in the store and the
/// log; returns the last epoch recorded and whether it reached the target.
std::pair<int, bool> write_epochs(db::Store& store, const SyntheticRun& spec,
                                  const std::string& run_id, int last_epoch, LogWriter& log) {
    const std::int64_t n = spec.num_samples;
    const auto size = static_cast<std::size_t>(n);
    util::SampleStats state{std::vector<float>(size), std::vector<std::uint8_t>(size),
                            std::vector<float>(size)};
    int done = 0;
    for (int e = 1; e <= last_epoch; ++e) {
        done = e;
        const db::EpochRow r = epoch_row(spec, run_id, e, log.t);
        emit_epoch(log, r, n);
        const std::vector<std::int64_t> ids = hidden_ids(spec, e, r.hidden, state);
        store.record_epoch(r, state.view(), ids, n);
        if (spec.target && r.test_accuracy >= *spec.target) {
            return {done, true};
        }
    }
    return {done, false};
}

} // namespace

double synthetic_accuracy(const SyntheticRun& spec, int epoch) {
    const double base = 0.55 + 0.38 * (1 - std::exp(-epoch / 3.0));
    const double hiding_cost = spec.strategy == "none" ? 0.0 : 0.004;
    return base - hiding_cost + 0.01 * (noise(static_cast<std::uint64_t>(spec.seed), 7) - 0.5);
}

SyntheticResult add_synthetic_run(db::Store& store, const std::filesystem::path& workspace,
                                  const SyntheticRun& spec) {
    static std::atomic<int> counter{0};
    SyntheticResult result;
    char seq[16];
    std::snprintf(seq, sizeof seq, "%04d", ++counter);
    result.id = spec.name + "-" + seq;
    result.run_dir = workspace / "runs" / result.id;
    std::filesystem::create_directories(result.run_dir);
    store.insert_run(run_row(spec, result, workspace));
    const bool alive = spec.status == db::RunStatus::running;
    const int attempt =
        store.begin_attempt(result.id, util::hostname(), alive ? getpid() : 999'999'999,
                            alive ? util::process_start_ticks(getpid()) : 1);

    const int last_epoch = spec.status == db::RunStatus::crashed || alive
                               ? std::min(spec.crash_after, spec.epochs)
                               : spec.epochs;
    LogWriter log;
    log.t = spec.start_ms;
    emit_init(log, spec, result);
    const auto [done, target_reached] = write_epochs(store, spec, result.id, last_epoch, log);
    if (spec.status == db::RunStatus::crashed) {
        store.end_attempt(result.id, attempt, "crashed",
                          "process 999999999 on " + util::hostname() +
                              " ended without recording an end (killed or crashed)");
    } else if (!alive) {
        const std::string status = target_reached ? "succeeded" : "finished";
        log.emit("run_stop", util::Json(),
                 {{"status", target_reached ? "success" : "aborted"}, {"epoch_num", done}});
        result.run_stop_ms = log.t;
        store.end_attempt(result.id, attempt, status);
    }
    if (spec.write_log) {
        std::ofstream out(result.run_dir / "mllog.txt");
        for (const std::string& line : log.lines) {
            out << line << '\n';
        }
    }
    return result;
}

} // namespace kakuren::report::testing

#include "report/report.hpp"

#include "report/groups.hpp"
#include "report/select.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <numeric>
#include <ranges>
#include <set>

#include "util/metrics.hpp"
#include "util/mlperf_keys.hpp"
#include "util/system.hpp"

namespace kakuren::report {

namespace {

std::string outcome_of(db::RunStatus s) {
    switch (s) {
    case db::RunStatus::created:
        return "created";
    case db::RunStatus::running:
        return "running";
    case db::RunStatus::succeeded:
    case db::RunStatus::finished:
        return "completed";
    case db::RunStatus::interrupted:
        return "interrupted";
    case db::RunStatus::failed:
    case db::RunStatus::crashed:
        return "failed";
    }
    return "failed";
}

/// Checkpoint seconds of an epoch row, once the store records them (a later schema adds the
/// column); absent until then.
template <typename Row> std::optional<double> checkpoint_seconds(const Row& row) {
    if constexpr (requires { row.checkpoint_s; }) {
        return static_cast<double>(row.checkpoint_s);
    } else {
        return std::nullopt;
    }
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
    return b > 0 ? (a + b - 1) / b : 0;
}

/// Whether value beats than under the run's metric: accuracy and IoU grow, MAE (regression)
/// falls (db runs.metric).
bool better(bool lower_is_better, double value, double than) {
    return lower_is_better ? value < than : value > than;
}

/// What the MLPerf log must agree with: the run's row and its epochs' accuracies.
LogExpectations expectations_of(const db::RunRow& run, const std::vector<db::EpochRow>& rows) {
    LogExpectations expected;
    expected.db_status = db::to_string(run.status);
    expected.seed = run.seed;
    expected.train_samples = run.num_samples;
    expected.strategy = run.strategy;
    if (const util::metrics::Metric* m = util::metrics::find(run.metric); m != nullptr) {
        expected.metric_key = m->mlperf_key;
    }
    for (const db::EpochRow& e : rows) {
        expected.accuracies.emplace_back(e.epoch, e.test_accuracy);
    }
    return expected;
}

/// The global batch size: the recipe's, else the log's global_batch_size, else 0.
std::int64_t batch_size_of(const RunReport& r) {
    std::int64_t batch = r.recipe.batch_size;
    if (batch <= 0) {
        const auto it = r.log.values.find(std::string(util::mlperf::key::global_batch_size));
        batch = it != r.log.values.end() ? it->second.as_int() : 0;
    }
    return batch;
}

/// Sums over a run's epochs that the later parts of its report start from.
struct EpochTotals {
    double cumulative_s = 0; ///< the epochs' total_s, summed
    double visible_total = 0;
    double requested_sum = 0, realised_sum = 0;
    std::optional<double> checkpoint_sum; ///< once the store records checkpoint seconds
};

/// One epoch's derived numbers (all but wall_s): fractions, effective LR, SGD steps, checkpoint.
EpochPoint epoch_point(const db::EpochRow& row, std::int64_t n, std::int64_t batch,
                       std::int64_t full_steps) {
    EpochPoint p;
    p.row = row;
    p.realised_fraction = n > 0 ? static_cast<double>(row.hidden) / static_cast<double>(n) : 0;
    p.lr_effective = row.lr * row.lr_scale;
    p.sgd_steps = ceil_div(row.visible, batch);
    p.sgd_steps_saved = full_steps - p.sgd_steps;
    p.checkpoint_s = checkpoint_seconds(row);
    return p;
}

/// Adds one epoch's times and counts to the run's split, totals and work figures.
void add_epoch(RunReport& r, const EpochPoint& p, std::int64_t full_steps, EpochTotals& totals) {
    const db::EpochRow& row = p.row;
    if (p.checkpoint_s) {
        totals.checkpoint_sum = totals.checkpoint_sum.value_or(0.0) + *p.checkpoint_s;
    }
    r.split.train_s += row.train_s;
    r.split.hidden_pass_s += row.hidden_pass_s;
    r.split.eval_s += row.eval_s;
    if (row.bytes_read) {
        r.split.bytes_read = r.split.bytes_read.value_or(0) + *row.bytes_read;
    }
    if (row.comm_s && *row.comm_s > 0) {
        r.split.communication_s = r.split.communication_s.value_or(0.0) + *row.comm_s;
    }
    totals.visible_total += static_cast<double>(row.visible);
    totals.requested_sum += row.max_fraction;
    totals.realised_sum += p.realised_fraction;
    r.hidden_total += row.hidden;
    r.moved_back_total += row.moved_back;
    r.sgd_steps_run += p.sgd_steps;
    r.sgd_steps_full += full_steps;
    r.samples_trained += row.visible;
    r.samples_full += r.run.num_samples;
}

/// The run's epochs with their derived numbers and wall times, its best epoch, its work figures
/// and mean fractions; returns the sums the time split needs.
EpochTotals fill_epochs(RunReport& r, const std::vector<db::EpochRow>& rows) {
    const std::int64_t batch = batch_size_of(r);
    const std::int64_t n = r.run.num_samples;
    const std::int64_t full_steps = ceil_div(n, batch);
    const std::map<int, LogEpoch> log_epochs = r.log.epochs_by_number();
    EpochTotals totals;
    const bool lower_is_better = util::metrics::lower_is_better(r.run.metric);
    double best = lower_is_better ? std::numeric_limits<double>::infinity() : -1;
    for (const db::EpochRow& row : rows) {
        EpochPoint p = epoch_point(row, n, batch, full_steps);
        totals.cumulative_s += row.total_s;
        p.wall_s = totals.cumulative_s;
        if (const auto it = log_epochs.find(row.epoch);
            it != log_epochs.end() && it->second.eval_ms && r.log.run_start_ms) {
            p.wall_s = static_cast<double>(*it->second.eval_ms - *r.log.run_start_ms) / 1000.0;
        }
        add_epoch(r, p, full_steps, totals);
        if (better(lower_is_better, row.test_accuracy, best)) {
            best = row.test_accuracy;
            r.best_epoch = row.epoch;
        }
        r.epochs.push_back(std::move(p));
    }
    if (!r.epochs.empty()) {
        const auto count = static_cast<double>(r.epochs.size());
        r.mean_requested_fraction = totals.requested_sum / count;
        r.mean_realised_fraction = totals.realised_sum / count;
    }
    r.samples_per_s = r.split.train_s > 0 ? totals.visible_total / r.split.train_s : 0;
    return totals;
}

/// Time-to-train is MLPerf's run_start -> run_stop. Without a log (or with a log cut short) a
/// completed run falls back to the database's epoch times, which miss only the small gaps
/// between epochs.
void fill_time_to_train(RunReport& r, double cumulative_s) {
    r.time_to_train_s = r.log.time_to_train_s();
    if (!r.time_to_train_s) {
        r.elapsed_s = r.log.elapsed_s();
        if (!r.elapsed_s && !r.epochs.empty()) {
            r.elapsed_s = cumulative_s;
        }
        if (!r.log.found && r.outcome == "completed" && !r.epochs.empty()) {
            r.time_to_train_s = cumulative_s;
        }
    }
}

/// The first epoch reaching the target (--target, else the recipe's); nullopt without one.
std::optional<TargetResult> target_of(const RunReport& r, const std::optional<double>& target) {
    const std::optional<double> goal = target ? target : r.recipe.target_accuracy;
    if (!goal) {
        return std::nullopt;
    }
    const bool lower_is_better = util::metrics::lower_is_better(r.run.metric);
    TargetResult t;
    t.accuracy = *goal;
    t.source = target ? "--target" : "recipe";
    for (const EpochPoint& p : r.epochs) {
        if (p.row.test_accuracy == *goal || better(lower_is_better, p.row.test_accuracy, *goal)) {
            t.reached = true;
            t.epoch = p.row.epoch;
            t.time_s = p.wall_s;
            break;
        }
    }
    return t;
}

/// The log's staging, init and checkpoint parts, the total (log span, else the epochs) and the
/// unmeasured rest.
void fill_time_split(RunReport& r, const EpochTotals& totals) {
    r.split.staging_s = r.log.staging_s;
    if (r.log.has_init) {
        r.split.init_s = r.log.init_s;
    }
    r.split.checkpoint_s = totals.checkpoint_sum ? totals.checkpoint_sum : r.log.checkpoint_s;
    const double measured = r.split.staging_s.value_or(0) + r.split.init_s.value_or(0) +
                            r.split.train_s + r.split.hidden_pass_s + r.split.eval_s +
                            r.split.checkpoint_s.value_or(0);
    if (r.log.first_ms && (r.log.run_stop_ms || r.log.last_ms)) {
        const std::int64_t end = r.log.run_stop_ms ? *r.log.run_stop_ms : *r.log.last_ms;
        r.split.total_s = static_cast<double>(end - *r.log.first_ms) / 1000.0;
    } else {
        r.split.total_s = totals.cumulative_s + r.split.init_s.value_or(0);
    }
    r.split.total_s = std::max(r.split.total_s, measured);
    r.split.other_s = r.split.total_s - measured;
}

} // namespace

Spread spread(std::vector<double> values) {
    Spread s;
    s.n = static_cast<int>(values.size());
    if (values.empty()) {
        return s;
    }
    s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(s.n);
    if (s.n > 1) {
        double sq = 0;
        for (const double v : values) {
            sq += (v - s.mean) * (v - s.mean);
        }
        s.std = std::sqrt(sq / static_cast<double>(s.n - 1));
    }
    if (s.n >= 5) {
        std::sort(values.begin(), values.end());
        s.olympic = std::accumulate(values.begin() + 1, values.end() - 1, 0.0) /
                    static_cast<double>(s.n - 2);
    }
    return s;
}

const RunReport* Report::find(const std::string& id) const {
    for (const RunReport& r : runs) {
        if (r.run.id == id) {
            return &r;
        }
    }
    return nullptr;
}

RunReport build_run(const db::Store& store, const db::RunRow& run,
                    const std::optional<double>& target) {
    RunReport r;
    r.run = run;
    r.outcome = outcome_of(run.status);
    r.recipe = summarize_recipe(run.recipe_text, run.run_dir + "/recipe.toml");
    r.attempts = store.attempts(run.id);
    const std::vector<db::EpochRow> rows = store.epochs(run.id);

    const bool running = run.status == db::RunStatus::running;
    r.log = read_mllog(std::filesystem::path(run.run_dir) / "mllog.txt", running);
    cross_check(r.log, expectations_of(run, rows));
    if (const auto it = r.log.values.find(std::string(util::mlperf::key::number_of_ranks));
        it != r.log.values.end() && it->second.as_int() > 0) {
        r.ranks = static_cast<int>(it->second.as_int());
    }

    const EpochTotals totals = fill_epochs(r, rows);
    fill_time_to_train(r, totals.cumulative_s);
    r.target = target_of(r, target);
    fill_time_split(r, totals);
    return r;
}

Report build_report(const db::Store& store, const Request& request) {
    Report report;
    report.generated_at = util::iso8601_utc_now();
    report.workspace = request.workspace;
    report.target_override = request.target;

    const std::vector<db::RunRow> all = store.list_runs(); // newest first
    const std::vector<db::RunRow> selected = select_runs(store, request, all);

    std::map<std::string, RunReport> built;
    for (const db::RunRow& r : selected) {
        built.emplace(r.id, build_run(store, r, request.target));
    }

    const Baselines baselines = find_baselines(store, request, selected, built, all);
    report.notes = baselines.notes;
    const auto& pairs = baselines.pairs;
    const auto& automatic = baselines.automatic;
    for (const auto& [run_id, baseline_id] : pairs) {
        if (built.count(baseline_id) == 0) {
            const std::optional<db::RunRow> b = store.find_run(baseline_id);
            RunReport br = build_run(store, *b, request.target);
            br.role = "baseline";
            built.emplace(baseline_id, std::move(br));
        }
    }

    for (auto& [id, r] : built) {
        report.runs.push_back(std::move(r));
    }
    std::sort(report.runs.begin(), report.runs.end(), [](const RunReport& a, const RunReport& b) {
        return a.run.created_at != b.run.created_at ? a.run.created_at < b.run.created_at
                                                    : a.run.id < b.run.id;
    });

    for (const auto& [run_id, baseline_id] : pairs) {
        report.comparisons.push_back(
            compare(*report.find(run_id), *report.find(baseline_id), automatic.count(run_id) != 0));
    }
    report.groups = build_groups(report);

    if (request.samples) {
        for (const RunReport& r : report.runs) {
            if (r.role == "selected") {
                report.samples.push_back(build_samples(store, r, request.sample_epoch));
            }
        }
    }
    return report;
}

} // namespace kakuren::report

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

double quantile_sorted(const std::vector<float>& sorted, double q) {
    if (sorted.empty()) {
        return 0;
    }
    const double pos = q * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
    const double frac = pos - static_cast<double>(lo);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

LossStats loss_stats(std::vector<float> values) {
    LossStats s;
    s.count = static_cast<std::int64_t>(values.size());
    if (values.empty()) {
        return s;
    }
    std::sort(values.begin(), values.end());
    double sum = 0;
    for (const float v : values) {
        sum += v;
    }
    s.mean = sum / static_cast<double>(values.size());
    s.median = quantile_sorted(values, 0.5);
    s.p10 = quantile_sorted(values, 0.1);
    s.p90 = quantile_sorted(values, 0.9);
    s.min = values.front();
    s.max = values.back();
    return s;
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
    cross_check(r.log, expected);

    if (const auto it = r.log.values.find(std::string(util::mlperf::key::number_of_ranks));
        it != r.log.values.end() && it->second.as_int() > 0) {
        r.ranks = static_cast<int>(it->second.as_int());
    }
    std::int64_t batch = r.recipe.batch_size;
    if (batch <= 0) {
        const auto it = r.log.values.find(std::string(util::mlperf::key::global_batch_size));
        batch = it != r.log.values.end() ? it->second.as_int() : 0;
    }
    const std::int64_t n = run.num_samples;
    const std::int64_t full_steps = ceil_div(n, batch);
    const std::map<int, LogEpoch> log_epochs = r.log.epochs_by_number();

    double cumulative_s = 0;
    double visible_total = 0;
    double requested_sum = 0, realised_sum = 0;
    std::optional<double> checkpoint_sum;
    // The run's metric (db runs.metric): accuracy and IoU grow, MAE (regression) falls.
    const bool lower_is_better = util::metrics::lower_is_better(r.run.metric);
    const auto better = [lower_is_better](double value, double than) {
        return lower_is_better ? value < than : value > than;
    };
    double best = lower_is_better ? std::numeric_limits<double>::infinity() : -1;
    for (const db::EpochRow& row : rows) {
        EpochPoint p;
        p.row = row;
        p.realised_fraction = n > 0 ? static_cast<double>(row.hidden) / static_cast<double>(n) : 0;
        p.lr_effective = row.lr * row.lr_scale;
        p.sgd_steps = ceil_div(row.visible, batch);
        p.sgd_steps_saved = full_steps - p.sgd_steps;
        p.checkpoint_s = checkpoint_seconds(row);
        if (p.checkpoint_s) {
            checkpoint_sum = checkpoint_sum.value_or(0.0) + *p.checkpoint_s;
        }
        cumulative_s += row.total_s;
        p.wall_s = cumulative_s;
        if (const auto it = log_epochs.find(row.epoch);
            it != log_epochs.end() && it->second.eval_ms && r.log.run_start_ms) {
            p.wall_s = static_cast<double>(*it->second.eval_ms - *r.log.run_start_ms) / 1000.0;
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
        visible_total += static_cast<double>(row.visible);
        requested_sum += row.max_fraction;
        realised_sum += p.realised_fraction;
        r.hidden_total += row.hidden;
        r.moved_back_total += row.moved_back;
        r.sgd_steps_run += p.sgd_steps;
        r.sgd_steps_full += full_steps;
        r.samples_trained += row.visible;
        r.samples_full += n;
        if (better(row.test_accuracy, best)) {
            best = row.test_accuracy;
            r.best_epoch = row.epoch;
        }
        r.epochs.push_back(std::move(p));
    }
    if (!r.epochs.empty()) {
        const auto count = static_cast<double>(r.epochs.size());
        r.mean_requested_fraction = requested_sum / count;
        r.mean_realised_fraction = realised_sum / count;
    }
    r.samples_per_s = r.split.train_s > 0 ? visible_total / r.split.train_s : 0;

    // Time-to-train is MLPerf's run_start -> run_stop. Without a log (or with a log cut short)
    // a completed run falls back to the database's epoch times, which miss only the small gaps
    // between epochs.
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

    const std::optional<double> goal = target ? target : r.recipe.target_accuracy;
    if (goal) {
        TargetResult t;
        t.accuracy = *goal;
        t.source = target ? "--target" : "recipe";
        for (const EpochPoint& p : r.epochs) {
            if (p.row.test_accuracy == *goal || better(p.row.test_accuracy, *goal)) {
                t.reached = true;
                t.epoch = p.row.epoch;
                t.time_s = p.wall_s;
                break;
            }
        }
        r.target = t;
    }

    r.split.staging_s = r.log.staging_s;
    if (r.log.has_init) {
        r.split.init_s = r.log.init_s;
    }
    r.split.checkpoint_s = checkpoint_sum ? checkpoint_sum : r.log.checkpoint_s;
    const double measured = r.split.staging_s.value_or(0) + r.split.init_s.value_or(0) +
                            r.split.train_s + r.split.hidden_pass_s + r.split.eval_s +
                            r.split.checkpoint_s.value_or(0);
    if (r.log.first_ms && (r.log.run_stop_ms || r.log.last_ms)) {
        const std::int64_t end = r.log.run_stop_ms ? *r.log.run_stop_ms : *r.log.last_ms;
        r.split.total_s = static_cast<double>(end - *r.log.first_ms) / 1000.0;
    } else {
        r.split.total_s = cumulative_s + r.split.init_s.value_or(0);
    }
    r.split.total_s = std::max(r.split.total_s, measured);
    r.split.other_s = r.split.total_s - measured;
    return r;
}

SampleReport build_samples(const db::Store& store, const RunReport& run, int epoch) {
    SampleReport s;
    s.run_id = run.run.id;
    s.num_samples = run.run.num_samples;
    s.epochs_recorded = static_cast<int>(run.epochs.size());
    const auto n = static_cast<std::size_t>(std::max<std::int64_t>(s.num_samples, 0));
    s.times_hidden.assign(n, 0);
    if (epoch != 0 && std::none_of(run.epochs.begin(), run.epochs.end(),
                                   [&](const EpochPoint& p) { return p.row.epoch == epoch; })) {
        throw UsageError("run " + run.run.id + " has no epoch " + std::to_string(epoch) +
                         " recorded (epochs done: " + std::to_string(run.epochs.size()) + ")");
    }
    const int split_epoch =
        epoch != 0 ? epoch : (run.epochs.empty() ? 0 : run.epochs.back().row.epoch);
    std::vector<std::int64_t> split_ids;
    for (const EpochPoint& p : run.epochs) {
        const auto ids = store.hidden_set(run.run.id, p.row.epoch);
        if (!ids) {
            continue;
        }
        for (const std::int64_t id : *ids) {
            if (id >= 0 && static_cast<std::size_t>(id) < n) {
                ++s.times_hidden[static_cast<std::size_t>(id)];
            }
        }
        if (p.row.epoch == split_epoch) {
            split_ids = *ids;
        }
    }
    s.histogram.assign(static_cast<std::size_t>(s.epochs_recorded) + 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t k = std::min<std::size_t>(s.times_hidden[i], s.histogram.size() - 1);
        ++s.histogram[k];
        if (s.times_hidden[i] == 0) {
            ++s.never_hidden;
            if (s.never_hidden_first.size() < 10) {
                s.never_hidden_first.push_back(static_cast<std::int64_t>(i));
            }
        }
    }
    std::vector<std::int64_t> order;
    for (std::size_t i = 0; i < n; ++i) {
        if (s.times_hidden[i] > 0) {
            order.push_back(static_cast<std::int64_t>(i));
        }
    }
    const std::size_t top = std::min<std::size_t>(10, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                      [&](std::int64_t a, std::int64_t b) {
                          const auto ca = s.times_hidden[static_cast<std::size_t>(a)];
                          const auto cb = s.times_hidden[static_cast<std::size_t>(b)];
                          return ca != cb ? ca > cb : a < b;
                      });
    for (std::size_t i = 0; i < top; ++i) {
        s.most_hidden.emplace_back(order[i], s.times_hidden[static_cast<std::size_t>(order[i])]);
    }

    const std::optional<db::SampleState> state = store.sample_state(run.run.id);
    if (!state || state->loss.size() != n || split_epoch == 0) {
        s.note = "no per-sample losses are recorded for this run yet";
        return s;
    }
    s.have_losses = true;
    s.loss_epoch = split_epoch;
    s.state_epoch = state->epoch;
    s.note = "the database keeps only the latest per-sample losses (recorded after epoch " +
             std::to_string(state->epoch) + "); they are split by the hidden set of epoch " +
             std::to_string(split_epoch);
    std::vector<char> hidden(n, 0);
    for (const std::int64_t id : split_ids) {
        if (id >= 0 && static_cast<std::size_t>(id) < n) {
            hidden[static_cast<std::size_t>(id)] = 1;
        }
    }
    std::vector<float> hidden_losses, visible_losses;
    hidden_losses.reserve(split_ids.size());
    visible_losses.reserve(n - std::min(n, split_ids.size()));
    for (std::size_t i = 0; i < n; ++i) {
        (hidden[i] != 0 ? hidden_losses : visible_losses).push_back(state->loss[i]);
    }
    s.latest_loss = state->loss;
    s.hidden_in_loss_epoch.assign(hidden.begin(), hidden.end());
    s.hidden = loss_stats(hidden_losses);
    s.visible = loss_stats(visible_losses);
    // 20 bins from 0 to the 99th percentile of all losses; the last bin holds the tail above.
    std::vector<float> all(state->loss.begin(), state->loss.end());
    const std::size_t p99 = all.empty() ? 0 : (all.size() - 1) * 99 / 100;
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(p99), all.end());
    double hi = all.empty() ? 1.0 : static_cast<double>(all[p99]);
    if (!std::isfinite(hi) || hi <= 0) {
        hi = 1.0;
    }
    constexpr int k_bins = 20;
    for (int b = 0; b <= k_bins; ++b) {
        s.loss_bin_edges.push_back(hi * b / k_bins);
    }
    s.loss_hist_hidden.assign(k_bins, 0);
    s.loss_hist_visible.assign(k_bins, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const double v = state->loss[i];
        int b = std::isfinite(v) ? static_cast<int>(v / hi * k_bins) : k_bins - 1;
        b = std::clamp(b, 0, k_bins - 1);
        ++(hidden[i] != 0 ? s.loss_hist_hidden : s.loss_hist_visible)[static_cast<std::size_t>(b)];
    }
    return s;
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

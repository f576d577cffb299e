#pragma once
// `kakuren report`: reads runs back from the store and their MLPerf logs, and derives what a
// researcher asks of them — what a run cost, where its time went, what hiding saved against a
// baseline, over seeds. Pure reading: it never writes the store.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/store.hpp"
#include "report/mllog_check.hpp"
#include "report/recipe_summary.hpp"
#include "report/stats.hpp"
#include "report/tune_section.hpp"

namespace kakuren::report {

/// Which runs to report on and how.
struct Request {
    std::vector<std::string> runs; ///< ids or unique prefixes
    bool all = false;              ///< every run of the workspace
    std::string name_pattern; ///< glob (fnmatch) over run names, ids and sweep ids; empty = none
    std::string baseline;     ///< id or prefix of the baseline for every hiding run
    bool samples = false;     ///< add the per-sample view
    int sample_epoch = 0;     ///< epoch whose hidden set splits the losses; 0 = the latest
    std::optional<double> target; ///< accuracy target for time-to-target (else the recipe's)
    std::string workspace;        ///< shown in the report
};

/// One epoch as the report shows it (database row plus derived numbers).
struct EpochPoint {
    db::EpochRow row;
    double realised_fraction = 0;       ///< hidden / N
    double lr_effective = 0;            ///< lr * lr_scale: what the optimizer used
    std::int64_t sgd_steps = 0;         ///< ceil(visible / batch)
    std::int64_t sgd_steps_saved = 0;   ///< ceil(N / batch) - sgd_steps
    std::optional<double> checkpoint_s; ///< when the store records it
    /// Seconds from run_start to this epoch's evaluation: from the log (eval_accuracy's time),
    /// else the sum of the epochs' total_s so far.
    double wall_s = 0;
};

/// Where the time went (seconds). Absent parts were not measured for this run.
struct TimeSplit {
    std::optional<double> staging_s;    ///< data staging (MLPerf staging_start -> staging_stop)
    std::optional<double> init_s;       ///< init_start -> init_stop (data loading, model set-up)
    double train_s = 0;                 ///< training passes (forward + backward + step)
    double hidden_pass_s = 0;           ///< forward-only refresh of hidden samples
    double eval_s = 0;                  ///< test-set evaluation
    std::optional<double> checkpoint_s; ///< checkpoint writing, once recorded
    double other_s = 0; ///< the rest: hidden-set selection, recording, gaps between attempts
    /// Ranks waiting on collectives, not hidden behind computation (schema v5's epochs.comm_s):
    /// a part of train, hidden pass and eval, not added to total; nullopt unless multi-rank.
    std::optional<double> communication_s;
    double total_s = 0; ///< init_start -> run_stop (or the last record); else sum of epochs
    /// Bytes read from the training split's files over the epochs (epochs.bytes_read, streaming
    /// sources); nullopt for data held in memory. Their reading time is inside train (overlapped
    /// by the prefetcher), not measured apart.
    std::optional<std::int64_t> bytes_read;
};

struct TargetResult {
    double accuracy = 0; ///< the target
    std::string source;  ///< "recipe" or "--target"
    bool reached = false;
    int epoch = 0;                ///< first epoch reaching it
    std::optional<double> time_s; ///< run_start -> that epoch's evaluation
};

struct RunReport {
    db::RunRow run;
    std::string role = "selected"; ///< "selected", or "baseline" (added to compare against)
    /// created | running | completed (succeeded/finished) | interrupted | failed (failed/crashed)
    std::string outcome;
    RecipeSummary recipe;
    std::vector<db::AttemptRow> attempts;
    std::vector<EpochPoint> epochs;
    LogAnalysis log;
    int ranks = 1;                         ///< number_of_ranks from the log, else 1
    std::optional<double> time_to_train_s; ///< MLPerf: run_start -> run_stop
    std::optional<double> elapsed_s;       ///< run_start -> last record (runs without run_stop)
    std::optional<TargetResult> target;
    int best_epoch = 0;
    TimeSplit split;
    double samples_per_s = 0; ///< trained samples / training seconds, over all epochs
    double mean_requested_fraction = 0, mean_realised_fraction = 0;
    std::int64_t hidden_total = 0, moved_back_total = 0;
    std::int64_t sgd_steps_run = 0, sgd_steps_full = 0; ///< run vs without hiding
    /// Per-sample backward passes: samples trained (visible, summed over epochs) vs N x epochs.
    std::int64_t samples_trained = 0, samples_full = 0;

    std::int64_t sgd_steps_saved() const { return sgd_steps_full - sgd_steps_run; }
};

/// The same work took measurably different time (k_noise_ratio or more apart): a time ratio
/// beside it is not to be trusted.
struct TimingNoise {
    double ratio = 0; ///< slower / faster seconds of the same work
    std::string what; ///< the sentence the outputs show
};

struct Comparison {
    std::string run_id, baseline_id;
    bool automatic = false; ///< found by recipe, not given by --baseline
    bool same_seed = false;
    std::optional<double> speedup_total;     ///< baseline time-to-train / run's
    std::optional<double> time_saved_s;      ///< baseline time-to-train - run's
    std::optional<double> speedup_to_target; ///< baseline time-to-target / run's
    std::optional<double> accuracy_diff_final, accuracy_diff_best; ///< run - baseline
    /// An epoch that did identical work in both runs (epoch 1 of a hiding run hides nothing)
    /// but took k_noise_ratio or more as long in one of them.
    std::optional<TimingNoise> noise;
};

/// Mean, sample standard deviation, and MLPerf's olympic mean (drop the lowest and highest;
/// only with >= 5 values).
struct Spread {
    int n = 0;
    double mean = 0, std = 0;
    std::optional<double> olympic;
    /// The figure to compare: the olympic mean when there is one, else the mean.
    double central() const { return olympic.value_or(mean); }
};
Spread spread(std::vector<double> values);

/// Runs of one configuration (strategy and its settings) that differ only in seed; the figures
/// are over its completed runs. The report's headline is one card per group.
struct SeedGroup {
    std::string label; ///< RecipeSummary::hiding_label, e.g. "kakurenbo F=0.30 tau=0.70"
    /// The legend's name: the strategy label plus the settings that tell this configuration
    /// apart from the report's others, e.g. "none, optimizer.lr=0.1".
    std::string short_label;
    std::string strategy;
    double fraction = 0;
    std::vector<std::string> run_ids;
    std::vector<std::int64_t> seeds;
    Spread time_to_train_s, final_accuracy, best_accuracy;
    std::optional<Spread> time_to_target_s;    ///< over the runs that reached the target
    std::optional<std::size_t> baseline_group; ///< index of the strategy=none group it compares to
    std::optional<double> speedup_total;       ///< baseline central time / this central time
    std::optional<double> accuracy_diff_final; ///< this central - baseline central
    /// k_interval_method intervals of the same figures (no half width with one seed).
    Interval time_to_train_ci, final_accuracy_ci;
    std::optional<Interval> time_to_target_ci;
    int target_runs = 0, target_reached = 0; ///< runs with a target, and how many reached it
    /// Work saved, summed over the completed runs: SGD steps and per-sample backward passes.
    std::int64_t sgd_steps_saved = 0, sgd_steps_full = 0, samples_saved = 0, samples_full = 0;
    std::vector<std::string> incomplete_run_ids; ///< runs of this configuration left out
    /// Timing noise behind this group's time ratio: its own seeds of strategy none disagreeing,
    /// its baseline group's, and its runs' pairs'. Non-empty: the ratio is unreliable.
    std::vector<TimingNoise> noise;
    bool time_ratio_reliable() const { return noise.empty(); }
};

struct LossStats {
    std::int64_t count = 0;
    double mean = 0, median = 0, p10 = 0, p90 = 0, min = 0, max = 0;
};

/// How often each sample was hidden, and the losses of hidden vs visible samples.
struct SampleReport {
    std::string run_id;
    std::int64_t num_samples = 0;
    int epochs_recorded = 0;
    std::vector<std::uint16_t> times_hidden; ///< per sample
    std::vector<std::int64_t> histogram;     ///< [k] = samples hidden in exactly k epochs
    std::vector<std::pair<std::int64_t, int>> most_hidden; ///< (sample, times), top 10
    std::int64_t never_hidden = 0;
    std::vector<std::int64_t> never_hidden_first; ///< first 10 never-hidden ids
    bool have_losses = false;
    int loss_epoch = 0;  ///< epoch whose hidden set splits the samples
    int state_epoch = 0; ///< epoch after which the stored losses were recorded
    std::string note;    ///< which losses these are
    LossStats hidden, visible;
    std::vector<double> loss_bin_edges; ///< bins + 1 edges
    std::vector<std::int64_t> loss_hist_hidden, loss_hist_visible;
    std::vector<float> latest_loss;                 ///< per sample, when have_losses
    std::vector<std::uint8_t> hidden_in_loss_epoch; ///< per sample: in loss_epoch's hidden set
};

struct Report {
    std::string generated_at; ///< ISO 8601 UTC
    std::string workspace;
    std::optional<double> target_override;
    std::vector<RunReport> runs; ///< selected runs and the baselines they need, oldest first
    std::vector<Comparison> comparisons;
    std::vector<SeedGroup> groups; ///< configurations with >= 1 completed run, by first run
    std::vector<SampleReport> samples;
    std::vector<std::string> notes; ///< e.g. a hiding run without baseline
    /// The tunes of the workspace or of the selected runs; build_report leaves it empty (the
    /// command layer fills it: tune/report_section.hpp).
    std::vector<TuneSection> tunes;
    const RunReport* find(const std::string& id) const;
};

/// Builds the report. Throws UsageError for a run reference that matches nothing, and DbError
/// (through the store) when the database cannot be read.
Report build_report(const db::Store& store, const Request& request);

/// Builds one run's part alone (exposed for tests). target: override of the recipe's target.
RunReport build_run(const db::Store& store, const db::RunRow& run,
                    const std::optional<double>& target);

/// The per-sample view of one run; epoch 0 = the latest recorded. Throws UsageError for an
/// epoch that is not recorded.
SampleReport build_samples(const db::Store& store, const RunReport& run, int epoch);

} // namespace kakuren::report

#pragma once
// Every key kakuren writes to its MLPerf-style log (runs/<id>/mllog.txt), declared once: the
// writer (trainer/run.cpp, trainer/mlperf_records.cpp through util::MlLog) names its keys from
// `key::`, and the checker (report/mllog_check) reads `k_keys` for what each record must be.
// docs/reports.md "MLPerf log" lists them for users; tests/trainer/mlperf_keys_test.cpp checks
// that a real run writes only keys of this table and that the checker enforces its rows.
#include <span>
#include <string_view>

namespace kakuren::util::mlperf {

/// The keys, each spelled once.
namespace key {
// Phase markers.
inline constexpr std::string_view cache_clear = "cache_clear";
inline constexpr std::string_view init_start = "init_start";
inline constexpr std::string_view init_stop = "init_stop";
inline constexpr std::string_view run_start = "run_start";
inline constexpr std::string_view run_stop = "run_stop";
inline constexpr std::string_view resume = "resume";
inline constexpr std::string_view epoch_start = "epoch_start";
inline constexpr std::string_view epoch_stop = "epoch_stop";
// Intervals that may wrap any phase.
inline constexpr std::string_view staging_start = "staging_start";
inline constexpr std::string_view staging_stop = "staging_stop";
inline constexpr std::string_view checkpoint_start = "checkpoint_start";
inline constexpr std::string_view checkpoint_stop = "checkpoint_stop";
// Init: what MLPerf tooling requires.
inline constexpr std::string_view submission_benchmark = "submission_benchmark";
inline constexpr std::string_view submission_org = "submission_org";
inline constexpr std::string_view submission_division = "submission_division";
inline constexpr std::string_view submission_status = "submission_status";
inline constexpr std::string_view submission_platform = "submission_platform";
inline constexpr std::string_view seed = "seed";
inline constexpr std::string_view number_of_ranks = "number_of_ranks";
inline constexpr std::string_view number_of_nodes = "number_of_nodes";
inline constexpr std::string_view accelerators_per_node = "accelerators_per_node";
inline constexpr std::string_view global_batch_size = "global_batch_size";
inline constexpr std::string_view gradient_accumulation_steps = "gradient_accumulation_steps";
inline constexpr std::string_view opt_name = "opt_name";
inline constexpr std::string_view opt_base_learning_rate = "opt_base_learning_rate";
inline constexpr std::string_view opt_learning_rate_warmup_epochs =
    "opt_learning_rate_warmup_epochs";
inline constexpr std::string_view opt_learning_rate_warmup_factor =
    "opt_learning_rate_warmup_factor";
inline constexpr std::string_view opt_learning_rate_decay_boundary_epochs =
    "opt_learning_rate_decay_boundary_epochs";
inline constexpr std::string_view opt_learning_rate_decay_factor = "opt_learning_rate_decay_factor";
inline constexpr std::string_view opt_weight_decay = "opt_weight_decay";
inline constexpr std::string_view opt_momentum = "opt_momentum";
inline constexpr std::string_view train_samples = "train_samples";
inline constexpr std::string_view eval_samples = "eval_samples";
// Init: kakuren's own facts (what bit-exactness depends on) and the hiding knobs.
inline constexpr std::string_view kakuren_torch_version = "kakuren_torch_version";
inline constexpr std::string_view kakuren_device = "kakuren_device";
inline constexpr std::string_view kakuren_cpu_capability = "kakuren_cpu_capability";
inline constexpr std::string_view kakuren_precision = "kakuren_precision";
inline constexpr std::string_view kakuren_memory_format = "kakuren_memory_format";
inline constexpr std::string_view kakuren_deterministic = "kakuren_deterministic";
inline constexpr std::string_view hiding_strategy = "hiding_strategy";
inline constexpr std::string_view hiding_fraction = "hiding_fraction";
inline constexpr std::string_view hiding_tau = "hiding_tau";
inline constexpr std::string_view hiding_lr_compensation = "hiding_lr_compensation";
inline constexpr std::string_view hiding_refresh_every = "hiding_refresh_every";
/// Prefix of a strategy's own knobs: hiding_<param key of hiding/registry>.
inline constexpr std::string_view hiding_param_prefix = "hiding_";
// Init: what the science benchmarks' rules ask for (CosmoFlow, DeepCAM).
inline constexpr std::string_view gradient_accumulation_frequency =
    "gradient_accumulation_frequency";
inline constexpr std::string_view dropout = "dropout";
inline constexpr std::string_view batchnorm_group_size = "batchnorm_group_size";
inline constexpr std::string_view opt_lr = "opt_lr";
inline constexpr std::string_view opt_betas = "opt_betas";
inline constexpr std::string_view opt_eps = "opt_eps";
inline constexpr std::string_view scheduler_type = "scheduler_type";
inline constexpr std::string_view scheduler_t_max = "scheduler_t_max";
inline constexpr std::string_view scheduler_eta_min = "scheduler_eta_min";
inline constexpr std::string_view scheduler_milestones = "scheduler_milestones";
inline constexpr std::string_view scheduler_decay_rate = "scheduler_decay_rate";
inline constexpr std::string_view scheduler_lr_warmup_steps = "scheduler_lr_warmup_steps";
inline constexpr std::string_view scheduler_lr_warmup_factor = "scheduler_lr_warmup_factor";
// Each epoch (metadata.epoch_num).
inline constexpr std::string_view hidden_samples = "hidden_samples";
inline constexpr std::string_view moved_back_samples = "moved_back_samples";
inline constexpr std::string_view realised_hidden_fraction = "realised_hidden_fraction";
inline constexpr std::string_view drawn_samples = "drawn_samples";
inline constexpr std::string_view distinct_trained_samples = "distinct_trained_samples";
inline constexpr std::string_view learning_rate = "learning_rate";
inline constexpr std::string_view lr_scale = "lr_scale";
inline constexpr std::string_view train_loss = "train_loss";
inline constexpr std::string_view eval_start = "eval_start";
inline constexpr std::string_view eval_accuracy = "eval_accuracy";
inline constexpr std::string_view eval_error = "eval_error";
inline constexpr std::string_view eval_stop = "eval_stop";
inline constexpr std::string_view communication_time_s = "communication_time_s";
inline constexpr std::string_view bytes_read = "bytes_read";
} // namespace key

/// Where a record belongs.
enum class Phase {
    marker,   ///< moves the log from one phase to the next (init_start, run_stop, epoch_start, ...)
    interval, ///< may wrap any phase (staging_*, checkpoint_*)
    init,     ///< between init_start and init_stop
    epoch,    ///< between epoch_start and epoch_stop, with metadata.epoch_num
};

/// What the checker requires of a record's value (any: it does not look).
enum class Want { any, string, positive_int, non_negative_int, number, list, true_value, fraction };

/// Whether the checker requires the record: in every init phase (init keys) or in every epoch
/// (epoch keys); required_once: in every init phase, and only once there.
enum class Need { optional, required, required_once };

/// When the writer writes it. always: every fresh run of a classification task.
enum class When { always, sometimes, never };

struct Key {
    std::string_view name;
    Phase phase;
    Want want;
    Need need;
    When when;
    bool prefix = false; ///< name is a prefix (hiding_<param>), matched after the exact keys
};

// clang-format off
inline constexpr Key k_keys[] = {
    {key::cache_clear, Phase::marker, Want::true_value, Need::optional, When::always},
    {key::init_start, Phase::marker, Want::any, Need::optional, When::always},
    {key::init_stop, Phase::marker, Want::any, Need::optional, When::always},
    {key::run_start, Phase::marker, Want::any, Need::optional, When::always},
    {key::run_stop, Phase::marker, Want::any, Need::optional, When::always},
    {key::resume, Phase::marker, Want::any, Need::optional, When::sometimes},
    {key::epoch_start, Phase::marker, Want::any, Need::optional, When::always},
    {key::epoch_stop, Phase::marker, Want::any, Need::optional, When::always},
    {key::staging_start, Phase::interval, Want::any, Need::optional, When::sometimes},
    {key::staging_stop, Phase::interval, Want::any, Need::optional, When::sometimes},
    // Read back from older logs; kakuren writes no checkpoint records today.
    {key::checkpoint_start, Phase::interval, Want::any, Need::optional, When::never},
    {key::checkpoint_stop, Phase::interval, Want::any, Need::optional, When::never},
    {key::submission_benchmark, Phase::init, Want::string, Need::required, When::always},
    {key::submission_org, Phase::init, Want::string, Need::required, When::always},
    {key::submission_division, Phase::init, Want::string, Need::required, When::always},
    {key::submission_status, Phase::init, Want::string, Need::required, When::always},
    {key::submission_platform, Phase::init, Want::string, Need::required, When::always},
    {key::seed, Phase::init, Want::positive_int, Need::required, When::always},
    {key::kakuren_torch_version, Phase::init, Want::any, Need::optional, When::always},
    {key::kakuren_device, Phase::init, Want::any, Need::optional, When::always},
    {key::kakuren_cpu_capability, Phase::init, Want::any, Need::optional, When::always},
    {key::kakuren_precision, Phase::init, Want::any, Need::optional, When::always},
    {key::kakuren_memory_format, Phase::init, Want::any, Need::optional, When::always},
    {key::kakuren_deterministic, Phase::init, Want::any, Need::optional, When::always},
    {key::number_of_ranks, Phase::init, Want::positive_int, Need::required, When::always},
    {key::number_of_nodes, Phase::init, Want::positive_int, Need::required, When::always},
    {key::accelerators_per_node, Phase::init, Want::non_negative_int, Need::required, When::always},
    {key::global_batch_size, Phase::init, Want::positive_int, Need::required, When::always},
    {key::gradient_accumulation_steps, Phase::init, Want::positive_int, Need::required, When::always},
    {key::gradient_accumulation_frequency, Phase::init, Want::any, Need::optional, When::sometimes},
    {key::opt_name, Phase::init, Want::string, Need::required, When::always},
    {key::opt_base_learning_rate, Phase::init, Want::number, Need::required, When::always},
    {key::opt_learning_rate_warmup_epochs, Phase::init, Want::number, Need::required, When::always},
    {key::opt_learning_rate_warmup_factor, Phase::init, Want::number, Need::required, When::always},
    {key::opt_learning_rate_decay_boundary_epochs, Phase::init, Want::list, Need::required_once, When::always},
    {key::opt_learning_rate_decay_factor, Phase::init, Want::number, Need::required_once, When::always},
    {key::opt_weight_decay, Phase::init, Want::number, Need::required, When::always},
    {key::opt_momentum, Phase::init, Want::number, Need::required, When::always},
    {key::dropout, Phase::init, Want::any, Need::optional, When::sometimes},
    {key::batchnorm_group_size, Phase::init, Want::any, Need::optional, When::sometimes},
    {key::opt_lr, Phase::init, Want::any, Need::optional, When::sometimes},
    {key::opt_betas, Phase::init, Want::any, Need::optional, When::sometimes},
    {key::opt_eps, Phase::init, Want::any, Need::optional, When::sometimes},
    {key::scheduler_type, Phase::init, Want::any, Need::optional, When::sometimes},
    {key::scheduler_t_max, Phase::init, Want::any, Need::optional, When::sometimes},
    {key::scheduler_eta_min, Phase::init, Want::any, Need::optional, When::sometimes},
    {key::scheduler_milestones, Phase::init, Want::any, Need::optional, When::sometimes},
    {key::scheduler_decay_rate, Phase::init, Want::any, Need::optional, When::sometimes},
    {key::scheduler_lr_warmup_steps, Phase::init, Want::any, Need::optional, When::sometimes},
    {key::scheduler_lr_warmup_factor, Phase::init, Want::any, Need::optional, When::sometimes},
    {key::hiding_strategy, Phase::init, Want::any, Need::optional, When::always},
    {key::hiding_fraction, Phase::init, Want::any, Need::optional, When::always},
    {key::hiding_tau, Phase::init, Want::any, Need::optional, When::always},
    {key::hiding_lr_compensation, Phase::init, Want::any, Need::optional, When::always},
    {key::hiding_refresh_every, Phase::init, Want::any, Need::optional, When::always},
    {key::hiding_param_prefix, Phase::init, Want::any, Need::optional, When::sometimes, true},
    {key::train_samples, Phase::init, Want::positive_int, Need::required_once, When::always},
    {key::eval_samples, Phase::init, Want::positive_int, Need::required_once, When::always},
    {key::hidden_samples, Phase::epoch, Want::any, Need::optional, When::always},
    {key::moved_back_samples, Phase::epoch, Want::any, Need::optional, When::always},
    {key::realised_hidden_fraction, Phase::epoch, Want::any, Need::optional, When::always},
    {key::drawn_samples, Phase::epoch, Want::any, Need::optional, When::sometimes},
    {key::distinct_trained_samples, Phase::epoch, Want::any, Need::optional, When::sometimes},
    {key::learning_rate, Phase::epoch, Want::any, Need::optional, When::always},
    {key::lr_scale, Phase::epoch, Want::any, Need::optional, When::always},
    {key::train_loss, Phase::epoch, Want::any, Need::optional, When::always},
    {key::eval_start, Phase::epoch, Want::any, Need::required, When::always},
    // eval_accuracy: an accuracy-like metric's record (then eval_error must be 1 - it); an error
    // metric (MAE) writes eval_error alone. The run's metric says which: cross_check.
    {key::eval_accuracy, Phase::epoch, Want::fraction, Need::optional, When::always},
    {key::eval_error, Phase::epoch, Want::any, Need::required, When::always},
    {key::eval_stop, Phase::epoch, Want::any, Need::required, When::always},
    {key::communication_time_s, Phase::epoch, Want::any, Need::optional, When::sometimes},
    {key::bytes_read, Phase::epoch, Want::any, Need::optional, When::sometimes},
};
// clang-format on

/// The row of key: an exact name first, else a prefix row; nullptr for a key kakuren never wrote.
constexpr const Key* find_key(std::string_view name) {
    for (const Key& k : k_keys) {
        if (!k.prefix && k.name == name) {
            return &k;
        }
    }
    for (const Key& k : k_keys) {
        if (k.prefix && name.size() > k.name.size() && name.starts_with(k.name)) {
            return &k;
        }
    }
    return nullptr;
}

/// MLPerf's event_type of a key: *_start -> INTERVAL_START, *_stop -> INTERVAL_END, else
/// POINT_IN_TIME (what the writer writes and the checker expects).
constexpr std::string_view event_type(std::string_view name) {
    if (name.ends_with("_start")) {
        return "INTERVAL_START";
    }
    if (name.ends_with("_stop")) {
        return "INTERVAL_END";
    }
    return "POINT_IN_TIME";
}

} // namespace kakuren::util::mlperf

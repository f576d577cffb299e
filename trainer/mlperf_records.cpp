#include "trainer/mlperf_records.hpp"

#include <algorithm>
#include <source_location>
#include <string>

#include "hiding/registry.hpp"
#include "trainer/device.hpp"
#include "util/json.hpp"
#include "util/mlperf_keys.hpp"

namespace kakuren::trainer {

namespace key = util::mlperf::key;

namespace {

/// Writes one record with its call site's file and line.
struct Records {
    util::MlLog& mllog;
    void operator()(std::string_view name, const util::Json& value,
                    std::source_location where = std::source_location::current()) const {
        mllog.event(name, value, {}, where);
    }
};

/// submission_*, seed, what exactness depends on, ranks and batch.
void log_submission(const Config& config, const RunFacts& facts, const Records& log) {
    // An in-memory stand-in never passes for the real benchmark (file stand-ins are named by
    // their recipes: cosmoflow-standin-mini).
    const bool standin =
        config.data.dataset == "synthetic" && config.data.synthetic_kind != "blobs";
    log(key::submission_benchmark,
        standin ? config.benchmark_name + " (kakuren stand-in)" : config.benchmark_name);
    log(key::submission_org, "kakuren");
    log(key::submission_division, "open");
    log(key::submission_status, "research");
    log(key::submission_platform, facts.platform);
    log(key::seed, static_cast<long long>(config.seed));
    // Bit-exactness holds per LibTorch version, device and CPU kernel level (docs/devices.md
    // "Exactness").
    const BuildInfo build = build_info();
    log(key::kakuren_torch_version, build.torch_version);
    log(key::kakuren_device, facts.device);
    log(key::kakuren_cpu_capability, build.cpu_capability);
    log(key::kakuren_precision, config.device.precision);
    log(key::kakuren_memory_format, config.device.memory_format);
    log(key::kakuren_deterministic, config.device.deterministic);
    log(key::number_of_ranks, facts.world);
    log(key::number_of_nodes, config.dist.num_nodes);
    log(key::accelerators_per_node, config.dist.accelerators_per_node);
    log(key::global_batch_size, config.data.batch_size);
    log(key::gradient_accumulation_steps, config.data.accumulation_steps);
    if (config.data.accumulation_steps > 1) {
        // DeepCAM's reference logs the same number under this name (older logs stay as they were).
        log(key::gradient_accumulation_frequency, config.data.accumulation_steps);
    }
}

/// The optimizer and its schedule, as MLPerf names them.
void log_optimizer(const Config& config, const RunFacts& facts, const Records& log) {
    const auto& s = config.schedule;
    const auto& o = config.optim;
    log(key::opt_name, o.kind == "adam" ? "Adam" : o.kind == "adamw" ? "AdamW" : o.kind);
    log(key::opt_base_learning_rate, o.lr);
    if (s.warmup_steps > 0) {
        log(key::opt_learning_rate_warmup_epochs,
            static_cast<double>(s.warmup_steps) /
                static_cast<double>(std::max<std::int64_t>(1, facts.steps_full_epoch)));
    } else {
        log(key::opt_learning_rate_warmup_epochs, s.warmup_epochs);
    }
    // The warm-up starts at lr / (warm-up steps) of a full epoch 0 (which hides nothing), or
    // with schedule.warmup_factor > 1 rises from lr to factor x lr.
    const double warmup_factor = s.warmup_factor > 1.0 ? s.warmup_factor
                                 : s.warmup_epochs > 0 && facts.steps_full_epoch > 0
                                     ? 1.0 / (static_cast<double>(s.warmup_epochs) *
                                              static_cast<double>(facts.steps_full_epoch))
                                     : 1.0;
    log(key::opt_learning_rate_warmup_factor, warmup_factor);
    util::JsonArray boundaries;
    for (int m : facts.lr_milestones) {
        boundaries.emplace_back(m);
    }
    log(key::opt_learning_rate_decay_boundary_epochs, util::Json(std::move(boundaries)));
    // One number, as CosmoFlow's reference logs it: the largest factor relative to the base LR
    // (its max(decay_schedule.values()): 0.25 for 0.25 at 32 and 0.125 at 64); gamma otherwise.
    const double decay_factor =
        facts.lr_milestones.empty() ? 1.0
        : s.decay_factors.empty()
            ? s.gamma
            : *std::max_element(s.decay_factors.begin(), s.decay_factors.end());
    log(key::opt_learning_rate_decay_factor, decay_factor);
    log(key::opt_weight_decay, config.optim.weight_decay);
    log(key::opt_momentum, config.optim.momentum);
    if (config.model.kind == "cosmoflow") {
        log(key::dropout, config.model.dropout); // CosmoFlow's rules ask for it
    }
}

/// What MLPerf HPC's DeepCAM rules ask for (hpc 3.0.0 compliance checker).
void log_segmentation(const Config& config, const RunFacts& facts, const Records& log) {
    const auto& s = config.schedule;
    const auto& o = config.optim;
    log(key::gradient_accumulation_frequency, 1);
    log(key::batchnorm_group_size, 1);
    log(key::opt_lr, o.lr);
    log(key::opt_betas, util::Json(util::JsonArray{o.beta1, o.beta2}));
    log(key::opt_eps, o.eps);
    const bool cosine = s.kind == "cosine";
    log(key::scheduler_type, cosine ? "cosine_annealing" : "multistep");
    if (cosine) {
        log(key::scheduler_t_max, s.epochs);
        log(key::scheduler_eta_min, 0.0);
    } else {
        util::JsonArray milestones;
        for (int m : facts.lr_milestones) {
            milestones.emplace_back(m);
        }
        log(key::scheduler_milestones, util::Json(std::move(milestones)));
        log(key::scheduler_decay_rate, s.gamma);
    }
    log(key::scheduler_lr_warmup_steps,
        static_cast<long long>(s.warmup_steps > 0 ? s.warmup_steps
                                                  : s.warmup_epochs * facts.steps_full_epoch));
    log(key::scheduler_lr_warmup_factor, s.warmup_factor);
}

/// The hiding strategy and its knobs, then the sample counts.
void log_hiding(const Config& config, const RunFacts& facts, const Records& log) {
    const auto& h = config.hiding;
    log(key::hiding_strategy, h.strategy);
    log(key::hiding_fraction, h.fraction);
    log(key::hiding_tau, h.tau);
    log(key::hiding_lr_compensation, hiding::to_string(h.lr_compensation));
    log(key::hiding_refresh_every, h.refresh_every);
    // The strategy's own knobs from its registry entry, only where they apply (older logs stay
    // as they were): hiding_<key>, integers as integers.
    for (const hiding::ParamInfo& p : hiding::strategy_info(h.strategy).params) {
        const std::string name = std::string(key::hiding_param_prefix) + std::string(p.key);
        const double value = hiding::param(h, p.key);
        if (p.kind == hiding::ParamKind::integer) {
            log(name, static_cast<int>(value));
        } else {
            log(name, value);
        }
    }
    log(key::train_samples, static_cast<long long>(facts.train_samples));
    log(key::eval_samples, static_cast<long long>(facts.eval_samples));
}

} // namespace

void log_hyperparameters(const Config& config, const RunFacts& facts, util::MlLog& mllog) {
    const Records log{mllog};
    log_submission(config, facts, log);
    log_optimizer(config, facts, log);
    if (config.task.kind == "segmentation") {
        log_segmentation(config, facts, log);
    }
    log_hiding(config, facts, log);
}

} // namespace kakuren::trainer

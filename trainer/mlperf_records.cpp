#include "trainer/mlperf_records.hpp"

#include <source_location>
#include <string>

#include "util/json.hpp"

namespace kakuren::trainer {

void log_hyperparameters(const Config& config, const RunFacts& facts, util::MlLog& mllog) {
    const auto log = [&mllog](std::string_view key, const util::Json& value,
                              std::source_location where = std::source_location::current()) {
        mllog.event(key, value, {}, where);
    };
    const auto& s = config.schedule;
    const auto& h = config.hiding;
    log("submission_benchmark", config.benchmark_name);
    log("submission_org", "kakuren");
    log("submission_division", "open");
    log("submission_status", "research");
    log("submission_platform", facts.platform);
    log("seed", static_cast<long long>(config.seed));
    log("number_of_ranks", facts.world);
    log("number_of_nodes", config.dist.num_nodes);
    log("accelerators_per_node", config.dist.accelerators_per_node);
    log("global_batch_size", config.data.batch_size);
    log("gradient_accumulation_steps", 1);
    log("opt_name", "sgd");
    log("opt_base_learning_rate", config.optim.lr);
    log("opt_learning_rate_warmup_epochs", s.warmup_epochs);
    // The warm-up starts at lr / (warm-up steps) of a full epoch 0 (which hides nothing).
    const double warmup_factor = s.warmup_epochs > 0 && facts.steps_full_epoch > 0
                                     ? 1.0 / (static_cast<double>(s.warmup_epochs) *
                                              static_cast<double>(facts.steps_full_epoch))
                                     : 1.0;
    log("opt_learning_rate_warmup_factor", warmup_factor);
    util::JsonArray boundaries;
    for (int m : facts.lr_milestones) {
        boundaries.emplace_back(m);
    }
    log("opt_learning_rate_decay_boundary_epochs", util::Json(std::move(boundaries)));
    log("opt_learning_rate_decay_factor", facts.lr_milestones.empty() ? 1.0 : s.gamma);
    log("opt_weight_decay", config.optim.weight_decay);
    log("opt_momentum", config.optim.momentum);
    log("hiding_strategy", hiding::to_string(h.strategy));
    log("hiding_fraction", h.fraction);
    log("hiding_tau", h.tau);
    log("hiding_lr_compensation", hiding::to_string(h.lr_compensation));
    log("hiding_refresh_every", h.refresh_every);
    // The knobs of the other strategies, only where they apply (older logs stay as they were).
    if (h.strategy == hiding::Strategy::infobatch) {
        log("hiding_infobatch_ratio", h.infobatch_ratio);
        log("hiding_infobatch_delta", h.infobatch_delta);
    } else if (h.strategy == hiding::Strategy::selective_backprop) {
        log("hiding_sb_beta", h.sb_beta);
    } else if (h.strategy == hiding::Strategy::rotate) {
        log("hiding_rotate_fraction", h.rotate_fraction);
        log("hiding_rotate_ratio", h.rotate_ratio);
        log("hiding_rotate_full_epochs", h.rotate_full_epochs);
        log("hiding_rotate_tau", h.rotate_tau);
    }
    log("train_samples", static_cast<long long>(facts.train_samples));
    log("eval_samples", static_cast<long long>(facts.eval_samples));
}

} // namespace kakuren::trainer

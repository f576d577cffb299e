#pragma once
// The learning-rate schedule, indexed by epoch plus the fraction of the epoch done, so that an
// epoch shortened by hiding does not fall behind an iteration-indexed schedule. Pure: no torch.
#include <cstdint>

#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// Fraction of epoch done after step `step` (0-based) of `num_steps`: (step + 1) / num_steps,
/// and 1 for an epoch without steps.
double epoch_fraction(std::int64_t step, std::int64_t num_steps);

/// Scheduled LR (before any hiding scale) for a step of 0-based `epoch` after which `frac` of
/// the epoch is done (see epoch_fraction):
/// - warm-up, epoch < warmup_epochs: base_lr * (epoch + frac) / warmup_epochs, linear from
///   base_lr / (warm-up steps) at the first step up to base_lr at the last warm-up step;
/// - "step": base_lr * gamma^(number of milestones <= epoch), or with decay_factors non-empty
///   base_lr * decay_factors[k - 1] after k >= 1 milestones (not compounding);
/// - "cosine": 0.5 * base_lr * (1 + cos(pi * (epoch + frac - warmup) / (epochs - warmup))),
///   which reaches 0 at the last step of the last epoch.
/// - "multistep": the same as "step" (DeepCAM's name).
/// With schedule.warmup_steps > 0 the warm-up lasts warmup_steps / steps_per_epoch epochs (steps
/// of a full epoch, so that an epoch shortened by hiding does not stretch it) instead of
/// warmup_epochs; with warmup_factor f > 1 it rises from base_lr to f x base_lr and the decay
/// starts from f x base_lr.
double scheduled_lr(const ScheduleConfig& schedule, double base_lr, int epoch, double frac,
                    std::int64_t steps_per_epoch = 0);

/// Number of milestones <= epoch (the LR decays that happened by then; step schedules only).
int milestones_passed(const ScheduleConfig& schedule, int epoch);

} // namespace kakuren::trainer

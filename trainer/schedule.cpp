#include "trainer/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace kakuren::trainer {

double epoch_fraction(std::int64_t step, std::int64_t num_steps) {
    if (num_steps <= 0) {
        return 1.0;
    }
    return static_cast<double>(step + 1) / static_cast<double>(num_steps);
}

int milestones_passed(const ScheduleConfig& schedule, int epoch) {
    int passed = 0;
    for (int m : schedule.milestones) {
        if (m <= epoch) {
            ++passed;
        }
    }
    return passed;
}

namespace {

/// The LR after warm-up (which ends at epoch `warmup`, possibly fractional).
double decayed_lr(const ScheduleConfig& schedule, double base_lr, int epoch, double frac,
                  double warmup) {
    if (schedule.kind == "cosine") {
        const double span = schedule.epochs - warmup;
        if (span <= 0) {
            return base_lr;
        }
        const double progress = std::min(1.0, (epoch + frac - warmup) / span);
        return 0.5 * base_lr * (1.0 + std::cos(std::numbers::pi * progress));
    }
    const int passed = milestones_passed(schedule, epoch);
    if (!schedule.decay_factors.empty()) {
        // Per-boundary factors relative to the base LR (the recipe check holds the list to one
        // factor per milestone; the clamp keeps a programmatic config in bounds).
        if (passed == 0) {
            return base_lr;
        }
        const auto last = static_cast<int>(schedule.decay_factors.size());
        return base_lr * schedule.decay_factors.at(std::min(passed, last) - 1);
    }
    return base_lr * std::pow(schedule.gamma, passed);
}

} // namespace

double scheduled_lr(const ScheduleConfig& schedule, double base_lr, int epoch, double frac,
                    std::int64_t steps_per_epoch) {
    const double factor = schedule.warmup_factor;
    if (schedule.warmup_steps > 0) {
        // Warm-up in steps: on the same epoch axis, as a fraction of an epoch.
        const double warmup = static_cast<double>(schedule.warmup_steps) /
                              static_cast<double>(std::max<std::int64_t>(1, steps_per_epoch));
        const double at = epoch + frac;
        if (at < warmup) {
            return factor > 1.0 ? base_lr * (1.0 + (factor - 1.0) * at / warmup)
                                : base_lr * at / warmup;
        }
        return decayed_lr(schedule, base_lr * factor, epoch, frac, warmup);
    }
    const int warmup = schedule.warmup_epochs;
    // The branch is taken on the integer epoch: the last warm-up step has epoch + frac == warmup.
    if (epoch < warmup) {
        return factor > 1.0 ? base_lr * (1.0 + (factor - 1.0) * (epoch + frac) / warmup)
                            : base_lr * (epoch + frac) / warmup;
    }
    return decayed_lr(schedule, base_lr * factor, epoch, frac, warmup);
}

} // namespace kakuren::trainer

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

double scheduled_lr(const ScheduleConfig& schedule, double base_lr, int epoch, double frac) {
    const int warmup = schedule.warmup_epochs;
    // The branch is taken on the integer epoch: the last warm-up step has epoch + frac == warmup.
    if (epoch < warmup) {
        return base_lr * (epoch + frac) / warmup;
    }
    if (schedule.kind == "cosine") {
        const int span = schedule.epochs - warmup;
        if (span <= 0) {
            return base_lr;
        }
        const double progress = std::min(1.0, (epoch + frac - warmup) / span);
        return 0.5 * base_lr * (1.0 + std::cos(std::numbers::pi * progress));
    }
    return base_lr * std::pow(schedule.gamma, milestones_passed(schedule, epoch));
}

} // namespace kakuren::trainer

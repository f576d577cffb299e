#include "recipes/run_length.hpp"

#include <algorithm>
#include <string>

namespace kakuren::recipes {

std::vector<int> scale_milestones(const std::vector<int>& milestones, int reference_epochs,
                                  int epochs) {
    std::vector<int> scaled;
    if (reference_epochs <= 0) {
        return scaled;
    }
    for (const int m : milestones) {
        // 64-bit: m * epochs of two large ints must not overflow.
        const auto at = static_cast<int>(static_cast<long long>(m) * epochs / reference_epochs);
        if (at >= 1 && at < epochs && (scaled.empty() || at > scaled.back())) {
            scaled.push_back(at);
        }
    }
    return scaled;
}

void fit_defaults_to_run_length(Recipe& recipe) {
    const ScheduleSection defaults;
    ScheduleSection& s = recipe.schedule;
    const std::string scaled_origin =
        "default, scaled to schedule.epochs = " + std::to_string(s.epochs);
    const auto is_default = [&](const char* key) {
        const auto it = recipe.origins.find(key);
        return it == recipe.origins.end() || it->second == "default";
    };
    if (is_default("schedule.warmup_epochs") && s.warmup_epochs >= s.epochs) {
        s.warmup_epochs = std::max(0, s.epochs - 1);
        recipe.origins["schedule.warmup_epochs"] = scaled_origin;
    }
    const bool out_of_range =
        std::any_of(s.milestones.begin(), s.milestones.end(), [&](int m) { return m >= s.epochs; });
    const bool step = s.kind == "step" || s.kind == "multistep"; // the kinds with milestones
    if (step && is_default("schedule.milestones") && out_of_range && s.decay_factors.empty()) {
        s.milestones = scale_milestones(defaults.milestones, defaults.epochs, s.epochs);
        recipe.origins["schedule.milestones"] = scaled_origin;
    }
}

} // namespace kakuren::recipes

#pragma once
// Schedule defaults that fit any run length. The defaults of [schedule] (milestones [10, 13],
// one warm-up epoch) are written for ScheduleSection's 15 epochs; a recipe that shortens
// schedule.epochs without setting them would otherwise be refused for values it never wrote.
#include <vector>

#include "recipes/recipe.hpp"

namespace kakuren::recipes {

/// The milestones at the same fractions of an `epochs`-long run as `milestones` are of a
/// `reference_epochs`-long one: floor(m * epochs / reference_epochs), keeping only those
/// >= 1, < epochs and above the previous one (so a 1-epoch run has none). Pure.
std::vector<int> scale_milestones(const std::vector<int>& milestones, int reference_epochs,
                                  int epochs);

/// For each of schedule.milestones and schedule.warmup_epochs whose origin is "default" and
/// whose default value is out of range for recipe.schedule.epochs: replaces it with the scaled
/// value (milestones by scale_milestones from ScheduleSection's epochs; warm-up to at most
/// epochs - 1) and records the origin "default, scaled to schedule.epochs = N". Values the file
/// or --set gave are left as they are (the loader still checks them). Milestones are left when
/// schedule.decay_factors is set (it must match their number). Throws nothing.
void fit_defaults_to_run_length(Recipe& recipe);

} // namespace kakuren::recipes

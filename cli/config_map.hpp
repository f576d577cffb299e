#pragma once
// The one place that maps recipe sections to each module's own config.
#include "launcher/job_script.hpp"
#include "recipes/recipe.hpp"
#include "trainer/trainer.hpp"

namespace kakuren::cli {

/// threads = recipe.run.threads, or available_cpus when 0.
trainer::Config trainer_config(const recipes::Recipe& recipe);
/// Throws UsageError when config.threads is more than 8 x the CPUs of this allocation (a recipe
/// asking for 100000 threads would spawn them all and stop answering signals).
void check_threads_fit(const trainer::Config& config);
hiding::Config hiding_config(const recipes::Recipe& recipe);
checkpoint::Config checkpoint_config(const recipes::Recipe& recipe);
/// The [slurm] request of a batch script (run ids, folders and paths are the caller's).
launcher::ScriptSpec script_spec(const recipes::Recipe& recipe);

/// This executable's absolute path (what a job script runs), else "kakuren".
std::string kakuren_binary();

} // namespace kakuren::cli

// The [slurm] request a recipe makes (cli/config_map.cpp script_spec): --cpus-per-task from
// run.threads, run.threads = 0 filling the allocation, setup lines and the array throttle.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/config_map.hpp"
#include "recipes/recipe.hpp"

using kakuren::cli::script_spec;
using kakuren::launcher::ScriptSpec;

namespace {

ScriptSpec spec_of(const std::vector<std::string>& overrides) {
    return script_spec(
        kakuren::recipes::parse("[data]\ndataset = \"synthetic\"\n", "x.toml", overrides));
}

} // namespace

TEST(ScriptSpec, CpusPerTaskFollowRunThreads) {
    const ScriptSpec s = spec_of({"run.threads=6"});
    EXPECT_EQ(6, s.cpus_per_task);
    EXPECT_EQ(6, s.threads);
}

TEST(ScriptSpec, ThreadsZeroAsksForNoCpusPerTask) {
    const ScriptSpec s = spec_of({"run.threads=0"});
    EXPECT_EQ(0, s.cpus_per_task); // the job script then says how the ranks fill the job
    EXPECT_EQ(0, s.threads);
}

TEST(ScriptSpec, ExplicitCpusPerTaskWin) {
    EXPECT_EQ(8, spec_of({"run.threads=0", "slurm.cpus_per_task=8"}).cpus_per_task);
    EXPECT_EQ(8, spec_of({"run.threads=2", "slurm.cpus_per_task=8"}).cpus_per_task);
}

TEST(ScriptSpec, SetupAndArrayParallelReachTheSpec) {
    const ScriptSpec s = spec_of({"slurm.setup=['module load cuda', 'source ~/venv/bin/activate']",
                                  "slurm.array_parallel=3"});
    EXPECT_EQ((std::vector<std::string>{"module load cuda", "source ~/venv/bin/activate"}),
              s.setup);
    EXPECT_EQ(3, s.array_parallel);
}

TEST(ScriptSpec, ASetupLineWithALineBreakIsARecipeError) {
    try {
        kakuren::recipes::parse("[data]\ndataset = \"synthetic\"\n[slurm]\n"
                                "setup = [\"module load x\\nrm -rf y\"]\n",
                                "x.toml", {});
        ADD_FAILURE() << "loaded";
    } catch (const kakuren::recipes::RecipeError& e) {
        EXPECT_EQ(std::vector<std::string>{"x.toml:4:9: error: slurm.setup[0] holds a line break "
                                           "or a NUL byte; expected one shell line per element"},
                  e.messages());
    }
}

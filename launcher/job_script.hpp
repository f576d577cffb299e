#pragma once
// The batch script of a submitted run: what Slurm (or the local backend) runs. It starts one
// `kakuren job` rank per task with srun, forwards the warning and stop signals to them, and is
// safe to restart from the top (a requeue continues the same run from its newest checkpoint).
// Every value that comes from a recipe or a path is single-quoted; no recipe can inject shell.
// The one exception is slurm.setup: lines the user writes to run as shell ("module load ...",
// "source venv/bin/activate"), trusted as the user's own shell and written as they are.
#include <string>
#include <vector>

namespace kakuren::launcher {

/// What the script needs to know; values are the resolved recipe's [slurm] section.
struct ScriptSpec {
    std::vector<std::string> run_ids;  ///< one run, or one per array task (sweep) in task order
    std::vector<std::string> run_dirs; ///< absolute, one per run id
    std::string workspace;             ///< absolute: exported as KAKUREN_WORKSPACE
    std::string kakuren;               ///< absolute path of the kakuren binary
    std::string job_name;              ///< --job-name
    int nodes = 1, ntasks_per_node = 1, gpus_per_node = 0;
    int cpus_per_task = 1; ///< --cpus-per-task; 0 = none asked (each rank shares its node's)
    int threads = 0;       ///< run.threads (0 = fill the allocation), for the script's comment
    std::vector<std::string> setup; ///< shell lines before the launch, unquoted (see above)
    int array_parallel = 0;         ///< --array=0-N%P; 0 = no limit
    std::string partition, account, qos, constraint, memory, extra; ///< as validated by recipes/
    int time_limit_min = 0;                                         ///< 0 = the partition's
    int signal_grace_s = 0;                                         ///< 0 = no warning signal
    std::string output; ///< --output pattern of the script's own log (%j / %A_%a expand)
    std::string sweep;  ///< the sweep's name when run_ids are a sweep's runs (job_mark)
};

/// The script text: #SBATCH lines documenting the request (the same values reach Slurm through
/// libslurm; `sbatch script` by hand asks for the same), then the launch. spec holds one run
/// folder per run id and at least one run (asserted: the caller's promise).
std::string job_script(const ScriptSpec& spec);

/// `text` as one single-quoted shell word ('it'\''s').
std::string shell_quote(const std::string& text);

} // namespace kakuren::launcher

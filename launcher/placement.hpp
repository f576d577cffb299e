#pragma once
// Where this process sits in a run's ranks: from Slurm's variables (srun), from the local
// backend's KAKUREN_* variables, or a single rank.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kakuren::launcher {

struct Placement {
    std::string backend = "none"; ///< slurm | local | none (a plain `kakuren run`)
    int rank = 0, world = 1, local_rank = 0;
    int num_nodes = 1;
    std::vector<std::string> nodes; ///< host names of the allocation (rank 0's first)
    std::string master_addr = "127.0.0.1";
    int master_port = 29500;
    std::string job_id;    ///< "1234", "1234_2" for an array task, the local launcher's pid
    int restart_count = 0; ///< SLURM_RESTART_COUNT: 0 first start, 1 after the first requeue
    std::uint32_t slurm_job_id = 0; ///< the job (array task) Slurm knows; 0 outside Slurm
    /// Slurm: the CPUs this rank may use: SLURM_CPUS_PER_TASK when the job asked for
    /// --cpus-per-task, else its share of the job's CPUs on its node (SLURM_CPUS_ON_NODE /
    /// SLURM_NTASKS_PER_NODE, at least 1); 0 outside Slurm or when Slurm says neither.
    int cpus = 0;
};

/// Reads the placement from an environment (name -> value). expand_hostlist turns Slurm's
/// compressed node list into names (slurm::expand_hostlist). Slurm: SLURM_PROCID, SLURM_NTASKS,
/// SLURM_LOCALID, SLURM_JOB_NODELIST (rank 0 runs on its first host), SLURM_JOB_ID,
/// SLURM_ARRAY_JOB_ID/SLURM_ARRAY_TASK_ID, SLURM_RESTART_COUNT, SLURM_JOB_NUM_NODES,
/// SLURM_CPUS_PER_TASK / SLURM_CPUS_ON_NODE / SLURM_NTASKS_PER_NODE (cpus). Local:
/// KAKUREN_RANK, KAKUREN_WORLD, KAKUREN_LOCAL_RANK, KAKUREN_MASTER_ADDR, KAKUREN_MASTER_PORT,
/// KAKUREN_JOB_ID. Throws UsageError naming a malformed variable.
Placement
placement_from(const std::map<std::string, std::string>& env,
               const std::function<std::vector<std::string>(const std::string&)>& expand_hostlist);

/// This process's environment as a map.
std::map<std::string, std::string> environment();

/// The rendezvous port of a Slurm job: 20000 + job id mod 20000, so that two jobs sharing a
/// node rarely collide and every rank of one job derives the same port.
int port_for_job(std::uint32_t job_id);

} // namespace kakuren::launcher

#include "launcher/placement.hpp"

#include <algorithm>
#include <charconv>

#include "util/error.hpp"

extern char** environ;

namespace kakuren::launcher {
namespace {

const std::string* find(const std::map<std::string, std::string>& env, const std::string& key) {
    const auto it = env.find(key);
    return it == env.end() || it->second.empty() ? nullptr : &it->second;
}

long long number(const std::map<std::string, std::string>& env, const std::string& key,
                 long long fallback, long long min) {
    const std::string* text = find(env, key);
    if (text == nullptr) {
        return fallback;
    }
    long long value = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc{} || end != text->data() + text->size() || value < min) {
        throw UsageError("environment variable " + key + "=" + *text +
                         " is not a number >= " + std::to_string(min));
    }
    return value;
}

} // namespace

int port_for_job(std::uint32_t job_id) {
    return 20000 + static_cast<int>(job_id % 20000U);
}

std::map<std::string, std::string> environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string entry(*e);
        const std::size_t eq = entry.find('=');
        if (eq != std::string::npos) {
            env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
        }
    }
    return env;
}

Placement
placement_from(const std::map<std::string, std::string>& env,
               const std::function<std::vector<std::string>(const std::string&)>& expand_hostlist) {
    Placement p;
    if (find(env, "KAKUREN_RANK") != nullptr) {
        p.backend = "local";
        p.world = static_cast<int>(number(env, "KAKUREN_WORLD", 1, 1));
        p.rank = static_cast<int>(number(env, "KAKUREN_RANK", 0, 0));
        p.local_rank = static_cast<int>(number(env, "KAKUREN_LOCAL_RANK", p.rank, 0));
        if (const std::string* addr = find(env, "KAKUREN_MASTER_ADDR")) {
            p.master_addr = *addr;
        }
        p.master_port = static_cast<int>(number(env, "KAKUREN_MASTER_PORT", 29500, 1));
        if (const std::string* job = find(env, "KAKUREN_JOB_ID")) {
            p.job_id = *job;
        }
        p.nodes = {p.master_addr};
    } else if (find(env, "SLURM_JOB_ID") != nullptr) {
        p.backend = "slurm";
        p.slurm_job_id = static_cast<std::uint32_t>(number(env, "SLURM_JOB_ID", 0, 1));
        p.job_id = std::to_string(p.slurm_job_id);
        if (find(env, "SLURM_ARRAY_JOB_ID") != nullptr) {
            p.job_id = std::to_string(number(env, "SLURM_ARRAY_JOB_ID", 0, 1)) + "_" +
                       std::to_string(number(env, "SLURM_ARRAY_TASK_ID", 0, 0));
        }
        p.restart_count = static_cast<int>(number(env, "SLURM_RESTART_COUNT", 0, 0));
        // Inside srun: one task per rank. In the batch shell alone (no srun): one rank.
        p.world = static_cast<int>(number(env, "SLURM_NTASKS", 1, 1));
        p.rank = static_cast<int>(number(env, "SLURM_PROCID", 0, 0));
        p.local_rank = static_cast<int>(number(env, "SLURM_LOCALID", 0, 0));
        if (find(env, "SLURM_STEP_ID") == nullptr && find(env, "SLURM_STEPID") == nullptr) {
            p.world = 1; // the batch step: not a rank of a parallel step
        }
        const std::string* list = find(env, "SLURM_JOB_NODELIST");
        p.nodes = list != nullptr ? expand_hostlist(*list) : std::vector<std::string>{};
        if (p.nodes.empty()) {
            p.nodes = {"127.0.0.1"};
        }
        p.num_nodes = static_cast<int>(
            number(env, "SLURM_JOB_NUM_NODES", static_cast<long long>(p.nodes.size()), 1));
        p.master_addr = p.nodes.front();
        p.master_port = port_for_job(p.slurm_job_id);
        // run.threads = 0 fills what the job asked for: its task's CPUs, or without
        // --cpus-per-task an equal share of the CPUs Slurm gave the job on this node.
        if (find(env, "SLURM_CPUS_PER_TASK") != nullptr) {
            p.cpus = static_cast<int>(number(env, "SLURM_CPUS_PER_TASK", 1, 1));
        } else if (find(env, "SLURM_CPUS_ON_NODE") != nullptr) {
            const long long on_node = number(env, "SLURM_CPUS_ON_NODE", 1, 1);
            const long long tasks = number(env, "SLURM_NTASKS_PER_NODE", 1, 1);
            p.cpus = static_cast<int>(std::max(1LL, on_node / tasks));
        }
    }
    if (p.rank >= p.world) {
        throw UsageError("rank " + std::to_string(p.rank) + " is not below the world size " +
                         std::to_string(p.world) + " (check the KAKUREN_*/SLURM_* variables)");
    }
    return p;
}

} // namespace kakuren::launcher

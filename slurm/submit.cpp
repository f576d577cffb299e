// Submitting a batch job: JobSpec -> libslurm's job description (sbatch's options in API form).
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "slurm/client.hpp"
#include "slurm/libslurm.hpp"

extern char** environ;

namespace kakuren::slurm {

namespace {

struct SubmitResponseFree {
    void operator()(submit_response_msg_t* msg) const {
        slurm_free_submit_response_response_msg(msg);
    }
};
using SubmitResponsePtr = std::unique_ptr<submit_response_msg_t, SubmitResponseFree>;

// libslurm's job_desc_msg_t takes char* it does not modify while packing the request.
char* c_str(const std::string& s) {
    return s.empty() ? nullptr : const_cast<char*>(s.c_str());
}

std::uint16_t parse_mail_type(const std::string& text) {
    static const std::array<std::pair<const char*, std::uint16_t>, 13> k_words = {{
        {"NONE", 0},
        {"BEGIN", MAIL_JOB_BEGIN},
        {"END", MAIL_JOB_END},
        {"FAIL", MAIL_JOB_FAIL},
        {"REQUEUE", MAIL_JOB_REQUEUE},
        {"ALL", MAIL_JOB_BEGIN | MAIL_JOB_END | MAIL_JOB_FAIL | MAIL_JOB_REQUEUE |
                    MAIL_JOB_STAGE_OUT | MAIL_INVALID_DEPEND},
        {"INVALID_DEPEND", MAIL_INVALID_DEPEND},
        {"STAGE_OUT", MAIL_JOB_STAGE_OUT},
        {"TIME_LIMIT", MAIL_JOB_TIME100},
        {"TIME_LIMIT_90", MAIL_JOB_TIME90},
        {"TIME_LIMIT_80", MAIL_JOB_TIME80},
        {"TIME_LIMIT_50", MAIL_JOB_TIME50},
        {"ARRAY_TASKS", MAIL_ARRAY_TASKS},
    }};
    std::uint16_t flags = 0;
    std::stringstream parts(text);
    std::string word;
    while (std::getline(parts, word, ',')) {
        std::transform(word.begin(), word.end(), word.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        const auto* found = std::find_if(k_words.begin(), k_words.end(),
                                         [&](const auto& w) { return word == w.first; });
        if (found == k_words.end()) {
            // Built with append: performance-inefficient-string-concatenation flags a + chain in a
            // loop, even in the throw that leaves it.
            std::string message = "unknown Slurm mail type '";
            message.append(word).append("' in '").append(text).append(
                "'; expected NONE, BEGIN, END, FAIL, REQUEUE, ALL, INVALID_DEPEND, STAGE_OUT, "
                "TIME_LIMIT, TIME_LIMIT_90/80/50 or ARRAY_TASKS");
            throw UsageError(message);
        }
        flags |= found->second;
    }
    return flags;
}

// Time limit, tasks, CPUs, memory and the warning signal (sbatch's --time, --nodes,
// --ntasks-per-node, --cpus-per-task, --mem, --signal).
void set_limits(const JobSpec& spec, job_desc_msg_t& desc) {
    if (spec.time_limit_min > 0) {
        desc.time_limit = static_cast<std::uint32_t>(spec.time_limit_min);
    }
    const int nodes = std::max(1, spec.nodes);
    const int tasks_per_node = std::max(1, spec.ntasks_per_node);
    desc.min_nodes = static_cast<std::uint32_t>(nodes);
    desc.max_nodes = static_cast<std::uint32_t>(nodes);
    desc.ntasks_per_node = static_cast<std::uint16_t>(tasks_per_node);
    desc.num_tasks = static_cast<std::uint32_t>(nodes * tasks_per_node);
    desc.bitflags |= JOB_NTASKS_SET;
    if (spec.cpus_per_task > 0) {
        desc.cpus_per_task = static_cast<std::uint16_t>(spec.cpus_per_task);
        desc.bitflags |= JOB_CPUS_SET;
    }
    if (spec.memory_mb > 0) {
        desc.pn_min_memory = static_cast<std::uint64_t>(spec.memory_mb);
    }
    if (spec.warn_signal > 0) {
        desc.warn_signal = static_cast<std::uint16_t>(spec.warn_signal);
        desc.warn_time = static_cast<std::uint16_t>(std::max(0, spec.warn_time_s));
        desc.warn_flags = spec.warn_batch_only ? KILL_JOB_BATCH : 0;
    }
}

// Partition, account, QOS, reservation and which nodes (sbatch's --partition, --account, --qos,
// --constraint, --reservation, --nodelist, --exclude, --exclusive).
void set_placement(const JobSpec& spec, job_desc_msg_t& desc) {
    desc.partition = c_str(spec.partition);
    desc.account = c_str(spec.account);
    desc.qos = c_str(spec.qos);
    desc.features = c_str(spec.constraint);
    desc.reservation = c_str(spec.reservation);
    desc.req_nodes = c_str(spec.nodelist);
    desc.exc_nodes = c_str(spec.exclude);
    if (spec.exclusive) {
        desc.shared = JOB_SHARED_NONE;
    }
}

// Requeue, output mode, array, comment, dependency, licenses and mail (sbatch's --requeue,
// --open-mode, --array, --comment, --dependency, --licenses, --mail-type, --mail-user).
void set_options(const JobSpec& spec, job_desc_msg_t& desc) {
    desc.requeue = spec.requeue ? 1 : 0;
    desc.open_mode = spec.open_mode_append ? OPEN_MODE_APPEND : OPEN_MODE_TRUNCATE;
    desc.array_inx = c_str(spec.array);
    desc.comment = c_str(spec.comment);
    desc.dependency = c_str(spec.dependency);
    desc.licenses = c_str(spec.licenses);
    if (!spec.mail_type.empty()) {
        desc.mail_type = parse_mail_type(spec.mail_type);
    }
    desc.mail_user = c_str(spec.mail_user);
}

// What the job description's pointers point at besides the spec itself; lives until submitted.
struct DescStrings {
    std::vector<char*> env; ///< the spec's environment, or this process's when it has none
    std::string work_dir;   ///< the spec's, or the current directory
    std::string gpus;       ///< "gres:gpu:N", or "" for none
};

// The environment, working folder and GPU request of the job, resolved.
DescStrings desc_strings(const JobSpec& spec) {
    DescStrings out;
    if (spec.environment.empty()) {
        for (char** e = environ; e && *e; ++e) {
            out.env.push_back(*e);
        }
    } else {
        for (const auto& e : spec.environment) {
            out.env.push_back(const_cast<char*>(e.c_str()));
        }
    }
    out.work_dir = spec.work_dir;
    if (out.work_dir.empty()) {
        std::error_code ec;
        out.work_dir = std::filesystem::current_path(ec).string();
    }
    out.gpus = spec.gpus_per_node > 0 ? "gres:gpu:" + std::to_string(spec.gpus_per_node) : "";
    return out;
}

} // namespace

std::uint32_t Client::submit(const JobSpec& spec) {
    if (spec.script.rfind("#!", 0) != 0) {
        throw UsageError("the batch script of job '" + spec.name +
                         "' must start with \"#!\" (e.g. #!/bin/bash)");
    }
    DescStrings strings = desc_strings(spec);
    job_desc_msg_t desc;
    slurm_init_job_desc_msg(&desc);
    desc.name = c_str(spec.name);
    desc.script = c_str(spec.script);
    desc.work_dir = c_str(strings.work_dir);
    desc.std_out = c_str(spec.std_out);
    desc.std_err = c_str(spec.std_err);
    desc.environment = strings.env.data();
    desc.env_size = static_cast<std::uint32_t>(strings.env.size());
    desc.user_id = getuid();
    desc.group_id = getgid();
    set_placement(spec, desc);
    set_limits(spec, desc);
    desc.tres_per_node = c_str(strings.gpus);
    set_options(spec, desc);

    submit_response_msg_t* raw = nullptr;
    const int rc = slurm_submit_batch_job(&desc, &raw);
    SubmitResponsePtr response(raw);
    if (rc != SLURM_SUCCESS || !response) {
        const int err = slurm_get_errno();
        std::string message = "Slurm refused job '" + spec.name + "': " + slurm_error_text(err);
        if (response && response->job_submit_user_msg) {
            message += std::string(" (") + response->job_submit_user_msg + ")";
        }
        throw SlurmError(message + "; check the job's partition, account, limits and nodes");
    }
    return response->job_id;
}

} // namespace kakuren::slurm

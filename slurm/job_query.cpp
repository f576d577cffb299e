// Querying jobs: Slurm's job records as JobInfo, job states and their names.
#include <sys/wait.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "slurm/client.hpp"
#include "slurm/libslurm.hpp"

namespace kakuren::slurm {

namespace {

JobState map_state(std::uint32_t job_state) {
    if (job_state & (JOB_COMPLETING | JOB_STAGE_OUT)) {
        return JobState::completing;
    }
    if (job_state & (JOB_REQUEUE | JOB_REQUEUE_FED | JOB_REQUEUE_HOLD | JOB_SPECIAL_EXIT)) {
        return JobState::requeued;
    }
    switch (job_state & JOB_STATE_BASE) {
    case JOB_PENDING:
        return JobState::pending;
    case JOB_RUNNING:
        return JobState::running;
    case JOB_SUSPENDED:
        return JobState::suspended;
    case JOB_COMPLETE:
        return JobState::completed;
    case JOB_CANCELLED:
        return JobState::cancelled;
    case JOB_FAILED:
        return JobState::failed;
    case JOB_TIMEOUT:
        return JobState::timeout;
    case JOB_NODE_FAIL:
        return JobState::node_fail;
    case JOB_PREEMPTED:
        return JobState::preempted;
    case JOB_BOOT_FAIL:
        return JobState::boot_fail;
    case JOB_DEADLINE:
        return JobState::deadline;
    case JOB_OOM:
        return JobState::out_of_memory;
    default:
        return JobState::unknown;
    }
}

JobInfo to_job_info(const slurm_job_info_t& job) {
    JobInfo info;
    info.job_id = job.job_id;
    info.array_job_id = job.array_job_id;
    info.array_task_id =
        (job.array_job_id == 0 || job.array_task_id == NO_VAL) ? UINT32_MAX : job.array_task_id;
    info.state = map_state(job.job_state);
    // exit_code is a wait status; NO_VAL while the job has not ended.
    if (job.exit_code != NO_VAL && job.exit_code != INFINITE) {
        const int status = static_cast<int>(job.exit_code);
        if (WIFEXITED(status)) {
            info.exit_code = WEXITSTATUS(status);
        } else if (WIFSIGNALED(status)) {
            info.term_signal = WTERMSIG(status);
        }
    }
    const char* reason =
        slurm_job_reason_string(static_cast<enum job_state_reason>(job.state_reason));
    info.state_reason = reason ? reason : "";
    info.nodes = job.nodes ? job.nodes : "";
    info.name = job.name ? job.name : "";
    info.comment = job.comment ? job.comment : "";
    info.restart_count = job.restart_cnt;
    info.submit_time = static_cast<std::int64_t>(job.submit_time);
    info.start_time = static_cast<std::int64_t>(job.start_time);
    info.end_time = static_cast<std::int64_t>(job.end_time);
    return info;
}

// "0-4:2,7%3" -> 0 2 4 7 (Slurm's array_task_str of a pending array record).
std::vector<std::uint32_t> expand_task_ids(std::string text) {
    std::vector<std::uint32_t> ids;
    if (const auto percent = text.find('%'); percent != std::string::npos) {
        text.resize(percent);
    }
    std::stringstream parts(text);
    std::string part;
    while (std::getline(parts, part, ',')) {
        if (part.empty()) {
            continue;
        }
        unsigned long first = 0, last = 0, step = 1;
        const auto dash = part.find('-');
        const auto colon = part.find(':');
        try {
            first = std::stoul(part.substr(0, dash));
            last = dash == std::string::npos ? first : std::stoul(part.substr(dash + 1));
            if (colon != std::string::npos) {
                step = std::max(1UL, std::stoul(part.substr(colon + 1)));
            }
        } catch (const std::exception&) {
            continue; // a form this adapter does not know: leave it out rather than fail a query
        }
        for (unsigned long id = first; id <= last; id += step) {
            ids.push_back(static_cast<std::uint32_t>(id));
        }
    }
    return ids;
}

} // namespace

// Loads a job (all tasks for an array job id); nullptr when Slurm does not know it.
JobInfoMsgPtr load_job(std::uint32_t job_id) {
    job_info_msg_t* raw = nullptr;
    if (slurm_load_job(&raw, job_id, SHOW_ALL) != SLURM_SUCCESS) {
        const int err = slurm_get_errno();
        if (err == ESLURM_INVALID_JOB_ID) {
            return nullptr;
        }
        throw SlurmError("cannot query Slurm job " + std::to_string(job_id) + ": " +
                         slurm_error_text(err) + "; is slurmctld running?");
    }
    return JobInfoMsgPtr(raw);
}

std::string_view to_string(JobState state) {
    switch (state) {
    case JobState::pending:
        return "pending";
    case JobState::running:
        return "running";
    case JobState::suspended:
        return "suspended";
    case JobState::completing:
        return "completing";
    case JobState::completed:
        return "completed";
    case JobState::cancelled:
        return "cancelled";
    case JobState::failed:
        return "failed";
    case JobState::timeout:
        return "timeout";
    case JobState::node_fail:
        return "node_fail";
    case JobState::preempted:
        return "preempted";
    case JobState::boot_fail:
        return "boot_fail";
    case JobState::deadline:
        return "deadline";
    case JobState::out_of_memory:
        return "out_of_memory";
    case JobState::requeued:
        return "requeued";
    case JobState::unknown:
        break;
    }
    return "unknown";
}

bool is_final(JobState state) {
    switch (state) {
    case JobState::completed:
    case JobState::cancelled:
    case JobState::failed:
    case JobState::timeout:
    case JobState::node_fail:
    case JobState::boot_fail:
    case JobState::deadline:
    case JobState::out_of_memory:
        return true;
    default:
        return false;
    }
}

std::optional<JobInfo> Client::query(std::uint32_t job_id) {
    const auto msg = load_job(job_id);
    if (!msg || msg->record_count == 0) {
        return std::nullopt;
    }
    for (std::uint32_t i = 0; i < msg->record_count; ++i) {
        if (msg->job_array[i].job_id == job_id) {
            return to_job_info(msg->job_array[i]);
        }
    }
    return to_job_info(msg->job_array[0]);
}

std::vector<JobInfo> Client::query_array(std::uint32_t array_job_id) {
    std::vector<JobInfo> tasks;
    const auto msg = load_job(array_job_id);
    if (!msg) {
        return tasks;
    }
    for (std::uint32_t i = 0; i < msg->record_count; ++i) {
        const slurm_job_info_t& job = msg->job_array[i];
        if (job.array_job_id != array_job_id) {
            continue;
        }
        if (job.array_task_id != NO_VAL) {
            tasks.push_back(to_job_info(job));
            continue;
        }
        // A record for tasks not yet split off: one entry per task, no job id of their own.
        for (const std::uint32_t task :
             expand_task_ids(job.array_task_str ? job.array_task_str : "")) {
            JobInfo info = to_job_info(job);
            info.job_id = 0;
            info.array_task_id = task;
            tasks.push_back(std::move(info));
        }
    }
    std::sort(tasks.begin(), tasks.end(),
              [](const JobInfo& a, const JobInfo& b) { return a.array_task_id < b.array_task_id; });
    return tasks;
}

} // namespace kakuren::slurm

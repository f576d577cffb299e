// Acting on jobs: cancel, signal, requeue (and start again at once), start a pending job now.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>

#include "slurm/client.hpp"
#include "slurm/libslurm.hpp"

namespace kakuren::slurm {

namespace {

// Sets a job's begin time (the API form of `scontrol update StartTime=`); returns the error.
int set_begin_time(std::uint32_t job_id, std::time_t begin) {
    job_desc_msg_t desc;
    slurm_init_job_desc_msg(&desc);
    desc.job_id = job_id;
    desc.begin_time = begin;
    return slurm_update_job(&desc) == SLURM_SUCCESS ? SLURM_SUCCESS : slurm_get_errno();
}

bool inside_job(std::uint32_t job_id) {
    const char* id = std::getenv("SLURM_JOB_ID");
    return id && std::strtoul(id, nullptr, 10) == job_id;
}

} // namespace

void Client::cancel(std::uint32_t job_id, int signal) {
    const std::string id = std::to_string(job_id);
    // By id string, as scancel does: an array job id then means every task of the array.
    if (slurm_kill_job2(id.c_str(), static_cast<std::uint16_t>(signal), KILL_FULL_JOB, nullptr) ==
        SLURM_SUCCESS) {
        return;
    }
    const int err = slurm_get_errno();
    if (err == ESLURM_ALREADY_DONE || err == ESLURM_INVALID_JOB_ID) {
        return;
    }
    throw SlurmError("cannot cancel Slurm job " + id + ": " + slurm_error_text(err));
}

void Client::signal_job(std::uint32_t job_id, int signal) {
    const std::string id = std::to_string(job_id);
    if (const auto info = query(job_id); !info || info->state != JobState::running) {
        throw SlurmError("cannot signal Slurm job " + id + ": it is " +
                         (info ? std::string(to_string(info->state)) : "unknown to Slurm") +
                         ", not running");
    }
    if (slurm_kill_job2(id.c_str(), static_cast<std::uint16_t>(signal), KILL_FULL_JOB, nullptr) !=
        SLURM_SUCCESS) {
        throw SlurmError("cannot send signal " + std::to_string(signal) + " to Slurm job " + id +
                         ": " + last_error_text());
    }
}

void Client::requeue(std::uint32_t job_id, double settle_timeout_s) {
    const std::string id = std::to_string(job_id);
    if (slurm_requeue(job_id, 0) != SLURM_SUCCESS) {
        throw SlurmError("cannot requeue Slurm job " + id + ": " + last_error_text() +
                         "; only a running or suspended job with requeue allowed can be "
                         "requeued");
    }
    // When the old run has ended, slurmctld moves a begin time that is not in the future to
    // 121 s ahead (its credential expiry window), and slurmd refuses a launch in the same second
    // as the kill ("Job credential revoked"). A begin time 2 s ahead avoids both; the job is
    // pending (flag COMPLETING) now, so the update is taken.
    const std::time_t begin = std::time(nullptr) + 2;
    const int err = set_begin_time(job_id, begin);
    if (inside_job(job_id)) {
        // This process is about to be killed with its job. The job starts at the scheduler's
        // next pass after the begin time (SchedulerParameters sched_interval, or backfill).
        return;
    }
    // From outside: once the old run has ended and the begin time has come, set it again; the
    // update makes the scheduler look at the job at once.
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration<double>(std::max(0.0, settle_timeout_s));
    for (;;) {
        const auto msg = load_job(job_id);
        const slurm_job_info_t* job = nullptr;
        for (std::uint32_t i = 0; msg && i < msg->record_count; ++i) {
            if (msg->job_array[i].job_id == job_id) {
                job = &msg->job_array[i];
            }
        }
        if (!job || (job->job_state & JOB_STATE_BASE) != JOB_PENDING) {
            return; // gone, or already started again
        }
        if (!(job->job_state & JOB_COMPLETING) && std::time(nullptr) >= begin) {
            set_begin_time(job_id, std::time(nullptr));
            return;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            if (err != SLURM_SUCCESS) {
                throw SlurmError("requeued Slurm job " + id +
                                 ", but could not move its begin "
                                 "time: " +
                                 slurm_error_text(err) +
                                 "; it starts after Slurm's requeue delay (about 2 minutes)");
            }
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

void Client::start_now(std::uint32_t job_id) {
    // 2 s ahead, as in requeue(): a begin time that is not in the future while the old run is
    // still completing would be moved to 121 s ahead, and a start in the second of the old
    // run's kill fails ("Job credential revoked").
    if (const int err = set_begin_time(job_id, std::time(nullptr) + 2); err != SLURM_SUCCESS) {
        throw SlurmError("cannot move the begin time of Slurm job " + std::to_string(job_id) +
                         " to now: " + slurm_error_text(err) + "; only a pending job can move");
    }
}

} // namespace kakuren::slurm

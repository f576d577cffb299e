#pragma once
// Where a submitted run executes, behind one interface: Slurm (through libslurm) or local (the
// same batch script, detached on this machine). Both are recorded the same way (table jobs).
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "launcher/job_script.hpp"

namespace kakuren::launcher {

struct SubmitRequest {
    ScriptSpec spec;                   ///< what the script runs and asks for
    std::filesystem::path script_file; ///< the script, already written (job.sh)
    std::string work_dir;              ///< the job's working directory (the workspace)
    int max_requeues = 3;              ///< 0 = do not let Slurm requeue it
};

/// A job as its backend sees it now.
struct JobView {
    std::string state;  ///< pending | running | requeued | completed | failed | cancelled
    std::string reason; ///< e.g. "NODE_FAIL on n2", "exit code 1"; empty when running normally
    std::string nodes;  ///< where it runs or ran
    int exit_code = 0;
    int restarts = 0; ///< times the scheduler started the job again (Slurm's restart count)
    std::string name; ///< the job's name; empty when the backend has none (local)
    std::string mark; ///< kakuren's mark on the job (job_mark); empty when it has none
};

/// What kakuren writes into a Slurm job's comment to know the job again by more than its id
/// (a controller whose state was wiped gives the same ids again, issue 23 #18):
/// "kakuren-run=<run id>" for a job of one run, "kakuren-sweep=<sweep>" for a job array. Added
/// after a comment the recipe asks for (slurm.extra), separated by a space.
std::string job_mark(const std::vector<std::string>& run_ids, const std::string& sweep);
/// The mark in a job's comment, or "" when it has none.
std::string mark_in(const std::string& comment);
/// Whether the job the backend shows under job_id may be the job kakuren submitted for a run
/// (run_id, in sweep; an array task's id has an '_'): true when it carries that run's mark, or
/// no mark and a kakuren job name ("kakuren-...", a job of a kakuren before marks) or no name
/// (a backend without names). False for another run's or workspace's job, or a job not
/// submitted by kakuren, that now has the id.
bool job_is_runs(const JobView& view, const std::string& job_id, const std::string& run_id,
                 const std::string& sweep);

class Backend {
  public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0; ///< "slurm" | "local"
    /// Submits the script; returns one job id per run id of the spec ("1234", or "1234_0",
    /// "1234_1", ... for an array; the local pid). Throws RuntimeFailure with the cause.
    virtual std::vector<std::string> submit(const SubmitRequest& request) = 0;
    /// The job's state; nullopt when the backend no longer knows it (Slurm forgot a finished
    /// job after MinJobAge; a local job's process has ended).
    virtual std::optional<JobView> query(const std::string& job_id) = 0;
    /// Ends the job (an already finished one is not an error).
    virtual void cancel(const std::string& job_id) = 0;
    /// Puts the running job back in the queue to start again at once; false when the backend
    /// cannot (local).
    virtual bool requeue(const std::string& job_id) = 0;
    /// Asks a waiting (requeued) job to start as soon as resources allow, instead of after
    /// Slurm's 120 s requeue delay; no-op for local jobs.
    virtual void start_now(const std::string& job_id) = 0;
};

/// "slurm", "local", or "auto" (slurm when a slurm.conf exists and its controller answers
/// within a second, else local). Throws RuntimeFailure when slurm is asked for and is not
/// usable (no configuration, controller down), within a few seconds.
std::unique_ptr<Backend> make_backend(const std::string& name);

/// The local backend's process for a job id (its pid), when it runs on this host.
bool local_job_alive(const std::string& job_id);

} // namespace kakuren::launcher

#pragma once
// The libslurm adapter: submit, query, cancel, signal and requeue batch jobs, expand host lists.
// Plain types only: <slurm/slurm.h> is included by slurm/*.cpp alone (via slurm/libslurm.hpp).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace kakuren::slurm {

/// Slurm failure (no configuration, controller unreachable, a refused request); the message says
/// what failed and what to do.
class SlurmError : public RuntimeFailure {
  public:
    using RuntimeFailure::RuntimeFailure;
};

/// Where libslurm would read its configuration: $SLURM_CONF (when set and not empty), else
/// /etc/slurm/slurm.conf; nullopt when that file does not exist (libslurm would call fatal() and
/// end the process). Never throws.
std::optional<std::filesystem::path> config_file();

/// One batch job to submit (the API form of sbatch's options). Empty strings and zero numbers
/// leave Slurm's defaults.
struct JobSpec {
    std::string name;     ///< job name (--job-name)
    std::string script;   ///< the full batch script text; must start with "#!"
    std::string work_dir; ///< absolute; empty = this process's current directory
    std::string std_out;  ///< output file; may contain %j %A %a; empty = slurm-%j.out in work_dir
    std::string std_err;  ///< error file; empty = together with std_out
    /// "KEY=VALUE" entries the job starts with (slurmctld refuses a job without any); empty =
    /// this process's environment, as sbatch does.
    std::vector<std::string> environment;
    std::string partition, account, qos;
    std::string constraint;       ///< node features (--constraint)
    int time_limit_min = 0;       ///< minutes; 0 = the partition's default
    int nodes = 1;                ///< exact node count
    int ntasks_per_node = 1;      ///< tasks = nodes * ntasks_per_node
    int cpus_per_task = 1;        ///< CPUs per task
    int gpus_per_node = 0;        ///< 0 = none (--gpus-per-node)
    std::int64_t memory_mb = 0;   ///< MB per node (--mem); 0 = the cluster's default
    int warn_signal = 0;          ///< signal sent warn_time_s before the time limit; 0 = none
    int warn_time_s = 0;          ///< seconds before the limit (Slurm checks about every 30 s)
    bool warn_batch_only = true;  ///< true: only the batch shell gets it (--signal=B:SIG@T)
    bool requeue = true;          ///< may Slurm requeue it (node failure, preemption)
    bool open_mode_append = true; ///< append to std_out/std_err (keeps an earlier attempt's)
    std::string array;            ///< array indices, e.g. "0-2" or "1,3%2"; empty = no array
    std::string reservation;      ///< --reservation
    std::string nodelist;         ///< nodes the job must use (--nodelist)
    std::string exclude;          ///< nodes the job must not use (--exclude)
    std::string comment;          ///< --comment
    std::string dependency;       ///< e.g. "afterok:123" (--dependency)
    std::string licenses;         ///< --licenses
    std::string mail_type;        ///< comma list: NONE BEGIN END FAIL REQUEUE ALL ...
    std::string mail_user;        ///< --mail-user
    bool exclusive = false;       ///< whole nodes only (--exclusive)
};

/// A job's state as kakuren sees it: Slurm's base state, except that the flags COMPLETING (and
/// STAGE_OUT) read as completing and REQUEUE / REQUEUE_HOLD / SPECIAL_EXIT as requeued.
enum class JobState {
    pending,
    running,
    suspended,
    completing,
    completed,
    cancelled,
    failed,
    timeout,
    node_fail,
    preempted,
    boot_fail,
    deadline,
    out_of_memory,
    requeued,
    unknown
};

/// Lower-case name of a state: "pending", "node_fail", "out_of_memory", ...
std::string_view to_string(JobState state);
/// True for states a job does not leave: completed cancelled failed timeout node_fail boot_fail
/// deadline out_of_memory. Not for preempted or requeued (the job may run again).
bool is_final(JobState state);

/// What Slurm reports about one job (or one array task).
struct JobInfo {
    std::uint32_t job_id = 0;                 ///< 0 for an array task Slurm has not split off yet
    std::uint32_t array_job_id = 0;           ///< the array's job id; 0 when not an array job
    std::uint32_t array_task_id = UINT32_MAX; ///< UINT32_MAX when not an array task
    JobState state = JobState::unknown;
    int exit_code = 0;            ///< the batch script's exit status (0 when killed by a signal)
    int term_signal = 0;          ///< the signal that ended the batch script; 0 = none
    std::string state_reason;     ///< Slurm's reason, e.g. "NonZeroExitCode", "BeginTime"
    std::string nodes;            ///< allocated node list, e.g. "n[1-2]"; empty when pending
    std::string name;             ///< job name
    std::string comment;          ///< the job's comment (--comment)
    int restart_count = 0;        ///< times Slurm requeued it (SLURM_RESTART_COUNT of the run)
    std::int64_t submit_time = 0; ///< Unix seconds
    std::int64_t start_time = 0;  ///< Unix seconds; expected (or 0) while pending
    std::int64_t end_time = 0;    ///< Unix seconds; expected (or 0) while running
};

/// A session with libslurm and the cluster's controller. Process-wide: libslurm keeps one
/// configuration per process, so all live Clients share the configuration the first one read.
/// Use from one thread at a time. Movable, not copyable; the last live Client calls slurm_fini.
class Client {
  public:
    /// Reads the configuration (config_file()) and checks that the controller it names accepts a
    /// TCP connection within timeout_s and answers a ping. Throws SlurmError when there is no
    /// slurm.conf (checked before any libslurm call: libslurm would end the process), when the
    /// controller is not reachable ("Slurm controller vm (10.201.0.254:6917) is not reachable:
    /// connection refused; is slurmctld running? (SLURM_CONF=...)"), or when another Client of
    /// this process uses a different configuration file. A slurm.conf that libslurm cannot parse
    /// still ends the process (libslurm calls fatal()).
    static Client connect(double timeout_s = 3.0);
    /// True when a slurm.conf exists and its controller (SlurmctldHost / SlurmctldPort as read by
    /// a small parser, no libslurm) accepts a TCP connection within timeout_s. For backend=auto.
    /// Never throws, never ends the process.
    static bool available(double timeout_s = 1.0);

    Client(Client&& other) noexcept;
    Client& operator=(Client&& other) noexcept;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client();

    /// The configuration file this session read.
    const std::filesystem::path& config() const { return m_config; }

    /// Submits a batch job; returns its job id (for an array, the array job id). Throws
    /// SlurmError with Slurm's reason when the controller refuses it, and UsageError for a
    /// script without "#!" or an unknown mail_type word.
    std::uint32_t submit(const JobSpec& spec);
    /// The job's current state; nullopt when Slurm no longer knows it (it forgets finished jobs
    /// MinJobAge seconds after they end). For an array job id: the record whose job id it is.
    /// Throws SlurmError when the controller does not answer.
    std::optional<JobInfo> query(std::uint32_t job_id);
    /// Every task of an array (ascending task id), including tasks still pending as one record
    /// in Slurm (those have job_id 0). Empty when Slurm no longer knows the array.
    std::vector<JobInfo> query_array(std::uint32_t array_job_id);
    /// Sends signal to the whole job (all steps and the batch shell); an array job id means every
    /// task. With SIGKILL (the default) this ends the job: Slurm sends SIGTERM, then SIGKILL
    /// after KillWait. A job that has already ended (or that Slurm forgot) is not an error.
    void cancel(std::uint32_t job_id, int signal = 9);
    /// Sends signal (e.g. SIGUSR1) to the running job's batch shell and all its steps; the job
    /// goes on. Throws SlurmError when the job is not running (pending, ended, unknown).
    void signal_job(std::uint32_t job_id, int signal);
    /// Requeues a running (or suspended) job so that it starts again within seconds, not after
    /// the 2-minute delay a plain `scontrol requeue` incurs: it requeues, then moves the begin
    /// time to 2 s ahead (slurmd refuses a relaunch in the second of the kill).
    /// From outside the job it then waits (up to settle_timeout_s, typically 2 s) until the old
    /// run has ended and the begin time has come, and sets it once more, which makes the
    /// scheduler start the job at once. From inside the job itself ($SLURM_JOB_ID == job_id) it
    /// returns at once: the job's processes get SIGTERM within milliseconds of the first request
    /// (the caller must handle or ignore SIGTERM to get the second one out) and should exit
    /// within 2 s; the job then starts at the scheduler's next pass after the begin time (about
    /// 1 s on the test cluster, whose sched_interval is 1; up to sched_interval or the backfill
    /// interval, often 30-60 s, elsewhere). Throws SlurmError when Slurm refuses (the job is
    /// pending, has ended, or was submitted without requeue).
    void requeue(std::uint32_t job_id, double settle_timeout_s = 30.0);
    /// Moves a pending job's begin time to 2 s from now, so that the scheduler starts it then:
    /// for a job Slurm requeued itself (node failure), which waits about 2 minutes otherwise.
    /// (Not now: slurmd refuses a relaunch in the second of the old run's kill, and slurmctld
    /// moves a begin time that is not in the future while the old run completes to 121 s
    /// ahead.) Throws SlurmError when the job is not pending.
    void start_now(std::uint32_t job_id);

  private:
    explicit Client(std::filesystem::path config);
    std::filesystem::path m_config;
    bool m_active = false;
};

/// Expands a Slurm host list ("n[1-3],x" -> {"n1", "n2", "n3", "x"}; "n[01-02]" keeps the
/// zeros) with libslurm's hostlist functions, which need no configuration and no controller.
/// Throws UsageError for a malformed list. "" -> {}.
std::vector<std::string> expand_hostlist(const std::string& hostlist);

} // namespace kakuren::slurm

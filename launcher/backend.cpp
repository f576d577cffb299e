#include "launcher/backend.hpp"

#include "launcher/placement.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "recipes/kinds.hpp"
#include "slurm/client.hpp"
#include "util/error.hpp"
#include "util/system.hpp"

namespace kakuren::launcher {
namespace {

std::vector<std::string> current_environment() {
    std::vector<std::string> env;
    for (const auto& [key, value] : environment()) {
        env.push_back(key);
        env.back().append("=").append(value);
    }
    return env;
}

/// "1234" -> {1234, none}; "1234_2" -> {1234, 2} (task 2 of array 1234).
struct JobRef {
    std::uint32_t id = 0;
    std::optional<std::uint32_t> task;
};
JobRef parse_job_id(const std::string& job_id) {
    const std::size_t underscore = job_id.find('_');
    JobRef ref{static_cast<std::uint32_t>(std::stoul(job_id.substr(0, underscore))), {}};
    if (underscore != std::string::npos) {
        ref.task = static_cast<std::uint32_t>(std::stoul(job_id.substr(underscore + 1)));
    }
    return ref;
}

/// "4G" -> 4096 (MB); the recipe layer validated the form.
std::int64_t memory_mb(const std::string& text) {
    if (text.empty()) {
        return 0;
    }
    const std::size_t digits = text.find_first_not_of("0123456789");
    const std::int64_t n = std::stoll(text.substr(0, digits));
    const char unit = digits == std::string::npos ? 'M' : text[digits];
    switch (unit) {
    case 'K':
        return std::max<std::int64_t>(1, n / 1024);
    case 'G':
        return n * 1024;
    case 'T':
        return n * 1024 * 1024;
    default:
        return n;
    }
}

std::string view_state(slurm::JobState s) {
    using S = slurm::JobState;
    switch (s) {
    case S::pending:
        return "pending";
    case S::running:
    case S::suspended:
    case S::completing:
        return "running";
    case S::completed:
        return "completed";
    case S::cancelled:
        return "cancelled";
    case S::preempted:
    case S::requeued:
        return "requeued";
    default:
        return "failed";
    }
}

// The libslurm job of a request: script, output, environment, resources, warning signal, array.
slurm::JobSpec job_spec(const SubmitRequest& r) {
    const ScriptSpec& s = r.spec;
    slurm::JobSpec job;
    job.name = s.job_name;
    job.script = util::read_file(r.script_file);
    job.work_dir = r.work_dir;
    job.std_out = s.output;
    job.std_err = s.output;
    job.environment = current_environment();
    job.environment.push_back("KAKUREN_WORKSPACE=" + s.workspace);
    job.partition = s.partition;
    job.account = s.account;
    job.qos = s.qos;
    job.constraint = s.constraint;
    job.time_limit_min = s.time_limit_min;
    job.nodes = s.nodes;
    job.ntasks_per_node = s.ntasks_per_node;
    job.cpus_per_task = s.cpus_per_task;
    job.gpus_per_node = s.gpus_per_node;
    job.memory_mb = memory_mb(s.memory);
    if (s.signal_grace_s > 0) {
        job.warn_signal = SIGUSR1;
        job.warn_time_s = s.signal_grace_s;
        job.warn_batch_only = true;
    }
    job.requeue = true;
    job.open_mode_append = true;
    if (s.run_ids.size() > 1) {
        job.array = "0-" + std::to_string(s.run_ids.size() - 1) +
                    (s.array_parallel > 0 ? "%" + std::to_string(s.array_parallel) : "");
    }
    return job;
}

// The recipe's slurm.extra sbatch options, each into its field of job.
void set_sbatch_extra(const ScriptSpec& s, slurm::JobSpec& job) {
    // A switch on the option's id: a new option in recipes/kinds.hpp that is not mapped here
    // is a -Wswitch warning, not a silently dropped option.
    for (const auto& [option, value] : recipes::parse_sbatch_extra(s.extra)) {
        switch (option) {
        case recipes::SbatchOption::exclusive:
            job.exclusive = true;
            break;
        case recipes::SbatchOption::reservation:
            job.reservation = value;
            break;
        case recipes::SbatchOption::nodelist:
            job.nodelist = value;
            break;
        case recipes::SbatchOption::exclude:
            job.exclude = value;
            break;
        case recipes::SbatchOption::comment:
            job.comment = value;
            break;
        case recipes::SbatchOption::licenses:
            job.licenses = value;
            break;
        case recipes::SbatchOption::mail_type:
            job.mail_type = value;
            break;
        case recipes::SbatchOption::mail_user:
            job.mail_user = value;
            break;
        case recipes::SbatchOption::dependency:
            job.dependency = value;
            break;
        }
    }
}

// The ids of a submitted job: "1234" for one run, "1234_0", "1234_1", ... for an array.
std::vector<std::string> job_ids(std::uint32_t id, std::size_t num_runs) {
    std::vector<std::string> ids;
    if (num_runs > 1) {
        for (std::size_t i = 0; i < num_runs; ++i) {
            ids.push_back(std::to_string(id) + "_" + std::to_string(i));
        }
    } else {
        ids.push_back(std::to_string(id));
    }
    return ids;
}

class SlurmBackend final : public Backend {
  public:
    explicit SlurmBackend(slurm::Client client) : m_client(std::move(client)) {}
    std::string name() const override { return "slurm"; }

    std::vector<std::string> submit(const SubmitRequest& r) override {
        const ScriptSpec& s = r.spec;
        slurm::JobSpec job = job_spec(r);
        set_sbatch_extra(s, job);
        // Known again by this, not by the id alone (a wiped controller reuses ids).
        const std::string mark = job_mark(s.run_ids, s.sweep);
        job.comment = job.comment.empty() ? mark : job.comment + " " + mark;
        return job_ids(m_client.submit(job), s.run_ids.size());
    }

    std::optional<JobView> query(const std::string& job_id) override {
        const std::optional<slurm::JobInfo> info = find(job_id);
        if (!info) {
            return std::nullopt;
        }
        JobView v;
        v.state = view_state(info->state);
        v.nodes = info->nodes;
        v.exit_code = info->exit_code;
        v.restarts = info->restart_count;
        v.name = info->name;
        v.mark = mark_in(info->comment);
        if (v.state == "requeued") {
            v.reason = "Slurm requeued job " + job_id + " (restart " +
                       std::to_string(info->restart_count) +
                       ": a node failure or a preemption); it runs again as the same run when "
                       "resources allow";
        } else if (v.state == "failed" || v.state == "cancelled") {
            v.reason = "Slurm job " + job_id + " " + std::string(slurm::to_string(info->state));
            if (!info->state_reason.empty() && info->state_reason != "None") {
                v.reason += " (" + info->state_reason + ")";
            }
            if (info->exit_code != 0) {
                v.reason += ", exit code " + std::to_string(info->exit_code);
            }
            if (info->term_signal != 0) {
                v.reason += ", signal " + std::to_string(info->term_signal);
            }
            if (!info->nodes.empty()) {
                v.reason += " on " + info->nodes;
            }
        }
        return v;
    }

    void cancel(const std::string& job_id) override {
        const JobRef ref = parse_job_id(job_id);
        if (!ref.task) {
            m_client.cancel(ref.id);
            return;
        }
        // An array task that has started is a job of its own in Slurm.
        const std::optional<slurm::JobInfo> task = find(job_id);
        if (task && task->job_id != 0) {
            m_client.cancel(task->job_id);
        } else if (task) {
            throw RuntimeFailure("array task " + job_id +
                                 " has not started yet and cannot be cancelled alone; "
                                 "scancel " +
                                 job_id + " does");
        }
    }

    bool requeue(const std::string& job_id) override {
        m_client.requeue(static_cast<std::uint32_t>(std::stoul(job_id)));
        return true;
    }

    void start_now(const std::string& job_id) override {
        m_client.start_now(parse_job_id(job_id).id);
    }

  private:
    /// What Slurm knows of a job or an array task; nullopt when it forgot it.
    std::optional<slurm::JobInfo> find(const std::string& job_id) {
        const JobRef ref = parse_job_id(job_id);
        if (!ref.task) {
            return m_client.query(ref.id);
        }
        for (const slurm::JobInfo& t : m_client.query_array(ref.id)) {
            if (t.array_task_id == *ref.task) {
                return t;
            }
        }
        return std::nullopt;
    }

    slurm::Client m_client;
};

class LocalBackend final : public Backend {
  public:
    std::string name() const override { return "local"; }

    std::vector<std::string> submit(const SubmitRequest& r) override {
        if (r.spec.run_ids.size() != 1) {
            // A sweep on the local backend: the caller submits one script per run.
            throw UsageError("the local backend runs one run per script");
        }
        std::string output = r.spec.output;
        for (std::size_t at; (at = output.find("%j")) != std::string::npos;) {
            output.replace(at, 2, "local");
        }
        const pid_t pid = fork();
        if (pid < 0) {
            throw RuntimeFailure(std::string("cannot start the local job: fork: ") +
                                 std::strerror(errno));
        }
        if (pid == 0) {
            // The child: its own session (a terminal's Ctrl-C or hang-up does not reach it),
            // output to the log, then the batch script.
            setsid();
            const int in = open("/dev/null", O_RDONLY);
            const int out = open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (in < 0 || out < 0 || chdir(r.work_dir.c_str()) != 0) {
                _exit(127);
            }
            dup2(in, STDIN_FILENO);
            dup2(out, STDOUT_FILENO);
            dup2(out, STDERR_FILENO);
            for (int fd = 3; fd < 1024; ++fd) {
                close(fd);
            }
            setenv("KAKUREN_WORKSPACE", r.spec.workspace.c_str(), 1);
            setenv("KAKUREN_JOB_ID", std::to_string(getpid()).c_str(), 1); // this job's id
            execl("/bin/bash", "bash", r.script_file.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        return {std::to_string(pid)};
    }

    std::optional<JobView> query(const std::string& job_id) override {
        if (!local_job_alive(job_id)) {
            return std::nullopt;
        }
        return JobView{"running", "", util::hostname(), 0};
    }

    void cancel(const std::string& job_id) override {
        const auto pid = static_cast<pid_t>(std::stol(job_id));
        // The job's session: the script and its ranks stop at a checkpoint.
        if (kill(-pid, SIGTERM) != 0 && errno != ESRCH) {
            throw RuntimeFailure("cannot stop local job " + job_id + ": " + std::strerror(errno));
        }
    }

    bool requeue(const std::string&) override { return false; }
    void start_now(const std::string&) override {}
};

} // namespace

bool local_job_alive(const std::string& job_id) {
    try {
        return util::process_alive(std::stoll(job_id), 0);
    } catch (const std::exception&) {
        return false;
    }
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
    if (name == "local") {
        return std::make_unique<LocalBackend>();
    }
    if (name == "auto" && !slurm::Client::available(1.0)) {
        return std::make_unique<LocalBackend>();
    }
    if (name != "slurm" && name != "auto") {
        throw UsageError("unknown backend '" + name + "'; expected auto, slurm or local");
    }
    return std::make_unique<SlurmBackend>(slurm::Client::connect(3.0));
}

} // namespace kakuren::launcher

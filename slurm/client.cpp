#include "slurm/client.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "slurm/config.hpp"

// libslurm 22.05 exports these but its public header does not declare them.
extern "C" {
extern slurm_conf_t slurm_conf; // the configuration slurm_init() read
const char* slurm_job_reason_string(enum job_state_reason inx);
}

extern char** environ;

namespace kakuren::slurm {

namespace {

// libslurm keeps one configuration per process: the first Client calls slurm_init, the last one
// slurm_fini.
std::mutex g_mutex;
int g_clients = 0;
std::filesystem::path g_config;

std::string slurm_error_text(int err) {
    const char* text = slurm_strerror(err);
    return std::string(text ? text : "unknown error") + " (error " + std::to_string(err) + ")";
}

std::string last_error_text() {
    return slurm_error_text(slurm_get_errno());
}

struct JobInfoMsgFree {
    void operator()(job_info_msg_t* msg) const { slurm_free_job_info_msg(msg); }
};
using JobInfoMsgPtr = std::unique_ptr<job_info_msg_t, JobInfoMsgFree>;

struct SubmitResponseFree {
    void operator()(submit_response_msg_t* msg) const {
        slurm_free_submit_response_response_msg(msg);
    }
};
using SubmitResponsePtr = std::unique_ptr<submit_response_msg_t, SubmitResponseFree>;

struct HostlistFree {
    void operator()(hostlist_t hl) const { slurm_hostlist_destroy(hl); }
};
using HostlistPtr = std::unique_ptr<std::remove_pointer_t<hostlist_t>, HostlistFree>;

// libslurm's job_desc_msg_t takes char* it does not modify while packing the request.
char* c_str(const std::string& s) {
    return s.empty() ? nullptr : const_cast<char*>(s.c_str());
}

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
            throw UsageError("unknown Slurm mail type '" + word + "' in '" + text +
                             "'; expected NONE, BEGIN, END, FAIL, REQUEUE, ALL, INVALID_DEPEND, "
                             "STAGE_OUT, TIME_LIMIT, TIME_LIMIT_90/80/50 or ARRAY_TASKS");
        }
        flags |= found->second;
    }
    return flags;
}

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

std::optional<std::filesystem::path> config_file() {
    std::filesystem::path path = "/etc/slurm/slurm.conf";
    if (const char* env = std::getenv("SLURM_CONF"); env && *env) {
        path = env;
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        return std::nullopt;
    }
    return path;
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

Client::Client(std::filesystem::path config) : m_config(std::move(config)), m_active(true) {}

Client::Client(Client&& other) noexcept
    : m_config(std::move(other.m_config)), m_active(std::exchange(other.m_active, false)) {}

Client& Client::operator=(Client&& other) noexcept {
    if (this != &other) {
        Client old(std::move(*this));
        m_config = std::move(other.m_config);
        m_active = std::exchange(other.m_active, false);
    }
    return *this;
}

Client::~Client() {
    if (!m_active) {
        return;
    }
    std::lock_guard lock(g_mutex);
    if (--g_clients == 0) {
        slurm_fini();
        g_config.clear();
    }
}

Client Client::connect(double timeout_s) {
    const auto config = config_file();
    if (!config) {
        const char* env = std::getenv("SLURM_CONF");
        throw SlurmError(std::string("no Slurm configuration: ") +
                         (env && *env ? "SLURM_CONF=" + std::string(env) + " does not exist"
                                      : "SLURM_CONF is not set and /etc/slurm/slurm.conf does "
                                        "not exist") +
                         "; set SLURM_CONF to the cluster's slurm.conf");
    }
    std::lock_guard lock(g_mutex);
    if (g_clients > 0 && g_config != *config) {
        throw SlurmError("this process already uses Slurm configuration " + g_config.string() +
                         "; libslurm cannot use " + config->string() + " at the same time");
    }
    const bool first = g_clients == 0;
    if (first) {
        slurm_init(config->c_str());
    }
    // Undo slurm_init when this first connection fails.
    auto fini_on_error = [&] {
        if (first) {
            slurm_fini();
        }
    };
    ControllerAddress ctl;
    if (slurm_conf.control_cnt > 0 && slurm_conf.control_addr && slurm_conf.control_addr[0]) {
        ctl.host = slurm_conf.control_addr[0];
        ctl.name = slurm_conf.control_machine && slurm_conf.control_machine[0]
                       ? slurm_conf.control_machine[0]
                       : ctl.host;
        ctl.port = static_cast<int>(slurm_conf.slurmctld_port);
    } else {
        fini_on_error();
        throw SlurmError("Slurm configuration " + config->string() +
                         " names no controller (SlurmctldHost); fix the file or SLURM_CONF");
    }
    if (const auto problem = probe_controller(ctl, timeout_s)) {
        fini_on_error();
        throw SlurmError("Slurm controller " + ctl.name + " (" + ctl.host + ":" +
                         std::to_string(ctl.port) + ") is not reachable: " + *problem +
                         "; is slurmctld running? (SLURM_CONF=" + config->string() + ")");
    }
    if (slurm_ping(0) != SLURM_SUCCESS) {
        const std::string error = last_error_text();
        fini_on_error();
        throw SlurmError(
            "Slurm controller " + ctl.name + " (" + ctl.host + ":" + std::to_string(ctl.port) +
            ") accepts connections but does not answer: " + error +
            "; check munge (AuthInfo) and slurmctld's log (SLURM_CONF=" + config->string() + ")");
    }
    ++g_clients;
    g_config = *config;
    return Client(*config);
}

bool Client::available(double timeout_s) {
    try {
        const auto config = config_file();
        if (!config) {
            return false;
        }
        const auto ctl = read_controller_address(*config);
        return ctl && !probe_controller(*ctl, timeout_s);
    } catch (...) {
        return false;
    }
}

std::uint32_t Client::submit(const JobSpec& spec) {
    if (spec.script.rfind("#!", 0) != 0) {
        throw UsageError("the batch script of job '" + spec.name +
                         "' must start with \"#!\" (e.g. #!/bin/bash)");
    }
    std::vector<char*> env;
    if (spec.environment.empty()) {
        for (char** e = environ; e && *e; ++e) {
            env.push_back(*e);
        }
    } else {
        for (const auto& e : spec.environment) {
            env.push_back(const_cast<char*>(e.c_str()));
        }
    }
    std::string work_dir = spec.work_dir;
    if (work_dir.empty()) {
        std::error_code ec;
        work_dir = std::filesystem::current_path(ec).string();
    }
    const std::string gpus =
        spec.gpus_per_node > 0 ? "gres:gpu:" + std::to_string(spec.gpus_per_node) : "";

    job_desc_msg_t desc;
    slurm_init_job_desc_msg(&desc);
    desc.name = c_str(spec.name);
    desc.script = c_str(spec.script);
    desc.work_dir = c_str(work_dir);
    desc.std_out = c_str(spec.std_out);
    desc.std_err = c_str(spec.std_err);
    desc.environment = env.data();
    desc.env_size = static_cast<std::uint32_t>(env.size());
    desc.user_id = getuid();
    desc.group_id = getgid();
    desc.partition = c_str(spec.partition);
    desc.account = c_str(spec.account);
    desc.qos = c_str(spec.qos);
    desc.features = c_str(spec.constraint);
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
    desc.tres_per_node = c_str(gpus);
    if (spec.memory_mb > 0) {
        desc.pn_min_memory = static_cast<std::uint64_t>(spec.memory_mb);
    }
    if (spec.warn_signal > 0) {
        desc.warn_signal = static_cast<std::uint16_t>(spec.warn_signal);
        desc.warn_time = static_cast<std::uint16_t>(std::max(0, spec.warn_time_s));
        desc.warn_flags = spec.warn_batch_only ? KILL_JOB_BATCH : 0;
    }
    desc.requeue = spec.requeue ? 1 : 0;
    desc.open_mode = spec.open_mode_append ? OPEN_MODE_APPEND : OPEN_MODE_TRUNCATE;
    desc.array_inx = c_str(spec.array);
    desc.reservation = c_str(spec.reservation);
    desc.req_nodes = c_str(spec.nodelist);
    desc.exc_nodes = c_str(spec.exclude);
    desc.comment = c_str(spec.comment);
    desc.dependency = c_str(spec.dependency);
    desc.licenses = c_str(spec.licenses);
    if (!spec.mail_type.empty()) {
        desc.mail_type = parse_mail_type(spec.mail_type);
    }
    desc.mail_user = c_str(spec.mail_user);
    if (spec.exclusive) {
        desc.shared = JOB_SHARED_NONE;
    }

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

std::vector<std::string> expand_hostlist(const std::string& hostlist) {
    std::vector<std::string> hosts;
    if (hostlist.empty()) {
        return hosts;
    }
    HostlistPtr hl(slurm_hostlist_create(hostlist.c_str()));
    if (!hl) {
        throw UsageError("malformed Slurm host list '" + hostlist +
                         "'; expected names and ranges such as n[1-3],x");
    }
    while (char* host = slurm_hostlist_shift(hl.get())) {
        hosts.emplace_back(host);
        std::free(host);
    }
    return hosts;
}

} // namespace kakuren::slurm

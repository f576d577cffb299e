// The session with libslurm: where its configuration is, connecting (one slurm_init per
// process, shared by every live Client) and libslurm's error texts. Submitting is in submit.cpp,
// queries in job_query.cpp, cancel / signal / requeue in job_control.cpp, host lists in
// hostlist.cpp.
#include "slurm/client.hpp"

#include <cstdlib>
#include <mutex>
#include <utility>

#include "slurm/config.hpp"
#include "slurm/libslurm.hpp"

namespace kakuren::slurm {

namespace {

// libslurm keeps one configuration per process: the first Client calls slurm_init, the last one
// slurm_fini.
std::mutex g_mutex;
int g_clients = 0;
std::filesystem::path g_config;

} // namespace

std::string slurm_error_text(int err) {
    const char* text = slurm_strerror(err);
    return std::string(text ? text : "unknown error") + " (error " + std::to_string(err) + ")";
}

std::string last_error_text() {
    return slurm_error_text(slurm_get_errno());
}

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

} // namespace kakuren::slurm

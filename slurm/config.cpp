#include "slurm/config.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include "util/fd.hpp"
#include "util/strings.hpp"

namespace kakuren::slurm {

namespace {

using util::Fd;
using util::lower;
using util::trim;

struct AddrInfoFree {
    void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};

std::string error_words(int err) {
    std::string text = std::strerror(err);
    if (!text.empty()) {
        text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    }
    return text;
}

// One non-blocking connect; nullopt on success.
std::optional<std::string> try_connect(const addrinfo& ai, int timeout_ms) {
    Fd sock(::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol));
    if (sock.get() < 0) {
        return "cannot create a socket: " + error_words(errno);
    }
    if (::connect(sock.get(), ai.ai_addr, ai.ai_addrlen) == 0) {
        return std::nullopt;
    }
    if (errno != EINPROGRESS) {
        return error_words(errno);
    }
    pollfd pfd{sock.get(), POLLOUT, 0};
    int ready = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        ready = ::poll(&pfd, 1, static_cast<int>(std::max<long long>(0, left)));
        if (ready >= 0 || errno != EINTR) {
            break;
        }
    }
    if (ready == 0) {
        std::array<char, 64> text{};
        std::snprintf(text.data(), text.size(), "no answer within %.1f s", timeout_ms / 1000.0);
        return std::string(text.data());
    }
    if (ready < 0) {
        return "poll failed: " + error_words(errno);
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        return error_words(errno);
    }
    if (err != 0) {
        return error_words(err);
    }
    return std::nullopt;
}

} // namespace

std::optional<ControllerAddress> read_controller_address(const std::filesystem::path& conf) {
    std::ifstream in(conf);
    if (!in) {
        return std::nullopt;
    }
    std::optional<ControllerAddress> ctl;
    std::string control_machine, control_addr;
    int port = 6817;
    std::string line;
    while (std::getline(in, line)) {
        if (const auto hash = line.find('#'); hash != std::string::npos) {
            line.resize(hash);
        }
        const auto eq = line.find('=');
        if (eq == std::string::npos) {
            continue;
        }
        const std::string key = lower(trim(line.substr(0, eq)));
        std::string value = trim(line.substr(eq + 1));
        if (const auto space = value.find_first_of(" \t"); space != std::string::npos) {
            value.resize(space);
        }
        if (key == "slurmctldhost" && !ctl && !value.empty()) {
            ControllerAddress found;
            const auto open = value.find('(');
            found.name = value.substr(0, open);
            found.host = found.name;
            if (open != std::string::npos) {
                const auto close = value.find(')', open);
                found.host = value.substr(open + 1, close == std::string::npos ? std::string::npos
                                                                               : close - open - 1);
            }
            ctl = found;
        } else if (key == "controlmachine") {
            control_machine = value;
        } else if (key == "controladdr") {
            control_addr = value;
        } else if (key == "slurmctldport") {
            try {
                port = std::stoi(value); // "6817-6820" -> 6817
            } catch (const std::exception&) {
                return std::nullopt;
            }
        }
    }
    if (!ctl && !control_machine.empty()) {
        ctl = ControllerAddress{control_machine,
                                control_addr.empty() ? control_machine : control_addr, 6817};
    }
    if (ctl) {
        ctl->port = port;
    }
    return ctl;
}

std::optional<std::string> probe_controller(const ControllerAddress& ctl, double timeout_s) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* raw = nullptr;
    const std::string port = std::to_string(ctl.port);
    if (const int rc = ::getaddrinfo(ctl.host.c_str(), port.c_str(), &hints, &raw); rc != 0) {
        return "cannot resolve host name '" + ctl.host + "': " + gai_strerror(rc);
    }
    const std::unique_ptr<addrinfo, AddrInfoFree> list(raw);
    const int timeout_ms = static_cast<int>(std::max(0.0, timeout_s) * 1000.0);
    std::optional<std::string> problem = "no address for '" + ctl.host + "'";
    for (const addrinfo* ai = list.get(); ai; ai = ai->ai_next) {
        problem = try_connect(*ai, timeout_ms);
        if (!problem) {
            break;
        }
    }
    return problem;
}

} // namespace kakuren::slurm

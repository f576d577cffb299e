#include "support/ports.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

namespace kakuren::testing {

namespace {

constexpr int k_first_leased = 10000;
constexpr int k_leased_ports = 10000;
constexpr const char* k_lock_dir = "/tmp/kakuren-test-ports";

sockaddr_in address_of(const std::string& address, int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1) {
        throw std::runtime_error("not an IPv4 address: " + address);
    }
    return a;
}

/// True when a listening socket could bind 127.0.0.1:port now (as servers do: SO_REUSEADDR).
bool bindable(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in a = address_of("127.0.0.1", port);
    const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

} // namespace

ClosedPort::ClosedPort(const std::string& address) {
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = address_of(address, 0);
    socklen_t length = sizeof a;
    if (m_fd < 0 || ::bind(m_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&a), &length) != 0) {
        const std::string why = std::strerror(errno);
        if (m_fd >= 0) {
            ::close(m_fd);
        }
        throw std::runtime_error("cannot bind a port on " + address + ": " + why);
    }
    m_port = ntohs(a.sin_port);
}

ClosedPort::~ClosedPort() {
    ::close(m_fd);
}

PortLease::PortLease() {
    ::mkdir(k_lock_dir, 0777);
    ::chmod(k_lock_dir, 0777); // shared by every user's tests
    std::random_device entropy;
    const int start = static_cast<int>(entropy() % k_leased_ports);
    for (int i = 0; i < k_leased_ports; ++i) {
        const int port = k_first_leased + (start + i) % k_leased_ports;
        const std::string lock = std::string(k_lock_dir) + "/" + std::to_string(port) + ".lock";
        const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) {
            continue;
        }
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && bindable(port)) {
            m_lock_fd = fd;
            m_port = port;
            return;
        }
        ::close(fd);
    }
    throw std::runtime_error("no free TCP port in 10000-19999 to lease");
}

PortLease::~PortLease() {
    ::close(m_lock_fd);
}

} // namespace kakuren::testing

#pragma once
// TCP ports for tests, without the "bind port 0, close, hope nobody takes it" race.
#include <string>

namespace kakuren::testing {

/// A port that this object holds bound (not listening) on an address of this machine:
/// connecting to it is refused, and nothing else can take it while the object lives. For
/// "nothing answers there" tests. Throws std::runtime_error when it cannot bind.
class ClosedPort {
  public:
    explicit ClosedPort(const std::string& address = "127.0.0.1");
    ~ClosedPort();
    ClosedPort(const ClosedPort&) = delete;
    ClosedPort& operator=(const ClosedPort&) = delete;

    [[nodiscard]] int port() const { return m_port; }

  private:
    int m_fd = -1;
    int m_port = 0;
};

/// A port for a server that must bind it itself (c10d's TCPStore takes a number, not a
/// socket). Leased from 10000-19999: below the kernel's ephemeral range (so no bind to port 0
/// anywhere is handed it) and below the ports kakuren derives from Slurm job ids; held under
/// an exclusive lock file (/tmp/kakuren-test-ports/<port>.lock) so that no other test process
/// leases it while this object lives; checked bindable on 127.0.0.1 when leased. Throws
/// std::runtime_error when no port is free.
class PortLease {
  public:
    PortLease();
    ~PortLease();
    PortLease(const PortLease&) = delete;
    PortLease& operator=(const PortLease&) = delete;

    [[nodiscard]] int port() const { return m_port; }

  private:
    int m_lock_fd = -1;
    int m_port = 0;
};

} // namespace kakuren::testing

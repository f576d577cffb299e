#pragma once
// The one owner of a raw file descriptor (docs/development.md "Declared once").
#include <utility>

namespace kakuren::util {

/// Owns a file descriptor (-1: none); closes it when destroyed.
class Fd {
  public:
    explicit Fd(int fd = -1) : m_fd(fd) {}
    Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
    Fd& operator=(Fd&& other) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();
    [[nodiscard]] int get() const { return m_fd; }
    /// Closes now and reports close()'s error (write-back errors can surface here).
    int close();

  private:
    int m_fd;
};

} // namespace kakuren::util

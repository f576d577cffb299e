#include "util/fd.hpp"

#include <unistd.h>

namespace kakuren::util {

Fd::~Fd() {
    if (m_fd >= 0)
        ::close(m_fd);
}

Fd& Fd::operator=(Fd&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
}

int Fd::close() {
    const int rc = ::close(m_fd);
    m_fd = -1;
    return rc;
}

} // namespace kakuren::util

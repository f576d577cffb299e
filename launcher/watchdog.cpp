#include "launcher/watchdog.hpp"

#include <chrono>

namespace kakuren::launcher {

StopWatchdog::StopWatchdog(const std::atomic<bool>& stop, double grace_s,
                           std::function<void()> on_expiry)
    : m_stop(stop), m_grace_s(grace_s), m_on_expiry(std::move(on_expiry)),
      m_thread([this] { loop(); }) {}

StopWatchdog::~StopWatchdog() {
    acknowledge();
    m_thread.join();
}

void StopWatchdog::acknowledge() {
    {
        const std::lock_guard lock(m_mutex);
        m_done = true;
    }
    m_wake.notify_all();
}

void StopWatchdog::hold(bool held) {
    {
        const std::lock_guard lock(m_mutex);
        m_held = held;
    }
    m_wake.notify_all();
}

void StopWatchdog::loop() {
    using Clock = std::chrono::steady_clock;
    constexpr auto k_poll = std::chrono::milliseconds(50);
    std::unique_lock lock(m_mutex);
    while (!m_done && !m_stop.load()) {
        m_wake.wait_for(lock, k_poll);
    }
    const auto grace =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(m_grace_s));
    auto deadline = Clock::now() + grace;
    while (!m_done) {
        if (m_held) {
            m_wake.wait(lock, [this] { return m_done || !m_held; });
            deadline = Clock::now() + grace;
            continue;
        }
        if (m_wake.wait_until(lock, deadline) == std::cv_status::timeout && !m_done && !m_held) {
            lock.unlock();
            m_on_expiry(); // ends the process
            return;
        }
    }
}

} // namespace kakuren::launcher

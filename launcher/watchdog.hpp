#pragma once
// The stop watchdog: a stop request is honoured at the next step boundary, but a step that never
// ends (a TorchScript forward that loops forever, a read that never returns) would keep the
// process alive however many signals it gets. After a stop request the watchdog gives the step a
// grace period (run.stop_grace_s); if the loop has not acknowledged the stop by then, it calls
// the expiry action on its own thread, which records the end and exits the process.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace kakuren::launcher {

class StopWatchdog {
  public:
    /// Watches `stop` (polled every 50 ms: a signal handler cannot wake a thread otherwise).
    /// `on_expiry` runs on the watchdog's thread grace_s seconds after the flag was first seen
    /// set, unless acknowledge() or the destructor came first; it must end the process
    /// (`_exit`), since the thread that is stuck cannot be unwound.
    StopWatchdog(const std::atomic<bool>& stop, double grace_s, std::function<void()> on_expiry);
    StopWatchdog(const StopWatchdog&) = delete;
    StopWatchdog& operator=(const StopWatchdog&) = delete;
    /// Stops watching (joins the thread).
    ~StopWatchdog();

    /// The loop reached a step boundary and is stopping (a checkpoint may follow, which takes
    /// as long as it takes): the watchdog stands down.
    void acknowledge();

    /// held = true while a checkpoint is written at a step boundary (a stop check follows it):
    /// the grace does not run out meanwhile; it starts anew when released.
    void hold(bool held);

  private:
    void loop();

    const std::atomic<bool>& m_stop;
    double m_grace_s;
    std::function<void()> m_on_expiry;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_done = false;
    bool m_held = false;
    std::thread m_thread;
};

} // namespace kakuren::launcher

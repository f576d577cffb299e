#include "launcher/signals.hpp"

#include <csignal>

namespace kakuren::launcher {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "signal handlers need lock-free atomics");

extern "C" void on_stop_signal(int sig) {
    // Async-signal-safe: only lock-free atomics and sigaction-free calls.
    if (g_stop.load() && sig == SIGINT) {
        std::signal(SIGINT, SIG_DFL); // the user insists: let the next Ctrl-C kill us
    }
    g_signal.store(sig);
    g_stop.store(true);
}

} // namespace

void install_stop_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (int sig : {SIGINT, SIGTERM, SIGUSR1}) {
        sigaction(sig, &action, nullptr);
    }
}

const std::atomic<bool>& stop_flag() { return g_stop; }

int stop_signal() { return g_signal.load(); }

} // namespace kakuren::launcher

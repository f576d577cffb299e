#include "launcher/signals.hpp"

#include <unistd.h>

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

constexpr char k_sigbus_message[] =
    "\nkakuren: error: SIGBUS: a memory-mapped file could not be accessed (most likely the "
    "database's shared-memory file kakuren.db-shm: was it made immutable with chattr +i, "
    "truncated, or is its disk full?). The process stops here; nothing half-written is kept: "
    "make the workspace's files writable again, then `kakuren resume RUN` continues the run "
    "from its newest checkpoint\n";

extern "C" void on_sigbus(int) {
    // Async-signal-safe: write(2) and _exit(2) only.
    const ssize_t ignored = ::write(STDERR_FILENO, k_sigbus_message, sizeof k_sigbus_message - 1);
    (void)ignored;
    ::_exit(1);
}

extern "C" void on_sigpipe(int) {
    // Nothing: the write that raised it fails with EPIPE. A handler rather than SIG_IGN because
    // an ignored SIGPIPE would be inherited by the programs kakuren starts (batch scripts, ranks),
    // while a handler is reset to the default by exec.
}

} // namespace

void install_process_signals() {
    struct sigaction action {};
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    action.sa_handler = on_sigpipe;
    sigaction(SIGPIPE, &action, nullptr);
    action.sa_flags = 0;
    action.sa_handler = on_sigbus;
    sigaction(SIGBUS, &action, nullptr);
}

void install_stop_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGHUP}) {
        sigaction(sig, &action, nullptr);
    }
}

const std::atomic<bool>& stop_flag() {
    return g_stop;
}

int stop_signal() {
    return g_signal.load();
}

void request_pause() {
    g_stop.store(true);
}

void clear_pause() {
    g_stop.store(false);
    if (g_signal.load() != 0) {
        g_stop.store(true); // a signal came meanwhile: it still stops
    }
}

} // namespace kakuren::launcher

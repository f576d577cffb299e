#pragma once
// Signals -> one atomic flag. The handler only sets the flag; the training loop checks it at a
// step boundary and stops cleanly.
#include <atomic>

namespace kakuren::launcher {

/// Installs handlers for SIGINT, SIGTERM and SIGUSR1 that set stop_flag() and remember the
/// signal. A second SIGINT restores the default action (so a stuck process can still be killed).
void install_stop_handlers();

/// The flag the handlers set; pass it to the trainer.
const std::atomic<bool>& stop_flag();

/// The signal that set the flag (0 if none).
int stop_signal();

} // namespace kakuren::launcher

#pragma once
// Signals -> one atomic flag. The handler only sets the flag; the training loop checks it at a
// step boundary and stops cleanly.
#include <atomic>

namespace kakuren::launcher {

/// Installs handlers for SIGINT, SIGTERM, SIGUSR1 and SIGHUP (a closed terminal) that set
/// stop_flag() and remember the signal. A second SIGINT restores the default action (so a stuck
/// process can still be killed).
void install_stop_handlers();

/// For the whole process (main calls it first): SIGPIPE is caught and does nothing (programs
/// kakuren starts get the default again at exec), so a closed stdout
/// (`kakuren run ... | head -1`) only stops the printing (writes fail with EPIPE) instead of
/// killing a run; SIGBUS (a memory-mapped file that cannot be accessed, e.g. the database's
/// -shm file made immutable or on a full disk) prints what happened and exits with code 1
/// instead of dying silently; the run stays resumable.
void install_process_signals();

/// The flag the handlers set; pass it to the trainer.
const std::atomic<bool>& stop_flag();

/// The signal that set the flag (0 if none).
int stop_signal();

/// Sets the flag without a signal (stop_signal() stays 0): the run pauses at the next step
/// boundary with a checkpoint, as on a signal (kakuren tune pauses a trial between rounds).
void request_pause();

/// Clears a pause's flag; a flag a signal set stays set.
void clear_pause();

} // namespace kakuren::launcher

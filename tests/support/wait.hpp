#pragma once
// Waiting on an event instead of sleeping a guessed time.
#include <sys/types.h>

#include <functional>

namespace kakuren::testing {

/// Checks condition until it holds (true) or timeout_s passed (false; one last check is made
/// at the deadline). The timeout is a deadline against hangs, never an assertion on speed:
/// pick it generously (tens of seconds).
bool wait_until(const std::function<bool()>& condition, double timeout_s = 60);

/// The number of the system call that a process or thread of this machine is blocked in
/// (/proc/<id>/syscall; e.g. SYS_wait4 for a shell in `wait`, SYS_clock_nanosleep for a sleep),
/// or -1 while it runs or cannot be read. For waiting until another party is really waiting.
long blocked_syscall(pid_t id);

} // namespace kakuren::testing

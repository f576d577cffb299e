#pragma once
// A seam for tests that interrupt checkpoint writes on purpose. The kakuren binary never sets a
// hook, so nothing (no environment variable, no option) can make it stop itself there; a test
// build links tests/support/checkpoint_fault.cpp, which sets one.

namespace kakuren::checkpoint {

/// The points of Manager::save, in order: write (first file written), synced (all files
/// fsynced, before the rename), renamed (before the commit), committed (before retention),
/// retention (rows deleted, folders not yet).
enum class FaultPoint { write, synced, renamed, committed, retention };

/// "write", "synced", "renamed", "committed", "retention".
const char* to_string(FaultPoint point);

/// Called at each point of each save with the save's 1-based number among the saves of this
/// process's Manager. A plain function pointer: it may kill the process, and must not throw.
using FaultHook = void (*)(FaultPoint point, int save_number);

/// Sets the hook of this process (nullptr: none, the default). Thread-safe.
void set_fault_hook(FaultHook hook);

/// Calls the hook, if one is set (Manager::save at each point).
void fault_point(FaultPoint point, int save_number);

} // namespace kakuren::checkpoint

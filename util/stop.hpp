#pragma once
// A stop request, seen from long work below the training loop (reading a list of thousands of
// files, the normalisation pass, class counting): the loop that drives it hands the process's
// stop flag to a StopScope, and the work calls throw_if_stop_requested() between items. The
// flag is the one the signal handlers set (launcher/signals.hpp); util only reads it.
#include <atomic>
#include <string_view>

#include "util/error.hpp"

namespace kakuren::util {

/// Thrown by throw_if_stop_requested(); the training loop turns it into an interrupted run.
class StopRequested : public RuntimeFailure {
  public:
    StopRequested() : RuntimeFailure("stopped by a signal before the work ended") {}
};

/// Makes `flag` (may be null: none) the stop flag of this thread's long work for the scope's
/// life; the previous one is restored after. Not copyable.
class StopScope {
  public:
    explicit StopScope(const std::atomic<bool>* flag);
    ~StopScope();
    StopScope(const StopScope&) = delete;
    StopScope& operator=(const StopScope&) = delete;

  private:
    const std::atomic<bool>* m_previous;
};

/// Whether the current StopScope's flag is set (false without a scope).
bool stop_requested();

/// Whether this thread's work is inside a StopScope with a flag (a stop request can reach it).
bool watching_for_stop();

/// Throws StopRequested when stop_requested().
void throw_if_stop_requested();

/// A named point in a phase of a run ("open", "normalise", "train", "refresh", "eval",
/// "checkpoint"). Does nothing unless a test build set a hook (set_pause_hook): the kakuren
/// binary has no switch that reaches it. Tests use it to send a signal while the real code is
/// inside that phase.
void pause_point(std::string_view name);

/// A hook for pause_point (nullptr: none, the default). It may block; it must not throw.
using PauseHook = void (*)(std::string_view name);
void set_pause_hook(PauseHook hook);

} // namespace kakuren::util

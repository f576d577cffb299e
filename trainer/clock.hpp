#pragma once
// The monotonic clock the training loop times its phases, progress and checkpoints with.
#include <chrono>

namespace kakuren::trainer {

using Clock = std::chrono::steady_clock;

/// Seconds from `from` to `to`.
inline double seconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

} // namespace kakuren::trainer

#pragma once
// KAKUREN_ASSERT: a check of a programmer's promise (a caller's precondition, an invariant), never
// of user input — user input is checked where it enters and reported as a kakuren::Error.
// Unlike assert() it stays on in release builds: the checks it guards are cheap, and a broken
// promise that runs on silently corrupts a run. Header-only, so the pure layers (hiding/) use it
// without linking anything.
#include <cstdio>
#include <cstdlib>

namespace kakuren::util::detail {

/// Prints "kakuren: internal error: file:line: message (condition failed: expr)" to stderr and
/// aborts. Never returns.
[[noreturn]] inline void assert_failed(const char* expr, const char* message, const char* file,
                                       int line) {
    std::fprintf(stderr, "kakuren: internal error: %s:%d: %s (condition failed: %s)\n", file, line,
                 message, expr);
    std::fflush(stderr);
    std::abort();
}

} // namespace kakuren::util::detail

/// Aborts with a message naming the broken promise when cond is false (in every build type).
#define KAKUREN_ASSERT(cond, message)                                                              \
    ((cond) ? static_cast<void>(0)                                                                 \
            : ::kakuren::util::detail::assert_failed(#cond, message, __FILE__, __LINE__))

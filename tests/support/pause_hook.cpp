// Test builds only (tests/checkpoint/CMakeLists.txt links this into the test copy of kakuren and
// of its training module): KAKUREN_TEST_PAUSE_AT="<point>:<n>" makes the n-th call of
// util::pause_point(<point>) in the process (1-based) inside a run (a util::StopScope) write
// "kakuren-test: paused at <point>" to stderr and wait there until the stop flag is set (a signal
// arrived), at most 120 s; then the real code goes on and must honour the stop itself. Read once,
// when the program or module is loaded; unset or malformed: no hook.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "util/stop.hpp"

namespace {

std::string g_point;
int g_wanted = 0;
int g_calls = 0;

void pause(std::string_view name) {
    // Only inside a run (its stop flag in scope): not the data check before a run is recorded.
    if (!kakuren::util::watching_for_stop() || name != g_point || ++g_calls != g_wanted) {
        return;
    }
    const std::string line = "kakuren-test: paused at " + g_point + "\n";
    const ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!kakuren::util::stop_requested() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

const bool g_installed = [] {
    const char* env = std::getenv("KAKUREN_TEST_PAUSE_AT");
    const std::string text = env == nullptr ? "" : env;
    const std::size_t colon = text.find(':');
    if (colon == std::string::npos) {
        return false;
    }
    g_point = text.substr(0, colon);
    g_wanted = std::atoi(text.c_str() + colon + 1);
    if (g_wanted < 1) {
        return false;
    }
    kakuren::util::set_pause_hook(&pause);
    return true;
}();

} // namespace

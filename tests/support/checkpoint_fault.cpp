// Test builds only (tests/checkpoint/CMakeLists.txt links this into a copy of kakuren and of
// its training module): KAKUREN_TEST_CHECKPOINT_FAULT="<action>:<point>:<n>" makes the n-th
// checkpoint save of the process (1-based) act at a point of checkpoint/fault_hook.hpp: action
// kill (SIGKILL itself) or term (raise SIGTERM, as `kill -TERM` would). Read once, when the
// program or module is loaded; unset or malformed: no hook.
#include <csignal>
#include <cstdlib>
#include <string>

#include "checkpoint/fault_hook.hpp"

namespace {

using kakuren::checkpoint::FaultPoint;

struct Fault {
    int signal = 0;
    std::string point;
    int save = 0;
};

Fault g_fault;

void act(FaultPoint point, int save_number) {
    if (save_number == g_fault.save && g_fault.point == kakuren::checkpoint::to_string(point)) {
        std::raise(g_fault.signal);
    }
}

const bool g_installed = [] {
    const char* env = std::getenv("KAKUREN_TEST_CHECKPOINT_FAULT");
    const std::string text = env == nullptr ? "" : env;
    const std::size_t a = text.find(':');
    const std::size_t b = a == std::string::npos ? a : text.find(':', a + 1);
    if (b == std::string::npos) {
        return false;
    }
    const std::string action = text.substr(0, a);
    g_fault.signal = action == "kill" ? SIGKILL : action == "term" ? SIGTERM : 0;
    g_fault.point = text.substr(a + 1, b - a - 1);
    g_fault.save = std::atoi(text.c_str() + b + 1);
    if (g_fault.signal == 0) {
        return false;
    }
    kakuren::checkpoint::set_fault_hook(&act);
    return true;
}();

} // namespace

#include "support/wait.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

namespace kakuren::testing {

bool wait_until(const std::function<bool()>& condition, double timeout_s) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(timeout_s));
    auto pause = std::chrono::microseconds(200);
    while (Clock::now() < deadline) {
        if (condition()) {
            return true;
        }
        std::this_thread::sleep_for(pause); // polling interval, not synchronisation
        pause = std::min(pause * 2, std::chrono::microseconds(20'000));
    }
    return condition();
}

long blocked_syscall(pid_t id) {
    std::ifstream in("/proc/" + std::to_string(id) + "/syscall");
    std::string first;
    in >> first;
    if (first.empty() || first == "running" ||
        first.find_first_not_of("0123456789") != std::string::npos) {
        return -1;
    }
    return std::stol(first);
}

} // namespace kakuren::testing

#include "cli/text.hpp"

#include <cmath>
#include <cstdio>

namespace kakuren::cli {

std::string duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) {
        return "?";
    }
    const auto total = static_cast<long long>(std::llround(seconds));
    char buf[32];
    if (total >= 3600) {
        std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", total / 3600, (total / 60) % 60,
                      total % 60);
    } else {
        std::snprintf(buf, sizeof buf, "%lld:%02lld", total / 60, total % 60);
    }
    return buf;
}

} // namespace kakuren::cli

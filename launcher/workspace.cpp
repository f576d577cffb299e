#include "launcher/workspace.hpp"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <random>

namespace kakuren::launcher {

Workspace resolve_workspace(const std::string& flag_value) {
    std::filesystem::path root;
    if (!flag_value.empty()) {
        root = flag_value;
    } else if (const char* env = std::getenv("KAKUREN_WORKSPACE"); env != nullptr && *env != '\0') {
        root = env;
    } else {
        root = std::filesystem::current_path();
    }
    root = std::filesystem::absolute(root).lexically_normal();
    if (root.has_filename() == false && root.has_parent_path()) {
        root = root.parent_path(); // drop a trailing '/'
    }
    return Workspace{root, root / "kakuren.db", root / "runs"};
}

std::string new_run_id(const std::string& name) {
    std::string clean;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '_' || c == '-' || c == '.';
        clean.push_back(ok ? c : '_');
    }
    if (clean.empty() || clean.front() == '.' || clean.front() == '-') {
        clean.insert(clean.begin(), 'r');
    }
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    // The suffix separates runs started in the same second; it needs no reproducibility.
    std::random_device device;
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(device() & 0xffffU));
    return clean + "-" + stamp + "-" + suffix;
}

} // namespace kakuren::launcher

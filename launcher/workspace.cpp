#include "launcher/workspace.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>

#include "util/error.hpp"

namespace kakuren::launcher {

namespace {

bool blank(const std::string& s) {
    return s.find_first_not_of(" \t\n\r\f\v") == std::string::npos;
}

} // namespace

Workspace resolve_workspace(const std::string& flag_value) {
    std::filesystem::path root;
    Workspace::Source source = Workspace::Source::cwd;
    if (!flag_value.empty()) {
        if (blank(flag_value)) {
            throw UsageError("--workspace '" + flag_value +
                             "' is blank; give a folder name (or leave it out)");
        }
        root = flag_value;
        source = Workspace::Source::flag;
    } else if (const char* env = std::getenv("KAKUREN_WORKSPACE"); env != nullptr) {
        // Empty too: KAKUREN_WORKSPACE= set by mistake would silently mean the current folder.
        if (blank(env)) {
            throw UsageError(std::string("KAKUREN_WORKSPACE='") + env + "' is " +
                             (*env == '\0' ? "empty" : "blank") +
                             "; set it to a folder or unset it");
        }
        root = env;
        source = Workspace::Source::env;
    } else {
        root = std::filesystem::current_path();
    }
    root = std::filesystem::absolute(root).lexically_normal();
    if (root.has_filename() == false && root.has_parent_path()) {
        root = root.parent_path(); // drop a trailing '/'
    }
    return Workspace{root, root / "kakuren.db", root / "runs", source};
}

void ensure_workspace(const Workspace& ws) {
    std::error_code ec;
    const auto status = std::filesystem::status(ws.root, ec);
    if (std::filesystem::is_directory(status)) {
        return;
    }
    if (std::filesystem::exists(status)) {
        throw UsageError("workspace " + ws.root.string() + " is not a folder");
    }
    if (ws.source != Workspace::Source::flag) {
        throw UsageError("workspace " + ws.root.string() +
                         (ws.source == Workspace::Source::env ? " (from $KAKUREN_WORKSPACE)" : "") +
                         " does not exist: create it (mkdir -p), or name it with --workspace "
                         "to have kakuren create it");
    }
    std::filesystem::create_directories(ws.root, ec);
    if (ec) {
        throw RuntimeFailure("cannot create workspace " + ws.root.string() + ": " + ec.message());
    }
    std::cerr << "kakuren: created workspace " << ws.root.string() << " (named by --workspace)"
              << std::endl;
}

namespace {

/// Whether a line of the list names a workspace whose database can be looked for:
/// remember_workspace writes absolute paths only, and a line that cannot be looked up (too long, a
/// NUL byte, a file or an unreadable folder on the way) is garbage that must not stop a command
/// that looks for a run in the other workspaces.
bool usable_entry(const std::string& line) {
    if (line.front() != '/' || line.find('\0') != std::string::npos) {
        return false;
    }
    std::error_code ec;
    (void)std::filesystem::status(std::filesystem::path(line) / "kakuren.db", ec);
    return !ec || ec == std::errc::no_such_file_or_directory;
}

std::filesystem::path workspace_list() {
    std::filesystem::path state;
    if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && *xdg != '\0') {
        state = xdg;
    } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
        state = std::filesystem::path(home) / ".local" / "state";
    } else {
        return {};
    }
    return state / "kakuren" / "workspaces";
}

} // namespace

void remember_workspace(const Workspace& ws) {
    const std::filesystem::path list = workspace_list();
    if (list.empty()) {
        return;
    }
    for (const Workspace& known : remembered_workspaces()) {
        if (known.root == ws.root) {
            return;
        }
    }
    std::error_code ec;
    std::filesystem::create_directories(list.parent_path(), ec);
    std::ofstream out(list, std::ios::app); // one short line: appends do not interleave
    out << ws.root.string() << "\n";
}

std::vector<Workspace> remembered_workspaces() {
    std::vector<Workspace> out;
    const std::filesystem::path list = workspace_list();
    if (list.empty()) {
        return out;
    }
    std::ifstream in(list);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        if (!blank(line)) {
            lines.push_back(line);
        }
    }
    std::reverse(lines.begin(), lines.end());
    for (const std::string& line : lines) {
        if (!usable_entry(line)) {
            continue;
        }
        const Workspace ws = resolve_workspace(line);
        if (std::none_of(out.begin(), out.end(),
                         [&](const Workspace& w) { return w.root == ws.root; })) {
            out.push_back(ws);
        }
    }
    return out;
}

std::string new_run_id(const std::string& name) {
    std::string clean;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
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

#include "db/run_paths.hpp"

#include <system_error>

namespace kakuren::db {
namespace fs = std::filesystem;
namespace {

fs::path workspace_of(const fs::path& db_file) {
    std::error_code ec;
    const fs::path absolute = fs::absolute(db_file, ec);
    return (ec ? db_file : absolute).lexically_normal().parent_path();
}

} // namespace

std::string stored_run_dir(const fs::path& db_file, const std::string& run_dir) {
    const fs::path dir = fs::path(run_dir).lexically_normal();
    if (run_dir.empty() || dir.is_relative()) {
        return run_dir;
    }
    const fs::path relative = dir.lexically_relative(workspace_of(db_file));
    if (relative.empty() || relative == "." || *relative.begin() == "..") {
        return run_dir; // outside the workspace: only an absolute path names it
    }
    return relative.string();
}

std::string resolved_run_dir(const fs::path& db_file, const std::string& stored,
                             const std::string& run_id) {
    if (stored.empty()) {
        return stored;
    }
    const fs::path root = workspace_of(db_file);
    if (fs::path(stored).is_relative()) {
        return (root / stored).lexically_normal().string();
    }
    std::error_code ec;
    if (fs::exists(stored, ec) || run_id.empty()) {
        return stored;
    }
    const fs::path here = root / "runs" / run_id;
    return fs::is_directory(here, ec) ? here.string() : stored;
}

} // namespace kakuren::db

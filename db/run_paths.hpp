#pragma once
// How runs.run_dir is stored: relative to the workspace (the folder holding the database), so a
// workspace copied or moved elsewhere still finds its runs' records (issue 23 #16). Rows of
// earlier kakuren versions hold absolute paths; they are still read.
#include <filesystem>
#include <string>

namespace kakuren::db {

/// What to store for a run folder: its path relative to the database's folder when it lies
/// inside it ("runs/<id>"), else run_dir unchanged.
std::string stored_run_dir(const std::filesystem::path& db_file, const std::string& run_dir);

/// The absolute run folder a stored value names: a relative one under the database's folder; an
/// absolute one as it is, unless it is gone and the same run's folder exists under this
/// workspace (runs/<run_id>: the workspace was copied or moved).
std::string resolved_run_dir(const std::filesystem::path& db_file, const std::string& stored,
                             const std::string& run_id);

} // namespace kakuren::db

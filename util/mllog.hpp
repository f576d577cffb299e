#pragma once
// Writer of MLPerf-style `:::MLLOG {json}` lines (see docs/reports.md "MLPerf log").
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <source_location>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/json.hpp"

namespace kakuren::util {

/// Appends one flushed line per event. event_type follows the key: *_start -> INTERVAL_START,
/// *_stop -> INTERVAL_END, else POINT_IN_TIME. time_ms never decreases. metadata always carries
/// the call site's file (path relative to the source root) and lineno.
class MlLog {
  public:
    /// Opens path for appending (creates parents). Throws RuntimeFailure when it cannot.
    /// A default-constructed MlLog writes nothing (ranks other than 0).
    MlLog() = default;
    explicit MlLog(const std::filesystem::path& path);

    void event(std::string_view key, const Json& value = Json::null(),
               const JsonObject& metadata = {},
               std::source_location where = std::source_location::current());
    bool enabled() const { return m_out.is_open(); }
    /// guard is asked before every record; once it says false the log is closed and writes
    /// nothing more (a run's owner that lost its lock: the log is another owner's now).
    void set_guard(std::function<bool()> guard);
    const std::filesystem::path& path() const { return m_path; }

  private:
    std::filesystem::path m_path;
    std::ofstream m_out;
    std::int64_t m_last_ms = 0;
    std::function<bool()> m_guard;
    std::mutex m_mutex;
};

/// Renders one record line (without the trailing newline); exposed for tests.
std::string mllog_line(std::int64_t time_ms, std::string_view key, const Json& value,
                       const JsonObject& metadata, std::string_view file, unsigned line);

/// The call site's file as logged: relative to the source root (e.g. "trainer/loop.cpp").
/// Strips the build's source folder; else keeps the path from its first project top folder
/// (util/, trainer/, cli/, ...); else keeps the file name.
std::string source_relative_path(std::string_view file);

/// Cuts the MLPerf log back to `bytes`, its length at a checkpoint: the records after it are
/// written again by the resumed run (no duplicates), and a half-written last line goes away. A
/// missing or shorter log is left as it is, with a warning; throws RuntimeFailure when the file
/// cannot be read or cut.
void cut_mllog(const std::filesystem::path& file, std::int64_t bytes);

} // namespace kakuren::util

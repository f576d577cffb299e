#include "util/mllog.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>

#include "util/error.hpp"
#include "util/log.hpp"
#include "util/mlperf_keys.hpp"
#include "util/system.hpp"

#ifndef KAKUREN_SOURCE_DIR
#define KAKUREN_SOURCE_DIR ""
#endif

namespace kakuren::util {

namespace {

constexpr std::string_view k_prefix = ":::MLLOG ";

/// time_ms of the last `:::MLLOG` line in the file's tail, 0 if none: a resumed run appends
/// to the same log, and its times must not go backwards even if the clock did.
std::int64_t last_time_ms(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return 0;
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    const std::streamoff tail = std::min<std::streamoff>(size, 8192);
    in.seekg(size - tail);
    std::string text(static_cast<std::size_t>(tail), '\0');
    in.read(text.data(), tail);
    text.resize(static_cast<std::size_t>(in.gcount()));
    const std::size_t at = text.rfind(k_prefix);
    if (at == std::string::npos)
        return 0;
    constexpr std::string_view k_field = "\"time_ms\": ";
    const std::size_t field = text.find(k_field, at);
    if (field == std::string::npos)
        return 0;
    const char* begin = text.data() + field + k_field.size();
    std::int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(begin, text.data() + text.size(), value);
    return ec == std::errc() ? value : 0;
}

} // namespace

std::string source_relative_path(std::string_view file) {
    constexpr std::string_view k_root = KAKUREN_SOURCE_DIR;
    if (!k_root.empty() && file.size() > k_root.size() + 1 && file.starts_with(k_root) &&
        file[k_root.size()] == '/')
        return std::string(file.substr(k_root.size() + 1));

    static constexpr std::array<std::string_view, 12> k_top_folders = {
        "util",     "hiding",  "recipes", "db",  "slurm", "checkpoint",
        "launcher", "trainer", "report",  "cli", "tests", "bench"};
    // Already relative ("trainer/loop.cpp")?
    for (const std::string_view top : k_top_folders) {
        if (file.size() > top.size() && file.starts_with(top) && file[top.size()] == '/')
            return std::string(file);
    }
    // Longest suffix that starts at a top folder: the earliest "/<top>/" in the path.
    std::size_t best = std::string_view::npos;
    for (const std::string_view top : k_top_folders) {
        std::string needle(1, '/');
        needle.append(top).push_back('/');
        const std::size_t at = file.find(needle);
        if (at != std::string_view::npos && (best == std::string_view::npos || at < best))
            best = at;
    }
    if (best != std::string_view::npos)
        return std::string(file.substr(best + 1));
    const std::size_t slash = file.rfind('/');
    return std::string(slash == std::string_view::npos ? file : file.substr(slash + 1));
}

std::string mllog_line(std::int64_t time_ms, std::string_view key, const Json& value,
                       const JsonObject& metadata, std::string_view file, unsigned line) {
    // file and lineno come first, as in mlperf_logging; a caller's own file/lineno wins.
    JsonObject meta;
    meta.reserve(metadata.size() + 2);
    const auto given = [&](std::string_view name) -> const Json* {
        for (const auto& [k, v] : metadata)
            if (k == name)
                return &v;
        return nullptr;
    };
    const Json* given_file = given("file");
    const Json* given_line = given("lineno");
    meta.emplace_back("file", given_file ? *given_file : Json(std::string(file)));
    meta.emplace_back("lineno", given_line ? *given_line : Json(line));
    for (const auto& entry : metadata)
        if (entry.first != "file" && entry.first != "lineno")
            meta.push_back(entry);

    JsonObject record;
    record.reserve(6);
    record.emplace_back("namespace", Json(""));
    record.emplace_back("time_ms", Json(static_cast<long long>(time_ms)));
    record.emplace_back("event_type", Json(mlperf::event_type(key)));
    record.emplace_back("key", Json(key));
    record.emplace_back("value", value);
    record.emplace_back("metadata", Json(std::move(meta)));
    return std::string(k_prefix) + Json(std::move(record)).dump_spaced();
}

MlLog::MlLog(const std::filesystem::path& path) : m_path(path) {
    if (path.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(path.parent_path(), ec);
        if (ec)
            throw RuntimeFailure("cannot create folder " + path.parent_path().string() +
                                 " for the MLPerf log: " + ec.message());
    }
    m_last_ms = last_time_ms(path);
    errno = 0;
    m_out.open(path, std::ios::out | std::ios::app | std::ios::binary);
    if (!m_out.is_open())
        throw RuntimeFailure("cannot open MLPerf log " + path.string() + ": " +
                             (errno != 0 ? std::strerror(errno) : "unknown error"));
}

void MlLog::event(std::string_view key, const Json& value, const JsonObject& metadata,
                  std::source_location where) {
    const std::lock_guard lock(m_mutex);
    if (!m_out.is_open())
        return;
    if (m_guard && !m_guard()) {
        m_out.close();
        return;
    }
    const std::int64_t time_ms = std::max(now_ms(), m_last_ms);
    m_last_ms = time_ms;
    m_out << mllog_line(time_ms, key, value, metadata, source_relative_path(where.file_name()),
                        where.line())
          << '\n';
    m_out.flush();
    if (!m_out)
        throw RuntimeFailure("cannot write MLPerf log " + m_path.string() + ": " +
                             std::strerror(errno));
}

void MlLog::set_guard(std::function<bool()> guard) {
    const std::lock_guard lock(m_mutex);
    m_guard = std::move(guard);
}

void cut_mllog(const std::filesystem::path& file, std::int64_t bytes) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) {
        if (bytes > 0) {
            log_warning("the MLPerf log " + file.string() + " is missing (it had " +
                        std::to_string(bytes) +
                        " bytes at the checkpoint): the resumed run writes a new one "
                        "without its head (run_start, the first epochs), which the log "
                        "check of kakuren report flags; restore the file before resuming "
                        "to keep the log whole");
        }
        return;
    }
    const auto size = static_cast<std::int64_t>(std::filesystem::file_size(file, ec));
    if (ec) {
        throw RuntimeFailure("cannot read the size of the MLPerf log " + file.string() + ": " +
                             ec.message());
    }
    if (size < bytes) {
        log_warning("the MLPerf log " + file.string() + " is shorter (" + std::to_string(size) +
                    " bytes) than at the checkpoint (" + std::to_string(bytes) +
                    "): was it edited? It is continued as it is");
        return;
    }
    std::filesystem::resize_file(file, static_cast<std::uintmax_t>(bytes), ec);
    if (ec) {
        throw RuntimeFailure("cannot cut the MLPerf log " + file.string() + " back to " +
                             std::to_string(bytes) + " bytes: " + ec.message());
    }
}

} // namespace kakuren::util

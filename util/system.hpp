#pragma once
// Small helpers that touch the OS: time, processes, hashing, atomic writes.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace kakuren::util {

std::int64_t now_ms();                              ///< system clock, ms since the Unix epoch
std::string iso8601_utc_now();                      ///< "2026-11-26T15:07:22.123Z"
std::string hostname();                             ///< short host name
std::int64_t process_start_ticks(std::int64_t pid); ///< /proc/<pid>/stat field 22; 0 if gone
/// True if pid runs, is not a zombie, and (if start_ticks != 0) started at start_ticks.
bool process_alive(std::int64_t pid, std::int64_t start_ticks);
int available_cpus(); ///< SLURM_CPUS_PER_TASK, else sched_getaffinity count, >= 1
std::string sha256_hex(std::string_view data);
/// Writes to path.tmp, fsyncs, renames over path, fsyncs the folder. Throws RuntimeFailure.
void atomic_write(const std::filesystem::path& path, std::string_view data);
std::string read_file(const std::filesystem::path& path); ///< throws RuntimeFailure

} // namespace kakuren::util

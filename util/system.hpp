#pragma once
// Small helpers that touch the OS: time, processes, hashing, atomic writes.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "util/fd.hpp"        // Fd: here before it had its own file
#include "util/file_lock.hpp" // FileLock, file_id: here before they had their own file

namespace kakuren::util {

std::int64_t now_ms();                              ///< system clock, ms since the Unix epoch
std::string iso8601_utc_now();                      ///< "2026-11-26T15:07:22.123Z"
std::string hostname();                             ///< short host name
std::int64_t process_start_ticks(std::int64_t pid); ///< /proc/<pid>/stat field 22; 0 if gone
/// True if pid runs, is not a zombie, and (if start_ticks != 0) started at start_ticks.
bool process_alive(std::int64_t pid, std::int64_t start_ticks);
int available_cpus(); ///< SLURM_CPUS_PER_TASK, else sched_getaffinity count, >= 1
std::string sha256_hex(std::string_view data);
/// Writes data to path so that a reader sees the old or the new content, never a mix:
/// a regular file (or none) is replaced by a temporary file created with O_EXCL in the same
/// folder (a planted file or symlink there is never followed), fsynced and renamed over it; the
/// replaced file keeps its permission bits (a new one gets 0666 & ~umask). A symlink is written
/// through (its target is replaced, the link stays). A device, FIFO or socket is written to
/// directly (nothing is renamed over /dev/null). "-" writes to stdout. Throws RuntimeFailure
/// naming the file and the cause (also for a folder).
void atomic_write(const std::filesystem::path& path, std::string_view data);
std::string read_file(const std::filesystem::path& path); ///< throws RuntimeFailure

/// Reads a regular file of at most max_bytes. Refuses (RuntimeFailure naming what and the
/// limit) anything else: a device such as /dev/zero, a FIFO (never blocks waiting for a
/// writer), a folder, a larger file.
std::string read_regular_file(const std::filesystem::path& path, std::int64_t max_bytes,
                              const std::string& what);

/// Opens a regular file to read (O_CLOEXEC) without ever blocking on what it is given: the
/// open is non-blocking, so a FIFO without a writer does not wait, and anything but a regular
/// file (a FIFO, a device such as /dev/zero, a socket, a folder) is refused; reads of the
/// returned descriptor then block as usual. Throws RuntimeFailure "cannot read <name>: <cause>"
/// (name: the path unless given, e.g. "x.npy (sample 3)"; cause: the errno text or "it is a
/// FIFO, not a regular file; ...").
Fd open_regular_file(const std::filesystem::path& path, const std::string& name = "");

} // namespace kakuren::util

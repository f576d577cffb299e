#pragma once
// Exclusive locks on files, and file identities: one run, one owner (launcher/ownership.hpp).
#include <cstdint>
#include <filesystem>
#include <optional>

#include "util/fd.hpp"

namespace kakuren::util {

/// An exclusive lock on a file (an open-file-description lock, fcntl F_OFD_SETLK): held until
/// this object is destroyed or the process ends, however it ends (kill -9 included); the
/// kernel releases it, so it cannot go stale like a pid. Works in a PID namespace and on NFS.
/// The lock is on the file, not on its name: a file deleted (or replaced) under its holder
/// leaves the holder locking a file nobody else can open, and the name free for a new file
/// and a new lock. Holders that must stay the only one check names() before they write.
class FileLock {
  public:
    /// Creates the file if needed (mode 0644) and takes the lock without waiting; nullopt when
    /// another open file description holds it. The lock returned is on the file that file names
    /// afterwards (a file deleted or replaced between the open and the lock is opened again).
    /// Throws RuntimeFailure when the file cannot be opened or locked for another reason, or
    /// keeps being replaced.
    static std::optional<FileLock> try_acquire(const std::filesystem::path& file);
    /// Whether some process holds the lock on file now (it is tested, not taken); nullopt when
    /// the file does not exist or cannot be read.
    static std::optional<bool> held(const std::filesystem::path& file);
    /// Whether file still names the file this lock is on (false once it was deleted, renamed
    /// or replaced: then another process may lock a new file at that name). Never throws.
    [[nodiscard]] bool names(const std::filesystem::path& file) const;

  private:
    explicit FileLock(int fd) : m_fd(fd) {}
    Fd m_fd; ///< closing the last descriptor of the description releases the lock
};

/// The identity (device, inode) of a file, to notice it was deleted or replaced.
struct FileId {
    std::uint64_t dev = 0, ino = 0;
    bool operator==(const FileId&) const = default;
};
std::optional<FileId> file_id(const std::filesystem::path& path); ///< nullopt if it is gone

} // namespace kakuren::util

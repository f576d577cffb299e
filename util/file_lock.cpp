#include "util/file_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "util/error.hpp"
#include "util/system.hpp"

namespace kakuren::util {
namespace {

struct flock whole_file_lock(short type) {
    struct flock lock {};
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0; // to the end, however long
    lock.l_pid = 0; // required by F_OFD_*
    return lock;
}

/// Opening and locking are two steps: another process may delete or replace the file between
/// them. A handful of tries beats any real churn; more means something replaces it in a loop.
constexpr int k_lock_tries = 16;

} // namespace

std::optional<FileLock> FileLock::try_acquire(const std::filesystem::path& file) {
    for (int attempt = 0; attempt < k_lock_tries; ++attempt) {
        const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) {
            const int err = errno;
            throw RuntimeFailure("cannot open the lock file " + file.string() + ": " +
                                 std::strerror(err));
        }
        FileLock lock(fd);
        struct flock request = whole_file_lock(F_WRLCK);
        if (::fcntl(fd, F_OFD_SETLK, &request) != 0) {
            const int err = errno;
            if (err == EAGAIN || err == EACCES)
                return std::nullopt;
            throw RuntimeFailure("cannot lock " + file.string() + ": " + std::strerror(err));
        }
        if (lock.names(file))
            return lock;
        // Locked a file that is no longer at that name: whoever locks the new one would own it
        // too. Let go and take the one the name holds now.
    }
    throw RuntimeFailure("cannot lock " + file.string() + ": it was replaced " +
                         std::to_string(k_lock_tries) +
                         " times while being locked; stop whatever deletes or replaces it");
}

std::optional<bool> FileLock::held(const std::filesystem::path& file) {
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0)
        return std::nullopt;
    // F_OFD_GETLK asks about a write lock without taking anything: any lock held through
    // another open file description (this process's included) is reported.
    struct flock probe = whole_file_lock(F_WRLCK);
    if (::fcntl(fd.get(), F_OFD_GETLK, &probe) != 0)
        return std::nullopt;
    return probe.l_type != F_UNLCK;
}

bool FileLock::names(const std::filesystem::path& file) const {
    struct stat locked {};
    struct stat named {};
    if (m_fd.get() < 0 || ::fstat(m_fd.get(), &locked) != 0 || ::lstat(file.c_str(), &named) != 0)
        return false;
    return locked.st_dev == named.st_dev && locked.st_ino == named.st_ino;
}

std::optional<FileId> file_id(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return std::nullopt;
    return FileId{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

} // namespace kakuren::util

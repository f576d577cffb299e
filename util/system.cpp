#include "util/system.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <optional>
#include <utility>

#include "util/error.hpp"
#include "util/list_file.hpp"

namespace kakuren::util {

namespace {

struct ProcStat {
    char state = '?';
    std::int64_t start_ticks = 0;
};

/// Parses /proc/<pid>/stat. comm (field 2) may hold spaces and parentheses, so the fields
/// are read after the last ')'.
std::optional<ProcStat> read_proc_stat(std::int64_t pid) {
    if (pid <= 0)
        return std::nullopt;
    std::string text;
    try {
        text = read_file("/proc/" + std::to_string(pid) + "/stat");
    } catch (const RuntimeFailure&) {
        return std::nullopt;
    }
    const std::size_t close_paren = text.rfind(')');
    if (close_paren == std::string::npos)
        return std::nullopt;
    // After ')': " S ppid pgrp ..." — field 3 is the state, field 22 the start time.
    std::string_view rest(text);
    rest.remove_prefix(close_paren + 1);
    ProcStat stat;
    int field = 2;
    while (!rest.empty()) {
        const std::size_t begin = rest.find_first_not_of(' ');
        if (begin == std::string_view::npos)
            break;
        rest.remove_prefix(begin);
        const std::size_t end = std::min(rest.find(' '), rest.size());
        const std::string_view token = rest.substr(0, end);
        rest.remove_prefix(end);
        ++field;
        if (field == 3) {
            stat.state = token.empty() ? '?' : token.front();
        } else if (field == 22) {
            const auto [ptr, ec] =
                std::from_chars(token.data(), token.data() + token.size(), stat.start_ticks);
            if (ec != std::errc())
                return std::nullopt;
            return stat;
        }
    }
    return std::nullopt;
}

// SHA-256 (FIPS 180-4).
class Sha256 {
  public:
    void update(std::string_view data) {
        for (const char c : data) {
            m_block[m_used++] = static_cast<std::uint8_t>(c);
            if (m_used == 64) {
                compress();
                m_used = 0;
            }
        }
        m_bits += static_cast<std::uint64_t>(data.size()) * 8;
    }

    std::string hex() {
        const std::uint64_t bits = m_bits;
        m_block[m_used++] = 0x80;
        if (m_used > 56) {
            while (m_used < 64)
                m_block[m_used++] = 0;
            compress();
            m_used = 0;
        }
        while (m_used < 56)
            m_block[m_used++] = 0;
        for (int i = 7; i >= 0; --i)
            m_block[m_used++] = static_cast<std::uint8_t>(bits >> (i * 8));
        compress();
        static constexpr char k_hex[] = "0123456789abcdef";
        std::string out;
        out.reserve(64);
        for (const std::uint32_t word : m_h)
            for (int shift = 28; shift >= 0; shift -= 4)
                out.push_back(k_hex[(word >> shift) & 0xf]);
        return out;
    }

  private:
    static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

    void compress() {
        static constexpr std::array<std::uint32_t, 64> k_round = {
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
            0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
            0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
            0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
            0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
            0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
            0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
            0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
            0xc67178f2};
        std::array<std::uint32_t, 64> w{};
        for (std::size_t i = 0; i < 16; ++i)
            w[i] = static_cast<std::uint32_t>(m_block[4 * i]) << 24 |
                   static_cast<std::uint32_t>(m_block[4 * i + 1]) << 16 |
                   static_cast<std::uint32_t>(m_block[4 * i + 2]) << 8 |
                   static_cast<std::uint32_t>(m_block[4 * i + 3]);
        for (std::size_t i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::uint32_t a = m_h[0], b = m_h[1], c = m_h[2], d = m_h[3];
        std::uint32_t e = m_h[4], f = m_h[5], g = m_h[6], h = m_h[7];
        for (std::size_t i = 0; i < 64; ++i) {
            const std::uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
            const std::uint32_t ch = (e & f) ^ (~e & g);
            const std::uint32_t t1 = h + s1 + ch + k_round[i] + w[i];
            const std::uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
            const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
            const std::uint32_t t2 = s0 + maj;
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        m_h[0] += a;
        m_h[1] += b;
        m_h[2] += c;
        m_h[3] += d;
        m_h[4] += e;
        m_h[5] += f;
        m_h[6] += g;
        m_h[7] += h;
    }

    std::array<std::uint32_t, 8> m_h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::array<std::uint8_t, 64> m_block{};
    std::size_t m_used = 0;
    std::uint64_t m_bits = 0;
};

} // namespace

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string iso8601_utc_now() {
    const std::int64_t ms = now_ms();
    const auto seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buf[80];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

std::string hostname() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0)
        return "localhost";
    std::string name(buf);
    const std::size_t dot = name.find('.');
    if (dot != std::string::npos)
        name.resize(dot);
    return name.empty() ? "localhost" : name;
}

std::int64_t process_start_ticks(std::int64_t pid) {
    const auto stat = read_proc_stat(pid);
    return stat ? stat->start_ticks : 0;
}

bool process_alive(std::int64_t pid, std::int64_t start_ticks) {
    if (pid <= 0)
        return false;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM)
        return false;
    // kill(pid, 0) also succeeds on zombies (and on a reused pid): check /proc too.
    const auto stat = read_proc_stat(pid);
    if (!stat)
        return start_ticks == 0; // no /proc entry to compare: trust kill() only when unguarded
    if (stat->state == 'Z' || stat->state == 'X')
        return false;
    return start_ticks == 0 || stat->start_ticks == start_ticks;
}

int available_cpus() {
    if (const char* env = std::getenv("SLURM_CPUS_PER_TASK"); env != nullptr) {
        const std::string_view text(env);
        int value = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec == std::errc() && ptr == text.data() + text.size() && value > 0)
            return value;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const int count = CPU_COUNT(&set);
        if (count > 0)
            return count;
    }
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? static_cast<int>(online) : 1;
}

std::string sha256_hex(std::string_view data) {
    Sha256 sha;
    sha.update(data);
    return sha.hex();
}

namespace {

void write_all(int fd, std::string_view data, const std::string& target,
               const std::function<void(int)>& fail) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail(errno);
            throw RuntimeFailure("cannot write " + target + ": " + std::strerror(errno));
        }
        done += static_cast<std::size_t>(n);
    }
}

/// The process's umask, read without changing it (umask(2) would, for every thread).
mode_t current_umask() {
    try {
        const std::string status = read_file("/proc/self/status");
        const std::size_t at = status.find("\nUmask:");
        if (at != std::string::npos)
            return static_cast<mode_t>(std::strtol(status.c_str() + at + 7, nullptr, 8));
    } catch (const RuntimeFailure&) {
    }
    return 022;
}

// The file a write of path reaches: path itself, or the target of the symbolic link it is.
std::filesystem::path written_through(const std::filesystem::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) {
        return path;
    }
    // Written through: the link stays, its target gets the new content.
    std::error_code ec;
    std::filesystem::path resolved = std::filesystem::canonical(path, ec);
    if (ec)
        throw RuntimeFailure("cannot write " + path.string() +
                             ": it is a symbolic link whose target cannot be resolved (" +
                             ec.message() + "); kakuren writes through links, never replaces them");
    return resolved;
}

// Writes into a device, FIFO or socket in place: renaming a file over it would replace it.
void write_in_place(const std::filesystem::path& path, const std::string& name,
                    std::string_view data) {
    Fd fd(::open(name.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
    if (fd.get() < 0) {
        const int err = errno;
        throw RuntimeFailure("cannot write " + path.string() + ": " + std::strerror(err));
    }
    write_all(fd.get(), data, path.string(), [](int) {});
    if (fd.close() != 0) {
        const int err = errno;
        throw RuntimeFailure("cannot write " + path.string() + ": " + std::strerror(err));
    }
}

// Writes a fresh file beside target, syncs it and renames it over target (existing: the stat
// of the file it replaces, keeping its mode and owner), then syncs the folder.
void replace_file(const std::filesystem::path& path, const std::filesystem::path& target,
                  std::string_view data, const struct stat* existing) {
    // A fresh name in the target's folder, created with O_EXCL (mkostemp): a file or symlink
    // someone planted there is never opened, followed or truncated.
    const std::filesystem::path parent = target.has_parent_path() ? target.parent_path() : ".";
    std::string tmp = (parent / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
    Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
    if (fd.get() < 0) {
        const int err = errno;
        throw RuntimeFailure("cannot write " + path.string() + ": " + std::strerror(err));
    }
    const auto fail = [&](int err) {
        ::unlink(tmp.c_str());
        throw RuntimeFailure("cannot write " + path.string() + ": " + std::strerror(err));
    };
    // The replaced file keeps its permission bits (and, for root, its owner); a new file gets
    // what open(0666) would have given it.
    const mode_t mode = existing ? (existing->st_mode & 07777) : (0666 & ~current_umask());
    if (::fchmod(fd.get(), mode) != 0)
        fail(errno);
    if (existing && ::geteuid() == 0 && (existing->st_uid != 0 || existing->st_gid != 0) &&
        ::fchown(fd.get(), existing->st_uid, existing->st_gid) != 0)
        fail(errno);
    write_all(fd.get(), data, path.string(), fail);
    if (::fsync(fd.get()) != 0)
        fail(errno);
    if (fd.close() != 0)
        fail(errno);
    if (::rename(tmp.c_str(), target.c_str()) != 0)
        fail(errno);

    // Make the rename itself durable.
    Fd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0 || ::fsync(dir.get()) != 0) {
        const int err = errno;
        throw RuntimeFailure("cannot write " + path.string() + ": syncing folder " +
                             parent.string() + ": " + std::strerror(err));
    }
}

} // namespace

void atomic_write(const std::filesystem::path& path, std::string_view data) {
    if (path == "-") {
        write_all(STDOUT_FILENO, data, "stdout", [](int) {});
        return;
    }
    const std::filesystem::path target = written_through(path);
    const std::string name = target.string();
    struct stat st {};
    const bool exists = ::stat(name.c_str(), &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        throw RuntimeFailure("cannot write " + path.string() + ": it is a folder");
    if (exists && !S_ISREG(st.st_mode)) {
        write_in_place(path, name, data);
        return;
    }
    replace_file(path, target, data, exists ? &st : nullptr);
}

namespace {

/// Reads fd to its end; `context` starts every error message; max_bytes >= 0 caps the size
/// (a file that grows while it is read).
std::string read_all(int fd, const std::string& context, std::int64_t max_bytes) {
    std::string out;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            const int err = errno;
            throw RuntimeFailure(context + ": " + std::strerror(err));
        }
        if (n == 0)
            break;
        out.append(buf, static_cast<std::size_t>(n));
        if (max_bytes >= 0 && static_cast<std::int64_t>(out.size()) > max_bytes)
            throw RuntimeFailure(context + ": it is larger than the limit of " +
                                 std::to_string(max_bytes) + " bytes");
    }
    return out;
}

} // namespace

std::string read_regular_file(const std::filesystem::path& path, std::int64_t max_bytes,
                              const std::string& what) {
    // O_NONBLOCK: opening a FIFO without a writer must not wait.
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (fd.get() < 0) {
        const int err = errno;
        throw RuntimeFailure("cannot read " + what + " " + path.string() + ": " +
                             std::strerror(err));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        const int err = errno;
        throw RuntimeFailure("cannot read " + what + " " + path.string() + ": " +
                             std::strerror(err));
    }
    if (!S_ISREG(st.st_mode))
        throw RuntimeFailure("cannot read " + what + " " + path.string() + ": " +
                             (S_ISDIR(st.st_mode) ? "it is a folder" : "it is not a regular file") +
                             "; give a regular file");
    if (st.st_size > max_bytes)
        throw RuntimeFailure("cannot read " + what + " " + path.string() + ": it has " +
                             std::to_string(st.st_size) + " bytes, more than the limit of " +
                             std::to_string(max_bytes) + " bytes");
    return read_all(fd.get(), "cannot read " + what + " " + path.string(), max_bytes);
}

namespace {

const char* file_kind(mode_t mode) {
    if (S_ISDIR(mode))
        return "a folder";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

} // namespace

Fd open_regular_file(const std::filesystem::path& path, const std::string& name) {
    const std::string context = "cannot read " + (name.empty() ? path.string() : name) + ": ";
    // O_NONBLOCK: opening a FIFO without a writer must not wait (nor a tty become ours).
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
        const int err = errno;
        throw RuntimeFailure(context + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode))
        throw RuntimeFailure(context + "it is " + file_kind(st.st_mode) +
                             ", not a regular file; data files must be regular files");
    // Reads of a regular file block as usual (the flag only mattered for the open).
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
        const int err = errno;
        throw RuntimeFailure(context + std::strerror(err));
    }
    return fd;
}

std::vector<std::string> read_list_file(const std::filesystem::path& path) {
    constexpr std::int64_t k_max_list_bytes = std::int64_t{256} << 20;
    const std::string text = read_regular_file(path, k_max_list_bytes, "file list");
    std::vector<std::string> out;
    std::size_t begin = 0;
    while (begin < text.size()) {
        std::size_t end = text.find('\n', begin);
        if (end == std::string::npos) {
            end = text.size();
        }
        std::size_t last = end;
        while (last > begin && (text[last - 1] == '\r' || text[last - 1] == ' ')) {
            --last;
        }
        if (last > begin) {
            out.emplace_back(text, begin, last - begin);
        }
        begin = end + 1;
    }
    return out;
}

std::string read_file(const std::filesystem::path& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        const int err = errno;
        throw RuntimeFailure("cannot read " + path.string() + ": " + std::strerror(err));
    }
    return read_all(fd.get(), "cannot read " + path.string(), -1);
}

} // namespace kakuren::util

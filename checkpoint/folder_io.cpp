// Checkpoint folders on disk: durable writes, the manifest, the per-sample state's digest.
#include "checkpoint/folder_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <sstream>
#include <system_error>
#include <type_traits>
#include <utility>

#include "util/fd.hpp"
#include "util/system.hpp"

namespace kakuren::checkpoint {

namespace {

using util::Fd;

template <typename T> void append_le(std::string& out, T value) {
    using U = std::conditional_t<sizeof(T) == 8, std::uint64_t,
                                 std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint8_t>>;
    const auto bits = std::bit_cast<U>(value);
    for (std::size_t i = 0; i < sizeof(U); ++i) {
        out.push_back(static_cast<char>((bits >> (8 * i)) & 0xffU));
    }
}

template <typename T> std::string le_bytes(std::span<const T> values) {
    std::string out;
    out.reserve(values.size() * sizeof(T));
    for (const T v : values) {
        append_le(out, v);
    }
    return out;
}

} // namespace

std::string state_digest(const util::SampleStatsView& stats,
                         std::span<const std::int64_t> hidden_ids) {
    std::vector<std::int64_t> hidden(hidden_ids.begin(), hidden_ids.end());
    std::sort(hidden.begin(), hidden.end());
    hidden.erase(std::unique(hidden.begin(), hidden.end()), hidden.end());
    return util::sha256_hex(le_bytes(stats.loss)) + "  loss\n" +
           util::sha256_hex(le_bytes(stats.correct)) + "  correct\n" +
           util::sha256_hex(le_bytes(stats.confidence)) + "  confidence\n" +
           util::sha256_hex(le_bytes(std::span<const std::int64_t>(hidden))) + "  hidden\n";
}

void write_synced(const fs::path& path, std::string_view data) {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
        throw IoFailure{path, errno, "creating"};
    }
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw IoFailure{path, errno, "writing"};
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
        throw IoFailure{path, errno, "syncing"};
    }
    if (fd.close() != 0) {
        throw IoFailure{path, errno, "closing"};
    }
}

void fsync_dir(const fs::path& dir) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
        throw IoFailure{dir, errno, "syncing folder"};
    }
}

std::string hint_for(int error) {
    switch (error) {
    case ENOSPC:
    case EDQUOT:
        return " (the disk is full: free some space";
    case EFBIG:
        return " (a file size limit (ulimit -f) stopped the write: raise it";
    case EACCES:
    case EPERM:
    case EROFS:
        return " (permission denied: make the run folder writable";
    default:
        return " (check the disk and the file system";
    }
}

void remove_quietly(const fs::path& path) {
    std::error_code ec;
    fs::remove_all(path, ec);
}

std::optional<std::vector<ManifestEntry>> parse_manifest(const std::string& text) {
    std::vector<ManifestEntry> entries;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() < 67 || line.compare(64, 2, "  ") != 0) {
            return std::nullopt;
        }
        ManifestEntry e{line.substr(0, 64), line.substr(66)};
        const bool hex = std::all_of(e.sha256.begin(), e.sha256.end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        });
        if (!hex || e.file.empty() || e.file.find('/') != std::string::npos || e.file == "." ||
            e.file == "..") {
            return std::nullopt;
        }
        entries.push_back(std::move(e));
    }
    return entries;
}

} // namespace kakuren::checkpoint

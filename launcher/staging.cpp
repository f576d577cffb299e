#include "launcher/staging.hpp"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "util/error.hpp"
#include "util/system.hpp"

namespace kakuren::launcher {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

/// The staged folder is valid when each expected file is there with its size.
bool complete(const fs::path& dir, const std::vector<std::string>& files,
              const std::vector<std::uintmax_t>& sizes) {
    std::error_code ec;
    for (std::size_t i = 0; i < files.size(); ++i) {
        const fs::path copy = dir / fs::path(files[i]).filename();
        if (fs::file_size(copy, ec) != sizes[i] || ec) {
            return false;
        }
    }
    return true;
}

} // namespace

fs::path node_local_base(const std::map<std::string, std::string>& env) {
    for (const char* key : {"SLURM_TMPDIR", "TMPDIR"}) {
        const auto it = env.find(key);
        if (it != env.end() && !it->second.empty()) {
            return it->second;
        }
    }
    return "/dev/shm";
}

StageResult stage_files(const std::vector<std::string>& files, const fs::path& base, int local_rank,
                        double timeout_s) {
    const auto start = Clock::now();
    std::vector<std::uintmax_t> sizes;
    std::string identity;
    for (const std::string& file : files) {
        std::error_code ec;
        const auto size = fs::file_size(file, ec);
        if (ec) {
            throw RuntimeFailure("cannot stage " + file + ": " + ec.message());
        }
        const auto time = fs::last_write_time(file, ec).time_since_epoch().count();
        sizes.push_back(size);
        identity += file + "\n" + std::to_string(size) + "\n" + std::to_string(time) + "\n";
    }
    StageResult result;
    result.dir = base / ("kakuren-stage-" + util::sha256_hex(identity).substr(0, 16));
    for (const std::string& file : files) {
        result.files.push_back((result.dir / fs::path(file).filename()).string());
    }
    for (auto size : sizes) {
        result.bytes += static_cast<std::int64_t>(size);
    }

    if (local_rank == 0 && !complete(result.dir, files, sizes)) {
        const fs::path tmp =
            base / (".kakuren-stage-tmp-" + util::hostname() + "-" + std::to_string(getpid()));
        std::error_code ec;
        fs::remove_all(tmp, ec);
        fs::create_directories(tmp, ec);
        if (ec) {
            throw RuntimeFailure("cannot stage data to " + base.string() + ": " + ec.message());
        }
        for (const std::string& file : files) {
            fs::copy_file(file, tmp / fs::path(file).filename(),
                          fs::copy_options::overwrite_existing, ec);
            if (ec) {
                fs::remove_all(tmp);
                throw RuntimeFailure("cannot stage " + file + " to " + base.string() + ": " +
                                     ec.message() + " (is node-local storage full?)");
            }
        }
        fs::remove_all(result.dir, ec); // an incomplete earlier copy
        fs::rename(tmp, result.dir, ec);
        if (ec) {
            // Another rank of this node (or another node sharing this storage) was faster.
            fs::remove_all(tmp);
        } else {
            result.copied = true;
        }
    }
    while (!complete(result.dir, files, sizes)) {
        if (std::chrono::duration<double>(Clock::now() - start).count() > timeout_s) {
            throw RuntimeFailure("staged data did not appear in " + result.dir.string() +
                                 " within " + std::to_string(static_cast<int>(timeout_s)) +
                                 " s (did local rank 0 of this node fail?)");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
}

} // namespace kakuren::launcher

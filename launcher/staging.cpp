#include "launcher/staging.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "util/error.hpp"
#include "util/list_file.hpp"
#include "util/system.hpp"

namespace kakuren::launcher {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

/// The staged folder is valid when each expected file is there with its size.
bool complete(const fs::path& dir, const std::vector<StageFile>& files,
              const std::vector<std::uintmax_t>& sizes) {
    std::error_code ec;
    for (std::size_t i = 0; i < files.size(); ++i) {
        const fs::path copy = dir / files[i].relative;
        if (fs::file_size(copy, ec) != sizes[i] || ec) {
            return false;
        }
    }
    return true;
}

/// A file list's entries (files_data.lst, files_label.lst) must lie inside its folder: the
/// staged list is read from the staged folder, so its entries must be staged with it.
void check_list_inside(const fs::path& list, const fs::path& folder) {
    for (const std::string& line : util::read_list_file(list)) {
        const fs::path entry(line);
        const fs::path rel = entry.is_absolute()
                                 ? fs::path(entry).lexically_normal().lexically_relative(
                                       fs::weakly_canonical(folder))
                                 : entry.lexically_normal();
        if (rel.empty() || *rel.begin() == "..") {
            throw RuntimeFailure("cannot stage " + list.string() + ": it lists " + line +
                                 ", outside " + folder.string() +
                                 "; node-local staging copies the split folder, so its file "
                                 "lists must name files inside it (or set data.stage = \"none\")");
        }
        // Only regular files are staged; a FIFO would also hang the reader (a missing file is
        // the reader's to report, with its sample).
        std::error_code ec;
        const auto type = fs::status(entry.is_absolute() ? entry : folder / entry, ec).type();
        if (type != fs::file_type::regular && type != fs::file_type::not_found) {
            throw RuntimeFailure("cannot stage " + list.string() + ": it lists " + line +
                                 ", which is not a regular file (a FIFO, a device, a socket or a "
                                 "folder); file lists must name regular files");
        }
    }
}

/// The files of one split as StageFiles under `as` ("train").
void add_split(const std::string& split, const fs::path& as, std::vector<StageFile>& out) {
    const fs::path path(split);
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) {
        out.push_back({path.string(), as / path.filename()});
        return;
    }
    if (!fs::is_directory(path, ec)) {
        throw RuntimeFailure("cannot stage " + split + ": " +
                             (fs::exists(path, ec) ? "not a file or folder" : "it does not exist"));
    }
    std::vector<StageFile> files;
    for (auto it = fs::recursive_directory_iterator(path, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) {
            const fs::path& p = it->path();
            if (p.filename() == "files_data.lst" || p.filename() == "files_label.lst") {
                check_list_inside(p, p.parent_path());
            }
            files.push_back({p.string(), as / p.lexically_relative(path)});
        }
    }
    if (ec) {
        throw RuntimeFailure("cannot stage " + split + ": " + ec.message());
    }
    // The same order on every rank and node (the staged folder's name depends on it).
    std::sort(files.begin(), files.end(),
              [](const StageFile& a, const StageFile& b) { return a.relative < b.relative; });
    out.insert(out.end(), files.begin(), files.end());
    // DeepCAM: stats.h5 above the split folder (one beside it is under the folder already).
    fs::path folder = path.lexically_normal();
    if (!folder.has_filename()) {
        folder = folder.parent_path(); // "train/" -> "train"
    }
    const fs::path above = folder.parent_path() / "stats.h5";
    if (!fs::exists(path / "stats.h5", ec) && fs::is_regular_file(above, ec)) {
        const fs::path staged = as.parent_path() / "stats.h5";
        if (std::none_of(out.begin(), out.end(),
                         [&](const StageFile& f) { return f.relative == staged; })) {
            out.push_back({above.string(), staged});
        }
    }
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
    std::vector<StageFile> tree;
    tree.reserve(files.size());
    for (const std::string& file : files) {
        tree.push_back({file, fs::path(file).filename()});
    }
    return stage_tree(tree, base, local_rank, timeout_s);
}

void check_stageable(const std::string& train, const std::string& test) {
    std::vector<StageFile> files;
    add_split(train, "train", files);
    add_split(test, "test", files);
}

StagedSplits stage_splits(const std::string& train, const std::string& test, const fs::path& base,
                          int local_rank, double timeout_s) {
    std::vector<StageFile> files;
    add_split(train, "train", files);
    add_split(test, "test", files);
    StagedSplits out;
    out.stage = stage_tree(files, base, local_rank, timeout_s);
    const auto staged_split = [&](const std::string& split, const std::string& as) {
        std::error_code ec;
        return fs::is_regular_file(split, ec)
                   ? (out.stage.dir / as / fs::path(split).filename()).string()
                   : (out.stage.dir / as).string();
    };
    out.train = staged_split(train, "train");
    out.test = staged_split(test, "test");
    return out;
}

namespace {

// The sizes of the files to stage, and the text that names this version of them (sources,
// relative names, sizes, modification times).
struct SourceFacts {
    std::vector<std::uintmax_t> sizes;
    std::string identity;
};

// Measures the files to stage; throws when one cannot be read.
SourceFacts source_facts(const std::vector<StageFile>& files) {
    SourceFacts out;
    for (const StageFile& file : files) {
        std::error_code ec;
        const auto size = fs::file_size(file.source, ec);
        if (ec) {
            throw RuntimeFailure("cannot stage " + file.source + ": " + ec.message());
        }
        const auto time = fs::last_write_time(file.source, ec).time_since_epoch().count();
        out.sizes.push_back(size);
        out.identity += file.source + "\n" + file.relative.string() + "\n" + std::to_string(size) +
                        "\n" + std::to_string(time) + "\n";
    }
    return out;
}

// Copies the files into a temporary folder under base and renames it to dir; false when another
// process renamed its copy there first.
bool copy_tree(const std::vector<StageFile>& files, const fs::path& base, const fs::path& dir) {
    const fs::path tmp =
        base / (".kakuren-stage-tmp-" + util::hostname() + "-" + std::to_string(getpid()));
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    if (ec) {
        throw RuntimeFailure("cannot stage data to " + base.string() + ": " + ec.message());
    }
    for (const StageFile& file : files) {
        const fs::path copy = tmp / file.relative;
        fs::create_directories(copy.parent_path(), ec);
        if (!ec) {
            fs::copy_file(file.source, copy, fs::copy_options::overwrite_existing, ec);
        }
        if (ec) {
            fs::remove_all(tmp);
            throw RuntimeFailure("cannot stage " + file.source + " to " + base.string() + ": " +
                                 ec.message() + " (is node-local storage full?)");
        }
    }
    fs::remove_all(dir, ec); // an incomplete earlier copy
    fs::rename(tmp, dir, ec);
    if (ec) {
        // Another rank of this node (or another node sharing this storage) was faster.
        fs::remove_all(tmp);
        return false;
    }
    return true;
}

} // namespace

StageResult stage_tree(const std::vector<StageFile>& files, const fs::path& base, int local_rank,
                       double timeout_s) {
    const auto start = Clock::now();
    const SourceFacts facts = source_facts(files);
    const std::vector<std::uintmax_t>& sizes = facts.sizes;
    StageResult result;
    result.dir = base / ("kakuren-stage-" + util::sha256_hex(facts.identity).substr(0, 16));
    for (const StageFile& file : files) {
        result.files.push_back((result.dir / file.relative).string());
    }
    for (auto size : sizes) {
        result.bytes += static_cast<std::int64_t>(size);
    }

    if (local_rank == 0 && !complete(result.dir, files, sizes)) {
        result.copied = copy_tree(files, base, result.dir);
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

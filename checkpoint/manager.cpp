#include "checkpoint/manager.hpp"

#include "checkpoint/fault_hook.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <ranges>
#include <set>
#include <sstream>
#include <system_error>
#include <type_traits>

#include "util/stop.hpp"
#include "util/system.hpp"

namespace kakuren::checkpoint {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_manifest = "manifest.sha256";
constexpr std::string_view k_loop_file = "loop.bin";
constexpr std::string_view k_recipe_file = "recipe.toml";
/// The digests of the checkpoint's database half (per-sample state, hidden set); the manifest
/// covers it like any file, so a changed blob in the database is caught like a damaged file.
constexpr std::string_view k_state_file = "state.sha256";
constexpr std::string_view k_temp_prefix = ".tmp-";
constexpr std::string_view k_damaged = ".damaged";

/// An I/O failure on one path, with errno; turned into a CheckpointError by save().
struct IoFailure {
    fs::path path;
    int error = 0;
    std::string doing;
};

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

/// state.sha256: "<sha256>  <part>" for loss, correct, confidence (their little-endian bytes)
/// and hidden (the distinct ids ascending, int64 little-endian), as the database stores them.
std::string state_digest(std::span<const float> loss, std::span<const std::uint8_t> correct,
                         std::span<const float> confidence,
                         std::span<const std::int64_t> hidden_ids) {
    std::vector<std::int64_t> hidden(hidden_ids.begin(), hidden_ids.end());
    std::sort(hidden.begin(), hidden.end());
    hidden.erase(std::unique(hidden.begin(), hidden.end()), hidden.end());
    return util::sha256_hex(le_bytes(loss)) + "  loss\n" + util::sha256_hex(le_bytes(correct)) +
           "  correct\n" + util::sha256_hex(le_bytes(confidence)) + "  confidence\n" +
           util::sha256_hex(le_bytes(std::span<const std::int64_t>(hidden))) + "  hidden\n";
}

/// Creates path (which must not exist), writes data, fsyncs and closes it.
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

struct ManifestEntry {
    std::string sha256;
    std::string file;
};

/// Parses "<64 hex>  <file>" lines; nullopt if any line is malformed.
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

std::atomic<FaultHook> g_fault_hook{nullptr};

void fault_point(FaultPoint point, int save_number) {
    if (const FaultHook hook = g_fault_hook.load()) {
        hook(point, save_number);
    }
}

} // namespace

const char* to_string(FaultPoint point) {
    switch (point) {
    case FaultPoint::write:
        return "write";
    case FaultPoint::synced:
        return "synced";
    case FaultPoint::renamed:
        return "renamed";
    case FaultPoint::committed:
        return "committed";
    case FaultPoint::retention:
        return "retention";
    }
    return "?";
}

void set_fault_hook(FaultHook hook) {
    g_fault_hook.store(hook);
}

Manager::Manager(db::Store& store, std::string run_id, fs::path dir, Config config)
    : m_store(store), m_run_id(std::move(run_id)), m_dir(std::move(dir)), m_config(config) {}

void Manager::set_context(int attempt, std::string recipe_text) {
    m_attempt = attempt;
    m_recipe_text = std::move(recipe_text);
}

db::CheckpointRow Manager::save(const Snapshot& snapshot) {
    const int save_number = ++m_saves;
    const LoopState& loop = snapshot.loop;
    const std::string name = loop.position.name();
    const std::vector<db::CheckpointRow> before = m_store.checkpoints(m_run_id);
    for (const db::CheckpointRow& row : before) {
        if (row.name == name) {
            return row; // this position is already committed
        }
    }
    const std::string previous =
        before.empty() ? "; there is no earlier checkpoint"
                       : "; the previous checkpoint " + before.back().name + " stays valid";
    const std::string what = "cannot write checkpoint " + name + " of run " + m_run_id;

    const fs::path final_dir = m_dir / name;
    const fs::path temp_dir =
        m_dir / (std::string(k_temp_prefix) + name + "-" + std::to_string(::getpid()));
    db::CheckpointRow row;
    row.run_id = m_run_id;
    row.name = name;
    row.epoch = loop.position.epoch;
    row.step = loop.position.step;
    row.epoch_end = loop.position.epoch_end;
    row.attempt = m_attempt;
    row.reason = to_string(snapshot.reason);
    row.created_at = util::iso8601_utc_now();
    row.test_accuracy = snapshot.test_accuracy;
    row.mllog_bytes = loop.mllog_bytes;
    row.num_samples = loop.num_samples;
    bool renamed = false;
    try {
        std::error_code ec;
        fs::create_directories(m_dir, ec);
        if (ec) {
            throw IoFailure{m_dir, ec.value(), "creating folder"};
        }
        remove_quietly(temp_dir); // left by an earlier process with our pid
        if (!fs::create_directory(temp_dir, ec) || ec) {
            throw IoFailure{temp_dir, ec ? ec.value() : EEXIST, "creating folder"};
        }
        const std::string loop_bytes = encode(loop);
        const std::string state_bytes =
            state_digest(snapshot.loss, snapshot.correct, snapshot.confidence, snapshot.hidden_ids);
        std::vector<std::pair<std::string_view, std::string_view>> files;
        files.reserve(snapshot.files.size() + 3);
        for (const File& f : snapshot.files) {
            files.emplace_back(f.name, f.bytes);
        }
        files.emplace_back(k_loop_file, loop_bytes);
        files.emplace_back(k_recipe_file, m_recipe_text);
        files.emplace_back(k_state_file, state_bytes);
        std::string manifest;
        for (std::size_t i = 0; i < files.size(); ++i) {
            const auto& [file, bytes] = files[i];
            write_synced(temp_dir / file, bytes);
            manifest += util::sha256_hex(bytes) + "  " + std::string(file) + "\n";
            row.size_bytes += static_cast<std::int64_t>(bytes.size());
            if (i == 0) {
                fault_point(FaultPoint::write, save_number);
                util::pause_point("checkpoint");
            }
        }
        write_synced(temp_dir / k_manifest, manifest);
        fsync_dir(temp_dir);
        row.manifest = std::move(manifest);
        fault_point(FaultPoint::synced, save_number);

        // A folder of this name without a row was never committed (a process stopped between
        // its rename and its commit): replace it.
        remove_quietly(final_dir);
        if (::rename(temp_dir.c_str(), final_dir.c_str()) != 0) {
            throw IoFailure{final_dir, errno, "renaming " + temp_dir.filename().string() + " to"};
        }
        renamed = true;
        fsync_dir(m_dir);
        fault_point(FaultPoint::renamed, save_number);
    } catch (const IoFailure& f) {
        remove_quietly(renamed ? final_dir : temp_dir);
        throw CheckpointError(what + ": " + f.doing + " " + f.path.string() + ": " +
                              std::strerror(f.error) + hint_for(f.error) +
                              ", then kakuren resume " + m_run_id + ")" + previous);
    }

    try {
        const db::SampleStateView state{snapshot.loss, snapshot.correct, snapshot.confidence};
        m_store.record_checkpoint(row, state, snapshot.hidden_ids);
    } catch (const RuntimeFailure& e) {
        remove_quietly(final_dir);
        throw CheckpointError(what + ": " + e.what() + previous);
    }
    fault_point(FaultPoint::committed, save_number);
    apply_retention();
    return row;
}

void Manager::apply_retention() {
    const std::vector<db::CheckpointRow> rows = m_store.checkpoints(m_run_id); // oldest first
    const auto keep_last = static_cast<std::size_t>(std::max(1, m_config.keep_last));
    if (rows.size() <= keep_last) {
        return;
    }
    std::set<std::string> keep;
    for (std::size_t i = rows.size() - keep_last; i < rows.size(); ++i) {
        keep.insert(rows[i].name);
    }
    if (m_config.keep_best) {
        const db::CheckpointRow* best = nullptr;
        for (const db::CheckpointRow& r : rows) {
            // The first to reach the best accuracy: later ties are not better.
            if (r.epoch_end && r.test_accuracy &&
                (best == nullptr || *r.test_accuracy > *best->test_accuracy)) {
                best = &r;
            }
        }
        if (best != nullptr) {
            keep.insert(best->name);
        }
    }
    std::vector<std::string> victims;
    for (const db::CheckpointRow& r : rows) {
        if (keep.count(r.name) == 0) {
            victims.push_back(r.name);
        }
    }
    if (victims.empty()) {
        return;
    }
    // Rows first: a folder without a row is never used, a row without a folder would be.
    m_store.delete_checkpoints(m_run_id, victims);
    fault_point(FaultPoint::retention, m_saves);
    for (const std::string& name : victims) {
        remove_quietly(m_dir / name);
    }
}

std::string Manager::verify(const db::CheckpointRow& row,
                            std::map<std::string, std::string>* contents) const {
    const fs::path folder = m_dir / row.name;
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) {
        return "its folder " + folder.string() + " is missing";
    }
    std::string on_disk;
    try {
        on_disk = util::read_file(folder / k_manifest);
    } catch (const RuntimeFailure&) {
        return std::string(k_manifest) + " is missing or unreadable";
    }
    if (on_disk != row.manifest) {
        return std::string(k_manifest) + " differs from the database record";
    }
    const auto entries = parse_manifest(row.manifest);
    if (!entries || entries->empty()) {
        return "its manifest is malformed";
    }
    std::int64_t total = 0;
    std::optional<std::string> state_sums;
    for (const ManifestEntry& e : *entries) {
        std::string bytes;
        try {
            bytes = util::read_file(folder / e.file);
        } catch (const RuntimeFailure&) {
            return e.file + " is missing or unreadable";
        }
        if (util::sha256_hex(bytes) != e.sha256) {
            return e.file + ": sha256 mismatch (" + std::to_string(bytes.size()) +
                   " bytes; damaged or truncated)";
        }
        total += static_cast<std::int64_t>(bytes.size());
        if (e.file == k_state_file) {
            state_sums = bytes;
        }
        if (contents != nullptr) {
            (*contents)[e.file] = std::move(bytes);
        }
    }
    if (total != row.size_bytes) {
        return "its files hold " + std::to_string(total) + " bytes; the record says " +
               std::to_string(row.size_bytes);
    }
    // The database half: per-sample state and hidden set (checkpoints written before
    // state.sha256 existed get the length checks of checkpoint_state only).
    std::optional<db::CheckpointState> state;
    try {
        state = m_store.checkpoint_state(m_run_id, row.name);
    } catch (const db::DbError& e) {
        return std::string("its per-sample state in the database is damaged: ") + e.what();
    }
    if (!state) {
        return "its per-sample state is missing from the database";
    }
    if (state_sums && *state_sums != state_digest(state->loss, state->correct, state->confidence,
                                                  state->hidden_ids)) {
        return "its per-sample state in the database does not match " + std::string(k_state_file) +
               " (the database was changed after it was written)";
    }
    return {};
}

std::vector<Status> Manager::inspect() const {
    const std::vector<db::CheckpointRow> rows = m_store.checkpoints(m_run_id);
    std::vector<Status> out;
    std::set<std::string> committed;
    for (const db::CheckpointRow& row : std::ranges::reverse_view(rows)) {
        Status s;
        s.name = row.name;
        s.row = row;
        s.problem = verify(row, nullptr);
        s.valid = s.problem.empty();
        committed.insert(row.name);
        out.push_back(std::move(s));
    }
    std::error_code ec;
    std::vector<std::string> loose;
    for (fs::directory_iterator d(m_dir, ec), end; !ec && d != end; d.increment(ec)) {
        const std::string name = d->path().filename().string();
        if (!name.starts_with('.') && committed.count(name) == 0) {
            loose.push_back(name);
        }
    }
    std::sort(loose.rbegin(), loose.rend());
    for (const std::string& name : loose) {
        Status s;
        s.name = name;
        s.problem = "not committed to the database (the process stopped while writing it); "
                    "never used";
        out.push_back(std::move(s));
    }
    return out;
}

Resume Manager::load_row(const db::CheckpointRow& row) const {
    const std::string what = "checkpoint " + row.name + " of run " + m_run_id;
    std::map<std::string, std::string> files;
    const std::string problem = verify(row, &files);
    if (!problem.empty()) {
        throw CheckpointError(what + " is not valid: " + problem);
    }
    Resume r;
    r.name = row.name;
    try {
        r.loop = decode_loop_state(files.at(std::string(k_loop_file)));
    } catch (const std::out_of_range&) {
        throw CheckpointError(what + " is not valid: it has no " + std::string(k_loop_file));
    } catch (const CheckpointError& e) {
        throw CheckpointError(what + " is not valid: " + e.what());
    }
    const Position recorded{row.epoch, row.step, row.epoch_end};
    if (!(r.loop.position == recorded) || r.loop.num_samples != row.num_samples) {
        throw CheckpointError(what + " is not valid: " + std::string(k_loop_file) + " is at " +
                              r.loop.position.describe() + " with " +
                              std::to_string(r.loop.num_samples) + " samples; the record says " +
                              recorded.describe() + " with " + std::to_string(row.num_samples));
    }
    if (const auto it = files.find(std::string(k_recipe_file)); it != files.end()) {
        r.recipe_text = std::move(it->second);
        files.erase(it);
    }
    files.erase(std::string(k_loop_file));
    files.erase(std::string(k_state_file));
    r.files = std::move(files);
    r.test_accuracy = row.test_accuracy;
    std::optional<db::CheckpointState> state;
    try {
        state = m_store.checkpoint_state(m_run_id, row.name);
    } catch (const db::DbError& e) {
        // A damaged record is a damaged checkpoint: the previous valid one is used instead.
        throw CheckpointError(what +
                              " is not valid: its per-sample state in the database is "
                              "damaged: " +
                              e.what());
    }
    if (!state) {
        throw CheckpointError(what + " has no per-sample state in the database");
    }
    r.loss = std::move(state->loss);
    r.correct = std::move(state->correct);
    r.confidence = std::move(state->confidence);
    r.hidden_ids = std::move(state->hidden_ids);
    return r;
}

Resume Manager::load(const std::string& name) const {
    for (const db::CheckpointRow& row : m_store.checkpoints(m_run_id)) {
        if (row.name == name) {
            return load_row(row);
        }
    }
    throw CheckpointError("run " + m_run_id + " has no checkpoint " + name);
}

std::optional<Resume> Manager::load_newest_valid(std::vector<Status>& skipped) const {
    const std::vector<db::CheckpointRow> rows = m_store.checkpoints(m_run_id);
    for (const db::CheckpointRow& row : std::ranges::reverse_view(rows)) {
        try {
            return load_row(row);
        } catch (const CheckpointError& e) {
            Status s;
            s.name = row.name;
            s.row = row;
            s.problem = e.what();
            const std::string prefix =
                "checkpoint " + row.name + " of run " + m_run_id + " is not valid: ";
            if (s.problem.starts_with(prefix)) {
                s.problem.erase(0, prefix.size());
            }
            skipped.push_back(std::move(s));
        }
    }
    return std::nullopt;
}

void Manager::set_aside(const std::vector<std::string>& names, int attempt) {
    if (names.empty()) {
        return;
    }
    m_store.delete_checkpoints(m_run_id, names);
    const fs::path damaged = m_dir / k_damaged;
    std::error_code ec;
    fs::create_directories(damaged, ec);
    for (const std::string& name : names) {
        const fs::path from = m_dir / name;
        if (!fs::exists(from, ec)) {
            continue;
        }
        const fs::path to = damaged / (name + ".attempt-" + std::to_string(attempt));
        remove_quietly(to);
        fs::rename(from, to, ec);
        if (ec) {
            remove_quietly(from); // it must not be mistaken for a checkpoint later
        }
    }
}

std::vector<std::string> Manager::remove_uncommitted() {
    std::set<std::string> committed;
    for (const db::CheckpointRow& row : m_store.checkpoints(m_run_id)) {
        committed.insert(row.name);
    }
    std::vector<std::string> removed;
    std::error_code ec;
    std::vector<fs::path> doomed;
    for (fs::directory_iterator d(m_dir, ec), end; !ec && d != end; d.increment(ec)) {
        const std::string name = d->path().filename().string();
        if (name.starts_with(k_temp_prefix) ||
            (!name.starts_with('.') && committed.count(name) == 0)) {
            doomed.push_back(d->path());
            removed.push_back(name);
        }
    }
    for (const fs::path& p : doomed) {
        remove_quietly(p);
    }
    if (!doomed.empty()) {
        try {
            fsync_dir(m_dir);
        } catch (const IoFailure&) {
            // Removing debris is best effort: a later resume removes what is left.
        }
    }
    std::sort(removed.begin(), removed.end());
    return removed;
}

} // namespace kakuren::checkpoint

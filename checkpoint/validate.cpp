// Reading checkpoints back: validation of a folder against its record, listing, loading.
#include <algorithm>
#include <map>
#include <optional>
#include <ranges>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/folder_io.hpp"
#include "checkpoint/manager.hpp"
#include "util/system.hpp"

namespace kakuren::checkpoint {

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
    if (state_sums && *state_sums != state_digest(state->stats.view(), state->hidden_ids)) {
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
    r.stats = std::move(state->stats);
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

} // namespace kakuren::checkpoint

// Removing checkpoints: retention after a save (rows first, folders after), setting damaged ones
// aside, removing folders that were never committed.
#include <algorithm>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "checkpoint/fault_hook.hpp"
#include "checkpoint/folder_io.hpp"
#include "checkpoint/manager.hpp"

namespace kakuren::checkpoint {

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

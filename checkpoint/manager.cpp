// Saving a checkpoint: the protocol of Manager::save (checkpoint/manager.hpp). Reading checkpoints
// back is in validate.cpp, retention and removal in cleanup.cpp.
#include "checkpoint/manager.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "checkpoint/fault_hook.hpp"
#include "checkpoint/folder_io.hpp"
#include "util/stop.hpp"
#include "util/system.hpp"

namespace kakuren::checkpoint {

namespace {

/// Writes the snapshot's files, loop.bin, recipe.toml and state.sha256 into temp_dir (each
/// fsynced), then manifest.sha256, and fsyncs the folder; adds to row.size_bytes and sets
/// row.manifest. Throws IoFailure.
void write_files(const Snapshot& snapshot, std::string_view recipe_text, const fs::path& temp_dir,
                 int save_number, db::CheckpointRow& row) {
    const LoopState& loop = snapshot.loop;
    const std::string loop_bytes = encode(loop);
    const std::string state_bytes = state_digest(snapshot.stats, snapshot.hidden_ids);
    std::vector<std::pair<std::string_view, std::string_view>> files;
    files.reserve(snapshot.files.size() + 3);
    for (const File& f : snapshot.files) {
        files.emplace_back(f.name, f.bytes);
    }
    files.emplace_back(k_loop_file, loop_bytes);
    files.emplace_back(k_recipe_file, recipe_text);
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
}

// The row that commits a checkpoint of this snapshot (size and manifest follow from its files).
db::CheckpointRow row_for(const Snapshot& snapshot, const std::string& run_id, int attempt) {
    const LoopState& loop = snapshot.loop;
    db::CheckpointRow row;
    row.run_id = run_id;
    row.name = loop.position.name();
    row.epoch = loop.position.epoch;
    row.step = loop.position.step;
    row.epoch_end = loop.position.epoch_end;
    row.attempt = attempt;
    row.reason = to_string(snapshot.reason);
    row.created_at = util::iso8601_utc_now();
    row.test_accuracy = snapshot.test_accuracy;
    row.mllog_bytes = loop.mllog_bytes;
    row.num_samples = loop.num_samples;
    return row;
}

// The folders of one save: the checkpoints folder, the temporary folder and the final one.
struct SaveDirs {
    fs::path dir;
    fs::path temp_dir;
    fs::path final_dir;
};

/// Writes the files into a fresh temporary folder, then renames it to its final name and syncs
/// the checkpoints folder. On IoFailure removes the folder it made, then rethrows.
void write_and_rename(const Snapshot& snapshot, std::string_view recipe_text, const SaveDirs& d,
                      int save_number, db::CheckpointRow& row) {
    bool renamed = false;
    try {
        std::error_code ec;
        fs::create_directories(d.dir, ec);
        if (ec) {
            throw IoFailure{d.dir, ec.value(), "creating folder"};
        }
        remove_quietly(d.temp_dir); // left by an earlier process with our pid
        if (!fs::create_directory(d.temp_dir, ec) || ec) {
            throw IoFailure{d.temp_dir, ec ? ec.value() : EEXIST, "creating folder"};
        }
        write_files(snapshot, recipe_text, d.temp_dir, save_number, row);
        fault_point(FaultPoint::synced, save_number);

        // A folder of this name without a row was never committed (a process stopped between
        // its rename and its commit): replace it.
        remove_quietly(d.final_dir);
        if (::rename(d.temp_dir.c_str(), d.final_dir.c_str()) != 0) {
            throw IoFailure{d.final_dir, errno,
                            "renaming " + d.temp_dir.filename().string() + " to"};
        }
        renamed = true;
        fsync_dir(d.dir);
        fault_point(FaultPoint::renamed, save_number);
    } catch (const IoFailure&) {
        remove_quietly(renamed ? d.final_dir : d.temp_dir);
        throw;
    }
}

} // namespace

Manager::Manager(db::Store& store, std::string run_id, fs::path dir, Config config)
    : m_store(store), m_run_id(std::move(run_id)), m_dir(std::move(dir)), m_config(config) {}

void Manager::set_context(int attempt, std::string recipe_text) {
    m_attempt = attempt;
    m_recipe_text = std::move(recipe_text);
}

db::CheckpointRow Manager::save(const Snapshot& snapshot) {
    const int save_number = ++m_saves;
    const std::string name = snapshot.loop.position.name();
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

    const SaveDirs dirs{
        m_dir, m_dir / (std::string(k_temp_prefix) + name + "-" + std::to_string(::getpid())),
        m_dir / name};
    db::CheckpointRow row = row_for(snapshot, m_run_id, m_attempt);
    try {
        write_and_rename(snapshot, m_recipe_text, dirs, save_number, row);
    } catch (const IoFailure& f) {
        throw CheckpointError(what + ": " + f.doing + " " + f.path.string() + ": " +
                              std::strerror(f.error) + hint_for(f.error) +
                              ", then kakuren resume " + m_run_id + ")" + previous);
    }

    try {
        m_store.record_checkpoint(row, snapshot.stats, snapshot.hidden_ids);
    } catch (const RuntimeFailure& e) {
        remove_quietly(dirs.final_dir);
        throw CheckpointError(what + ": " + e.what() + previous);
    }
    fault_point(FaultPoint::committed, save_number);
    apply_retention();
    return row;
}

} // namespace kakuren::checkpoint

#pragma once
// Checkpoints on disk and in the store: atomic checkpoint folders with a sha256 manifest, their
// record and per-sample state committed to the database in one transaction, validation,
// loading, and retention that deletes old checkpoints only after a new one is committed.
//
// Layout: <dir>/<name>/ (dir = runs/<run-id>/checkpoints, name = Position::name()) holds the
// trainer's files (model.pt, optimizer.pt, rng.pt), loop.bin, recipe.toml and manifest.sha256
// ("<sha256 hex>  <file>" per file: `sha256sum -c manifest.sha256` checks it by hand). A
// checkpoint is valid only when its database row exists and every file matches the row's
// manifest. Folders whose names start with '.' are the manager's own: .tmp-* (being written)
// and .damaged/ (set aside by a resume).
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/state.hpp"
#include "db/store.hpp"

namespace kakuren::checkpoint {

/// One checkpoint as a listing shows it.
struct Status {
    std::string name;
    /// The database record; nullopt for a folder that was never committed (the process stopped
    /// while writing it): such a folder is never used, and a resume removes it.
    std::optional<db::CheckpointRow> row;
    bool valid = false;
    std::string problem; ///< why it is not valid ("model.pt: sha256 mismatch ..."), else empty
};

class Manager {
  public:
    /// Checkpoints of run_id in dir (runs/<run-id>/checkpoints; created on the first save).
    /// The store must outlive the manager.
    Manager(db::Store& store, std::string run_id, std::filesystem::path dir, Config config = {});

    /// What later saves record: the attempt writing them and the resolved recipe (stored as
    /// recipe.toml in each checkpoint, for the checks of a resume).
    void set_context(int attempt, std::string recipe_text);

    /// Writes the snapshot as checkpoint snapshot.loop.position.name(): files into
    /// <dir>/.tmp-<name>-<pid>/, each fsynced, then manifest.sha256, the folder fsynced, renamed
    /// to <dir>/<name>, <dir> fsynced; then its row, per-sample state and hidden set in one
    /// transaction; then retention (rows first, folders after). A committed checkpoint of the
    /// same name is left as it is. Throws CheckpointError naming the file and the cause (disk
    /// full, database locked, ...); then nothing of the new checkpoint is left behind and the
    /// checkpoints committed before stay valid.
    db::CheckpointRow save(const Snapshot& snapshot);

    /// Every checkpoint: the committed ones (each validated: every file read and hashed) and
    /// folders without a record, newest first.
    std::vector<Status> inspect() const;

    /// Loads the newest committed checkpoint that validates. Each newer one that does not is
    /// appended to `skipped` with its problem and never loaded. nullopt when none validates.
    std::optional<Resume> load_newest_valid(std::vector<Status>& skipped) const;

    /// Loads one committed checkpoint, validating every file. Throws CheckpointError saying what
    /// is wrong with it.
    Resume load(const std::string& name) const;

    /// Removes the records of these checkpoints and moves their folders to
    /// <dir>/.damaged/<name>.attempt-<attempt> (kept for inspection, never used again).
    void set_aside(const std::vector<std::string>& names, int attempt);

    /// Removes folders that are not committed checkpoints (.tmp-* and folders without a row);
    /// returns their names.
    std::vector<std::string> remove_uncommitted();

    [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }

  private:
    /// Validates a committed checkpoint's folder against its row; the files' bytes are returned
    /// when contents is not null. Returns the problem, empty if it is valid.
    std::string verify(const db::CheckpointRow& row,
                       std::map<std::string, std::string>* contents) const;
    Resume load_row(const db::CheckpointRow& row) const;
    void apply_retention();

    db::Store& m_store;
    std::string m_run_id;
    std::filesystem::path m_dir;
    Config m_config;
    int m_attempt = 1;
    std::string m_recipe_text;
    int m_saves =
        0; ///< saves started by this manager (for the fault hook, checkpoint/fault_hook.hpp)
};

} // namespace kakuren::checkpoint

#pragma once
// Private to checkpoint/: a checkpoint folder's file names, durable writes (fsync), the manifest
// and the digest of the per-sample state, shared by saving, validating and removing checkpoints.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/sample_stats.hpp"

namespace kakuren::checkpoint {

namespace fs = std::filesystem;

inline constexpr std::string_view k_manifest = "manifest.sha256";
inline constexpr std::string_view k_loop_file = "loop.bin";
inline constexpr std::string_view k_recipe_file = "recipe.toml";
/// The digests of the checkpoint's database half (per-sample state, hidden set); the manifest
/// covers it like any file, so a changed blob in the database is caught like a damaged file.
inline constexpr std::string_view k_state_file = "state.sha256";
inline constexpr std::string_view k_temp_prefix = ".tmp-";
inline constexpr std::string_view k_damaged = ".damaged";

/// An I/O failure on one path, with errno; turned into a CheckpointError by save().
struct IoFailure {
    fs::path path;
    int error = 0;
    std::string doing;
};

/// state.sha256: "<sha256>  <part>" for loss, correct, confidence (their little-endian bytes)
/// and hidden (the distinct ids ascending, int64 little-endian), as the database stores them.
std::string state_digest(const util::SampleStatsView& stats,
                         std::span<const std::int64_t> hidden_ids);

/// Creates path (which must not exist), writes data, fsyncs and closes it. Throws IoFailure.
void write_synced(const fs::path& path, std::string_view data);
/// fsyncs a folder (after creating, renaming or removing entries in it). Throws IoFailure.
void fsync_dir(const fs::path& dir);
/// " (what to do" for an errno of a failed write; the caller closes the parenthesis.
std::string hint_for(int error);
/// Removes a file or folder tree; errors are ignored.
void remove_quietly(const fs::path& path);

struct ManifestEntry {
    std::string sha256;
    std::string file;
};

/// Parses "<64 hex>  <file>" lines; nullopt if any line is malformed.
std::optional<std::vector<ManifestEntry>> parse_manifest(const std::string& text);

} // namespace kakuren::checkpoint

#pragma once
// Data staging ([data] stage = "node-local"): copy the data files once per node to node-local
// storage before training, so that the ranks read them from there instead of a shared
// filesystem.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace kakuren::launcher {

struct StageResult {
    std::filesystem::path dir;      ///< where the files are now
    std::vector<std::string> files; ///< the staged copies, in the order of the request
    std::int64_t bytes = 0;         ///< total size
    bool copied = false;            ///< this process copied them (else found them there)
    double seconds = 0;             ///< spent copying or waiting
};

/// Node-local storage: $SLURM_TMPDIR, else $TMPDIR, else /dev/shm (from env).
std::filesystem::path node_local_base(const std::map<std::string, std::string>& env);

/// Stages files into base/kakuren-stage-<hash of their paths, sizes and times>/. The rank with
/// local_rank 0 copies (into a temporary folder, renamed into place: a half copy is never
/// used); the other ranks of the node wait for the folder up to timeout_s. A folder already
/// there with the same sizes is reused (a requeued job on the same node copies nothing).
/// Throws RuntimeFailure naming the file and the cause (a full disk, a missing file, a timeout).
StageResult stage_files(const std::vector<std::string>& files, const std::filesystem::path& base,
                        int local_rank, double timeout_s);

} // namespace kakuren::launcher

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

/// One file to stage: where it is, and where it goes inside the staged folder.
struct StageFile {
    std::string source;
    std::filesystem::path relative; ///< "train/data.npy"; folders are created as needed
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

/// The same with each file's place inside the staged folder given (a tree, not a flat list).
StageResult stage_tree(const std::vector<StageFile>& files, const std::filesystem::path& base,
                       int local_rank, double timeout_s);

/// The two staged splits of a streaming data set (data.dataset npy or hdf5).
struct StagedSplits {
    StageResult stage;
    std::string train, test; ///< the staged data.train and data.test
};

/// Stages a streaming data set's two splits with stage_tree: a split that is a file (one .h5)
/// as <staged>/train/<name>; a split folder with every file under it (data.npy + targets.npy,
/// files_data.lst + files_label.lst and the per-sample files they list, a DeepCAM folder) as
/// <staged>/train/...; the stats.h5 above a split folder (DeepCAM) as <staged>/stats.h5; the same
/// for test. Every file is staged on every node: each epoch deals a new shuffled visiting order
/// out to the ranks, so over a run every rank reads every sample. Throws RuntimeFailure naming
/// the file: a split that is missing, a file list naming a file outside its folder (its copy
/// could not be found from the staged list), or a stage_tree failure.
StagedSplits stage_splits(const std::string& train, const std::string& test,
                          const std::filesystem::path& base, int local_rank, double timeout_s);

/// What stage_splits checks before it copies anything, alone (kakuren recipe check, run and
/// submit with data.stage = "node-local"): both splits exist, and every file list names regular
/// files inside its folder. Copies nothing; throws RuntimeFailure as stage_splits does.
void check_stageable(const std::string& train, const std::string& test);

} // namespace kakuren::launcher

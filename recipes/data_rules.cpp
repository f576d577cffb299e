// Splits given as files (recipes/data_rules.hpp).
#include "recipes/data_rules.hpp"

#include <filesystem>

#include "util/data_path.hpp"

namespace kakuren::recipes {
namespace {

namespace fs = std::filesystem;

struct SplitKeys {
    const char* split;   ///< "data.train"
    const char* targets; ///< "data.train_targets"
    std::string DataSection::*path;
    std::string DataSection::*targets_path;
};

constexpr SplitKeys k_splits[] = {
    {"data.train", "data.train_targets", &DataSection::train, &DataSection::train_targets},
    {"data.test", "data.test_targets", &DataSection::test, &DataSection::test_targets},
};

std::string in_quotes(const std::string& s) {
    return "\"" + s + "\"";
}

/// npy: an array file needs its targets file; a folder holds its own.
void check_npy(const SplitKeys& k, const DataSection& d, std::vector<DataKeyProblem>& out) {
    const std::string& split = d.*k.path;
    const std::string& targets = d.*k.targets_path;
    std::error_code ec;
    const std::string targets_key = k.targets;
    if (fs::is_directory(split, ec)) {
        if (!targets.empty()) {
            out.push_back(
                {targets_key, targets_key + " is set, but " + k.split + " (" + split +
                                  ") is a folder, which holds its own targets (targets.npy or "
                                  "files_label.lst); set " +
                                  k.split + " to the array file (x_train.npy) or remove " +
                                  targets_key});
        }
        return;
    }
    if (!fs::exists(split, ec)) {
        return; // reported by the loader
    }
    if (!fs::is_regular_file(split, ec)) {
        out.push_back({k.split, std::string(k.split) + ": " + split +
                                    " is neither a folder nor a file; data.dataset = \"npy\" "
                                    "needs a folder with data.npy + targets.npy or "
                                    "files_data.lst + files_label.lst, or an array file"});
    } else if (targets.empty()) {
        out.push_back({k.split, std::string(k.split) + ": " + split +
                                    " is an array file; name its targets file in " + targets_key +
                                    " (an .npy of [N] or [N, ...])"});
    } else if (!fs::is_regular_file(targets, ec)) {
        out.push_back(
            {targets_key, targets_key + ": " + targets +
                              (fs::exists(targets, ec) ? " is not a file" : " does not exist")});
    }
}

/// hdf5: "FILE:/DATASET" splits come with "FILE:/DATASET" targets.
void check_hdf5(const SplitKeys& k, const DataSection& d, std::vector<DataKeyProblem>& out) {
    const util::FileAndDataset split = util::split_file_dataset(d.*k.path);
    const std::string& targets = d.*k.targets_path;
    const std::string targets_key = k.targets;
    std::error_code ec;
    if (split.dataset.empty()) {
        if (!targets.empty()) {
            out.push_back(
                {targets_key, targets_key + " is set, but " + k.split + " (" + split.file +
                                  ") names a whole file or folder, whose targets are " +
                                  "data.target_key; give both as FILE:/DATASET (" + k.split +
                                  " = \"all.h5:/train/images\", " + targets_key +
                                  " = \"all.h5:/train/labels\") or remove " + targets_key});
        }
        return;
    }
    if (targets.empty()) {
        out.push_back({k.split, std::string(k.split) + " names the dataset /" + split.dataset +
                                    " of " + split.file + "; name its targets in " + targets_key +
                                    " as FILE:/DATASET (" + targets_key +
                                    " = \"all.h5:/train/labels\")"});
        return;
    }
    const util::FileAndDataset t = util::split_file_dataset(targets);
    if (!fs::exists(t.file, ec)) {
        out.push_back({targets_key, targets_key + ": " + t.file + " does not exist"});
    } else if (t.dataset.empty()) {
        out.push_back({targets_key, targets_key + ": " + in_quotes(targets) +
                                        " names no dataset; write it as FILE:/DATASET (" +
                                        targets_key + " = \"all.h5:/train/labels\")"});
    }
}

} // namespace

std::vector<DataKeyProblem> check_split_targets(DataSection& data, const ResolvePath& resolve) {
    std::vector<DataKeyProblem> out;
    const bool arrays = data.dataset == "npy" || data.dataset == "hdf5";
    for (const SplitKeys& k : k_splits) {
        std::string& targets = data.*k.targets_path;
        if (!arrays) {
            if (!targets.empty()) {
                out.push_back({k.targets, std::string(k.targets) +
                                              " names the targets of an npy array file or an "
                                              "HDF5 dataset; data.dataset = " +
                                              in_quotes(data.dataset) + " does not read it"});
            }
            continue;
        }
        if (!targets.empty()) {
            targets = resolve(k.targets, targets);
        }
        if (!(data.*k.path).empty()) { // an unset split is reported by the loader
            (data.dataset == "npy" ? check_npy : check_hdf5)(k, data, out);
        }
    }
    if (arrays && data.stage == "node-local" &&
        (!data.train_targets.empty() || !data.test_targets.empty())) {
        out.push_back({"data.stage", "data.stage = \"node-local\" copies split folders and "
                                     "whole split files; a split given with data.train_targets "
                                     "or data.test_targets is not staged: set data.stage = "
                                     "\"none\" (read in place) or give folders"});
    }
    if (!arrays && data.layout == "nhwc") {
        out.push_back({"data.layout", "data.layout = \"nhwc\" describes npy and hdf5 arrays; "
                                      "data.dataset = " +
                                          in_quotes(data.dataset) + " sets its own channel order"});
    }
    return out;
}

} // namespace kakuren::recipes

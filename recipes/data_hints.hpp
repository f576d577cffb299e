#pragma once
// Hints for data paths that do not fit data.dataset, found while the recipe loads (so before a
// run is recorded): a data set's root given where a split belongs, and the command that writes
// a missing stand-in. Only folder listings are read, never the data.
#include <filesystem>
#include <optional>
#include <string>

namespace kakuren::recipes {

/// When `folder` (given as `key`, "data.train" or "data.test", of a data.dataset = "npy",
/// "hdf5" or "images" recipe) is not a split but a data set's root that holds one: the split
/// folder meant (train/ or training/ for data.train; test/, validation/, val/ or valid/ for
/// data.test, in that order). A split is: npy: data.npy or files_data.lst inside; hdf5: an
/// .h5 / .hdf5 file other than stats.h5 inside; images: class sub-folders inside (and a root
/// holds nothing but split folders). nullopt when folder is a split, or no split is found.
/// Throws nothing (an unreadable folder is no hint).
std::optional<std::filesystem::path> split_folder_meant(const std::string& dataset,
                                                        const std::string& key,
                                                        const std::filesystem::path& folder);

/// When `missing` (an absolute path that does not exist) is where a `kakuren data synth` stand-in
/// split would be (model.kind cosmoflow with data.dataset "npy", or deepcam with "hdf5", and a
/// last component "train" or "validation"): "; write the <kind> stand-in there with: kakuren
/// data synth ... -o <parent>" with the mini recipes' sizes. "" otherwise. Throws nothing.
std::string standin_hint(const std::string& model_kind, const std::string& dataset,
                         const std::filesystem::path& missing);

} // namespace kakuren::recipes

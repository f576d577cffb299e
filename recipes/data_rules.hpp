#pragma once
// The rules of a split given as a file rather than a folder, found while the recipe loads (so
// before anything is recorded): npy `data.train = "x_train.npy"` with its targets file in
// `data.train_targets`, hdf5 `data.train = "all.h5:/train/images"` with `data.train_targets =
// "all.h5:/train/labels"` (and data.test alike), and `data.layout`. Only the file system's
// entries are looked at, never the data (the data check opens the files).
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "recipes/recipe.hpp"

namespace kakuren::recipes {

/// A problem with the data keys: the key to point at and the message.
struct DataKeyProblem {
    std::string key, message;
};

/// Resolves a path value given for `key` to an absolute path (relative to the recipe's folder
/// or the current folder for --set), as the loader does for every path key.
using ResolvePath = std::function<std::string(std::string_view key, const std::string& value)>;

/// Checks data.train_targets / data.test_targets against data.dataset and data.train /
/// data.test (already absolute), resolving the targets keys in place:
/// - npy: a split that is a file needs its targets key (an existing file); a split that is a
///   folder holds its own targets, so a targets key beside it is refused;
/// - hdf5: a split given as "FILE:/DATASET" needs its targets key as "FILE:/DATASET" too; a
///   targets key beside a whole-file or folder split is refused;
/// - any other data.dataset: a targets key is refused, as is data.layout = "nhwc".
/// Missing splits are reported by the caller (not here). Throws nothing.
std::vector<DataKeyProblem> check_split_targets(DataSection& data, const ResolvePath& resolve);

} // namespace kakuren::recipes

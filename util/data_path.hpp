#pragma once
// A data split's path that may name a dataset inside an HDF5 file, "all.h5:/train/images"
// (data.train, data.train_targets, ...): one rule, read by the recipe loader (which checks that
// the file exists) and by the hdf5 source (which opens the dataset).
#include <string>

namespace kakuren::util {

struct FileAndDataset {
    std::string file;    ///< the file or folder
    std::string dataset; ///< the dataset inside the file, without a leading '/'; "" = none
};

/// Splits `value` at the first ':' whose prefix is an existing regular file, so that a folder
/// or a file whose name holds ':' is still a plain path. When no prefix exists and value itself
/// does not, at the first ":/" (a missing file is then reported by its own name). Otherwise the
/// whole value is the file. Throws nothing.
FileAndDataset split_file_dataset(const std::string& value);

} // namespace kakuren::util

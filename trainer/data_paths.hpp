#pragma once
// Where a streaming split's arrays are, as the recipe names them: a folder, an npy array file
// with its targets file (data.train_targets), an HDF5 file or an HDF5 dataset with its targets
// dataset ("FILE:/DATASET"). Private to trainer/ (torch, through stream.hpp).
#include <memory>
#include <string>
#include <vector>

#include "trainer/stream.hpp"

namespace kakuren::trainer {

/// The targets key of a split key ("data.train" -> config.train_targets_path).
const std::string& split_targets(const DataConfig& config, const std::string& key);

/// Opens an npy or hdf5 split at `path` (named `key`, "data.train" or "data.test"), with its
/// targets key; with data.layout = "nhwc" its [H, W, C] samples become [C, H, W] batches.
/// Throws RuntimeFailure naming the file (also for nhwc samples that are not [H, W, C]),
/// UsageError for an unknown layout.
std::unique_ptr<RawReader> open_array_split(const DataConfig& config, const std::string& path,
                                            const std::string& key);

/// The recipe key a problem opening split `key` belongs to: `key`_targets ("data.train_targets")
/// when the split has a targets key and the message names it (a missing HDF5 targets dataset,
/// " (data.train_targets)") or the targets file; else `key`.
std::string problem_key(const DataConfig& config, const std::string& key,
                        const std::string& message);

/// When a sample shape read as [C, H, W] (data.layout = "nchw") looks channels-last instead
/// ([H, W, C] with C 1, 3 or 4 and H, W at least 4 C): "; the samples look channels-last (...):
/// set data.layout = \"nhwc\"", for the message of a model that cannot take the samples; ""
/// otherwise.
std::string channels_last_hint(const std::vector<std::int64_t>& sample_shape,
                               const std::string& layout);

} // namespace kakuren::trainer

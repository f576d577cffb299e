#pragma once
// kakuren data inspect / convert, run inside the training module (they need the sources, and
// with them LibTorch and libhdf5). No torch in this header.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// A problem check_data() found: the recipe key it concerns ("data.train", "data.test",
/// "model.kind", "model.inputs") and the message, which names the file.
struct DataProblem {
    std::string key, message;
};

/// Checks a streaming data set (data.dataset npy or hdf5) before anything is recorded: opens
/// both splits' headers (shape, dtype, N of samples and of targets, file sizes; stats.h5 of a
/// DeepCAM folder), checks that train and test agree, and builds the model for that sample
/// shape (model.inputs, a science model's input rank and size). Reads no input; reads integer
/// targets to refuse class ids out of range (open_stream_split). Returns every
/// problem found ([] for other data sets: their files are read when the run opens them).
std::vector<DataProblem> check_data(const Config& config);

/// The model against the data before anything is recorded (kakuren recipe check, kakuren run and
/// its dry run; trainer/model_check.cpp): builds config.model (a built-in kind, or the
/// TorchScript module of model.path) for the training split's sample shape, taken from the data's
/// headers only (IDX and npy headers, the HDF5 dataset's shape, the first image of an images split,
/// the synthetic stand-in's configured shape; no sample is read), runs one forward pass of a zero
/// batch [2, ...] and checks that the output fits the task ([2, classes] for classification, [2,
/// classes, H, W] for segmentation, [2, K] for regression). Returns the problem found, or nullopt:
/// its key is "model.path" (a TorchScript module), "model.output" (the output model.output picks),
/// or "model.kind" (a built-in model), its message one line that names the module file, the input
/// shape given and the root cause (the last line of a TorchScript error). Throws what reading
/// the data's headers throws (RuntimeFailure naming the file).
std::optional<DataProblem> check_model_fit(const Config& config);

/// What kakuren sees at `path`: a split (an npy folder, an .h5 file, a DeepCAM folder, an IDX
/// folder) or a data set folder holding train and test splits (train/ + test/, train.h5 +
/// test.h5). Per split: format, N, sample and target shape and type, bytes on disk, classes, and
/// the first problems found reading every sample. Text, or JSON when json is true. Throws
/// RuntimeFailure when nothing readable is at path.
std::string inspect_data(const std::string& path, bool json);

/// What is at `path` when it is not one split but arrays under the user's own names: a folder
/// of .npy files (no data.npy, no files_data.lst), each with its dtype and shape, or an HDF5
/// file without a "data" dataset, each dataset with its type and shape (data_listing.cpp);
/// with a hint of the recipe keys that name them, and "problems found: N" (an unreadable
/// header). nullopt for anything else (inspect_data's splits). Text, or JSON when json.
std::optional<std::string> list_arrays(const std::filesystem::path& path, bool json);

/// inspect_data() of a recipe's data set (`recipe` names it in the output): both splits,
/// opened as the recipe names them (targets keys, data.layout), every sample read. Throws
/// UsageError for a data set that is not npy, hdf5 or images.
std::string inspect_recipe_data(const DataConfig& config, const std::string& recipe, bool json);

/// The file of each training sample in `ids` (data.dataset "images": the image; "npy" with
/// files_data.lst: the sample's .npy), "" for an id out of range or a sample that shares its file
/// with others; [] for other data sets. Lists the split's files (and decodes its first image),
/// reads no other sample. Throws RuntimeFailure when the split cannot be opened.
std::vector<std::string> sample_files(const DataConfig& data, const std::vector<std::int64_t>& ids);

/// Writes the IDX data set in `idx_folder` (the four files of fashion-mnist / idx, .gz or not)
/// as `format` ("npy": out/train/{data,targets}.npy and out/test/...; "hdf5": out/train.h5 and
/// out/test.h5 with datasets data and targets): uint8 images [N, 1, H, W], uint8 labels;
/// "images": out/train/LABEL/NNNNN.png grey PNG files and out/train/files.lst (the IDX order).
/// Returns a summary line. Throws RuntimeFailure (files), UsageError (format).
std::string convert_idx(const std::string& idx_folder, const std::string& format,
                        const std::string& out);

} // namespace kakuren::trainer

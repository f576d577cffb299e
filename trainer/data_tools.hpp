#pragma once
// kakuren data inspect / convert, run inside the training module (they need the sources, and
// with them LibTorch and libhdf5). No torch in this header.
#include <string>

namespace kakuren::trainer {

/// What kakuren sees at `path`: a split (an npy folder, an .h5 file, a DeepCAM folder, an IDX
/// folder) or a data set folder holding train and test splits (train/ + test/, train.h5 +
/// test.h5). Per split: format, N, sample and target shape and type, bytes on disk, classes, and
/// the first problems found reading every sample. Text, or JSON when json is true. Throws
/// RuntimeFailure when nothing readable is at path.
std::string inspect_data(const std::string& path, bool json);

/// Writes the IDX data set in `idx_folder` (the four files of fashion-mnist / idx, .gz or not)
/// as `format` ("npy": out/train/{data,targets}.npy and out/test/...; "hdf5": out/train.h5 and
/// out/test.h5 with datasets data and targets): uint8 images [N, 1, H, W], uint8 labels;
/// "images": out/train/LABEL/NNNNN.png grey PNG files and out/train/files.lst (the IDX order).
/// Returns a summary line. Throws RuntimeFailure (files), UsageError (format).
std::string convert_idx(const std::string& idx_folder, const std::string& format,
                        const std::string& out);

} // namespace kakuren::trainer

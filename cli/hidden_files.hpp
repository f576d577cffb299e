#pragma once
// File names beside sample ids in `kakuren hidden`, for data sets whose samples are files
// (data.dataset = "images", and "npy" with files_data.lst): found from the run's resolved
// recipe by listing its training split as the run did.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/store.hpp"

namespace kakuren::cli {

struct SampleFiles {
    std::string root;               ///< the training split's folder (absolute)
    std::vector<std::string> files; ///< per id: the file's absolute path

    /// files[i] relative to root when inside it (shorter lists), else as it is.
    [[nodiscard]] std::string relative(std::size_t i) const;
};

/// The files of `ids` of run's training split; nullopt for data sets without a file per
/// sample. When the split can no longer be listed (moved, deleted), nullopt and `note` says
/// why; never throws for that.
std::optional<SampleFiles> sample_files_of(const db::RunRow& run,
                                           const std::vector<std::int64_t>& ids, std::string& note);

} // namespace kakuren::cli

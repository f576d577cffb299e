// The "FILE:DATASET" rule of data split paths (util/data_path.hpp).
#include "util/data_path.hpp"

#include <filesystem>

namespace kakuren::util {

FileAndDataset split_file_dataset(const std::string& value) {
    namespace fs = std::filesystem;
    // The dataset after the colon at `at`, leading slashes dropped ("/train/x" -> "train/x").
    const auto split_at = [&value](std::size_t at) {
        const std::size_t name = value.find_first_not_of('/', at + 1);
        return FileAndDataset{value.substr(0, at),
                              name == std::string::npos ? "" : value.substr(name)};
    };
    std::error_code ec;
    for (std::size_t at = value.find(':'); at != std::string::npos; at = value.find(':', at + 1)) {
        if (at > 0 && fs::is_regular_file(value.substr(0, at), ec)) {
            return split_at(at);
        }
    }
    const std::size_t colon = value.find(":/");
    if (colon != std::string::npos && colon > 0 && !fs::exists(value, ec)) {
        return split_at(colon);
    }
    return {value, ""};
}

} // namespace kakuren::util

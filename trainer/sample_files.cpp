// The file behind each training sample, for `kakuren hidden` (trainer/data_tools.hpp).
#include <memory>

#include "trainer/data_tools.hpp"
#include "trainer/stream.hpp"

namespace kakuren::trainer {

std::vector<std::string> sample_files(const DataConfig& data,
                                      const std::vector<std::int64_t>& ids) {
    std::unique_ptr<RawReader> reader;
    if (data.dataset == "images") {
        reader =
            open_images_split(data.train_path, "data.train",
                              image_class_folders(data.train_path, "data.train"), ImageOptions{});
    } else if (data.dataset == "npy") {
        reader = open_npy_split(data.train_path, "data.train", data.train_targets_path);
    } else {
        return {};
    }
    std::vector<std::string> files;
    files.reserve(ids.size());
    for (const std::int64_t id : ids) {
        files.push_back(id >= 0 && id < reader->size() ? reader->sample_file(id) : "");
    }
    return files;
}

} // namespace kakuren::trainer

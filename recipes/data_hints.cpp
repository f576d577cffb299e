#include "recipes/data_hints.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

namespace kakuren::recipes {

namespace fs = std::filesystem;

namespace {

constexpr std::array<std::string_view, 2> k_train_names = {"train", "training"};
constexpr std::array<std::string_view, 4> k_test_names = {"test", "validation", "val", "valid"};

/// One stand-in `kakuren data synth` writes: the command with recipes/*_mini.toml's sizes.
struct Standin {
    std::string_view model_kind, dataset, name, command;
};
constexpr std::array<Standin, 2> k_standins = {{
    {"cosmoflow", "npy", "CosmoFlow",
     "kakuren data synth cosmoflow --size 16 --samples 1024 --validation-samples 256"},
    {"deepcam", "hdf5", "DeepCAM",
     "kakuren data synth deepcam --height 32 --width 32 --samples 512 --validation-samples 128"},
}};

bool is_split_name(std::string_view name) {
    const auto in = [&](const auto& names) {
        return std::find(names.begin(), names.end(), name) != names.end();
    };
    return in(k_train_names) || in(k_test_names);
}

/// The entries of dir (empty when it cannot be listed).
std::vector<fs::directory_entry> entries(const fs::path& dir) {
    std::vector<fs::directory_entry> out;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
        out.push_back(*it);
    }
    return out;
}

bool is_dir(const fs::directory_entry& e) {
    std::error_code ec;
    return e.is_directory(ec);
}

bool has_subfolder(const fs::path& dir) {
    for (const auto& e : entries(dir)) {
        if (is_dir(e)) {
            return true;
        }
    }
    return false;
}

bool is_split(const std::string& dataset, const fs::path& dir) {
    std::error_code ec;
    if (dataset == "npy") {
        return fs::exists(dir / "data.npy", ec) || fs::exists(dir / "files_data.lst", ec);
    }
    if (dataset == "hdf5") {
        for (const auto& e : entries(dir)) {
            const auto ext = e.path().extension();
            if (!is_dir(e) && (ext == ".h5" || ext == ".hdf5") &&
                e.path().filename() != "stats.h5") {
                return true;
            }
        }
        return false;
    }
    return has_subfolder(dir); // images: class folders
}

/// images: a root holds split folders only; a split holds class folders, which may be named
/// anything, so one split-named class alone does not make a root.
bool images_root(const fs::path& dir) {
    bool any = false;
    for (const auto& e : entries(dir)) {
        if (is_dir(e)) {
            if (!is_split_name(e.path().filename().string())) {
                return false;
            }
            any = true;
        }
    }
    return any;
}

} // namespace

std::optional<fs::path> split_folder_meant(const std::string& dataset, const std::string& key,
                                           const fs::path& folder) {
    if (dataset != "npy" && dataset != "hdf5" && dataset != "images") {
        return std::nullopt;
    }
    const bool root = dataset == "images" ? images_root(folder) : !is_split(dataset, folder);
    if (!root) {
        return std::nullopt;
    }
    std::vector<std::string_view> names(k_test_names.begin(), k_test_names.end());
    if (key == "data.train") {
        names.assign(k_train_names.begin(), k_train_names.end());
    }
    for (const auto name : names) {
        const fs::path candidate = folder / name;
        std::error_code ec;
        if (fs::is_directory(candidate, ec) && is_split(dataset, candidate)) {
            return candidate;
        }
    }
    return std::nullopt;
}

std::string standin_hint(const std::string& model_kind, const std::string& dataset,
                         const fs::path& missing) {
    const std::string split = missing.filename().string();
    if (split != "train" && split != "validation") {
        return "";
    }
    for (const Standin& s : k_standins) {
        if (s.model_kind == model_kind && s.dataset == dataset) {
            return "; write the " + std::string(s.name) +
                   " stand-in there with: " + std::string(s.command) + " -o " +
                   missing.parent_path().string();
        }
    }
    return "";
}

} // namespace kakuren::recipes

#include <array>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "recipes/data_hints.hpp"
#include "recipes/data_rules.hpp"
#include "recipes/loader.hpp"
#include "util/data_path.hpp"
#include "util/strings.hpp"

namespace kakuren::recipes::loading {

using util::join;

namespace {

constexpr std::string_view k_fashion_mnist_path = "/usr/share/datasets/fashion-mnist";

/// The four IDX files: the recipe key that names one, and its file name in a data folder.
struct DataFile {
    std::string_view key;
    std::string_view file_name;
    std::string DataSection::*member;
};
const std::array<DataFile, 4> k_data_files = {{
    {"data.train_images", "train-images-idx3-ubyte", &DataSection::train_images},
    {"data.train_labels", "train-labels-idx1-ubyte", &DataSection::train_labels},
    {"data.test_images", "t10k-images-idx3-ubyte", &DataSection::test_images},
    {"data.test_labels", "t10k-labels-idx1-ubyte", &DataSection::test_labels},
}};

bool is_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

// "data.train_images: /x does not exist" (or "is not a file") unless p is a file; else "".
std::string not_a_file(std::string_view key, const std::string& p) {
    if (is_file(p)) {
        return "";
    }
    return std::string(key) + ": " + p + (fs::exists(p) ? " is not a file" : " does not exist");
}

// The folder the IDX files not named one by one are looked for in.
struct IdxFolder {
    std::string path;     ///< "" for none
    Location where;       ///< data.path's place, else data.dataset's
    bool fashion = false; ///< data.dataset = "fashion-mnist": the .gz names, the package's hint
};

// The IDX file file_name in the folder (file_name.gz first); nullopt, with message set, when it
// has neither.
std::optional<std::string> find_idx_file(const IdxFolder& folder, std::string_view file_name,
                                         std::string& message) {
    const fs::path gz = fs::path(folder.path) / (std::string(file_name) + ".gz");
    const fs::path raw = fs::path(folder.path) / std::string(file_name);
    if (is_file(gz)) {
        return gz.string();
    }
    if (is_file(raw)) {
        return raw.string();
    }
    const std::string shown = folder.fashion ? gz.string() : raw.string() + "(.gz)";
    message = "data.path: " + shown;
    message += " does not exist; ";
    message += folder.fashion
                   ? "install dataset-fashion-mnist or set data.path to a folder with the four "
                     "IDX files"
                   : "set data.path to a folder with the four IDX files (.gz or not), or set "
                     "data.train_images, data.train_labels, data.test_images and "
                     "data.test_labels";
    return std::nullopt;
}

} // namespace

std::string Loader::resolve(std::string_view key, const std::string& value) const {
    fs::path p(value);
    if (p.is_relative()) {
        if (auto it = m_base.find(std::string(key)); it != m_base.end()) {
            p = it->second / p;
        }
    }
    std::error_code ec;
    fs::path absolute = fs::absolute(p, ec);
    return (ec ? p : absolute).lexically_normal().string();
}

/// A torchscript model's file must exist and be a zip archive (what torch.jit's save writes);
/// afterwards model.path holds the absolute path. The module itself is checked when loaded.
void Loader::check_model_file() {
    auto& m = m_recipe.model;
    if (!ok({"model.kind", "model.path"}) || m.kind != "torchscript") {
        if (ok({"model.path"}) && !m.path.empty() && m.kind != "torchscript") {
            m.path = resolve("model.path", m.path);
        }
        return;
    }
    if (m.path.empty()) {
        error(place({"model.kind"}), "model.kind = \"torchscript\" needs model.path, the file "
                                     "written by torch.jit.script(model).save(path)");
        return;
    }
    const std::string p = resolve("model.path", m.path);
    m.path = p;
    if (!is_file(p)) {
        error(place({"model.path"}),
              "model.path: " + p + (fs::exists(p) ? " is not a file" : " does not exist"));
        return;
    }
    std::ifstream in(p, std::ios::binary);
    std::array<char, 4> magic{};
    in.read(magic.data(), magic.size());
    if (!in || std::string_view(magic.data(), 4) != std::string_view("PK\x03\x04", 4)) {
        error(place({"model.path"}),
              "model.path: " + p +
                  " is not a TorchScript archive (not a zip file); export the module with "
                  "torch.jit.script(model).save(path)");
    }
}

/// Every IDX file must exist; afterwards the four file fields hold absolute paths.
void Loader::check_data_files() {
    auto& d = m_recipe.data;
    if (ok({"data.dataset"}) &&
        (d.dataset == "npy" || d.dataset == "hdf5" || d.dataset == "images")) {
        check_stream_splits();
        return;
    }
    if (!ok({"data.dataset", "data.path", "data.train_images", "data.train_labels",
             "data.test_images", "data.test_labels"}) ||
        d.dataset == "synthetic") {
        return;
    }
    const Location dataset_place = place({"data.dataset"}, m_data_table);
    IdxFolder folder{"", dataset_place, d.dataset == "fashion-mnist"};
    if (!d.path.empty()) {
        folder.path = resolve("data.path", d.path);
        folder.where = place({"data.path"});
        d.path = folder.path;
    } else if (folder.fashion) {
        folder.path = k_fashion_mnist_path;
    }
    std::vector<std::string> unset;
    for (const auto& file : k_data_files) {
        std::string& field = d.*file.member;
        if (!field.empty()) {
            field = resolve(file.key, field);
            if (std::string problem = not_a_file(file.key, field); !problem.empty()) {
                error(place({file.key}), std::move(problem));
            }
        } else if (folder.path.empty()) {
            unset.emplace_back(file.key);
        } else if (std::string message;
                   auto found = find_idx_file(folder, file.file_name, message)) {
            field = *found;
            m_recipe.origins[std::string(file.key)] = m_recipe.origins["data.path"];
        } else {
            error(folder.where, message);
        }
    }
    if (!unset.empty()) {
        error(dataset_place, "data.dataset = \"idx\" needs data.path, or data.train_images, "
                             "data.train_labels, data.test_images and data.test_labels; "
                             "missing " +
                                 join(unset, ", "));
    }
}

/// npy / hdf5: data.train and data.test must name an existing folder (npy) or file or
/// folder (hdf5); afterwards they hold absolute paths. Their content is checked when the
/// data is opened when training starts (kakuren data inspect checks every sample ahead).
void Loader::check_stream_splits() {
    auto& d = m_recipe.data;
    const Location dataset_place = place({"data.dataset"}, m_data_table);
    std::vector<std::string> unset;
    for (const auto& [key, field] : {std::pair<const char*, std::string*>{"data.train", &d.train},
                                     std::pair<const char*, std::string*>{"data.test", &d.test}}) {
        if (!ok({key})) {
            continue;
        }
        if (field->empty()) {
            unset.emplace_back(key);
            continue;
        }
        *field = resolve(key, *field);
        // hdf5: "all.h5:/train/images" names a dataset of all.h5 (recipes/data_rules.hpp).
        const std::string p = d.dataset == "hdf5" ? util::split_file_dataset(*field).file : *field;
        std::error_code ec;
        const bool folder = fs::is_directory(p, ec);
        if (!fs::exists(p, ec)) {
            error(place({key}), std::string(key) + ": " + p + " does not exist" +
                                    standin_hint(m_recipe.model.kind, d.dataset, p));
        } else if (const auto meant =
                       folder ? split_folder_meant(d.dataset, key, p) : std::nullopt) {
            error(place({key}), std::string(key) + ": " + p +
                                    " is a data set's root, not a split; did you mean " +
                                    meant->string() + "?");
        } else if (d.dataset == "images" && !folder) {
            error(place({key}), std::string(key) + ": " + p +
                                    " is not a folder; data.dataset = \"images\" needs a "
                                    "folder with one sub-folder of images per class");
        } // npy array files: check_split_files()
    }
    if (!unset.empty()) {
        error(dataset_place, "data.dataset = \"" + d.dataset +
                                 "\" needs data.train and data.test; missing " + join(unset, ", "));
    }
}

/// Splits given as files and their targets keys, data.layout (recipes/data_rules.hpp).
void Loader::check_split_files() {
    if (!ok({"data.dataset", "data.train", "data.test", "data.train_targets", "data.test_targets",
             "data.layout"})) {
        return;
    }
    const auto resolve_path = [this](std::string_view key, const std::string& value) {
        return resolve(key, value);
    };
    for (const DataKeyProblem& p : check_split_targets(m_recipe.data, resolve_path)) {
        error(place({p.key}), p.message);
    }
}

} // namespace kakuren::recipes::loading

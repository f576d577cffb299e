// kakuren data inspect on what is not one split: a folder of .npy files under the user's own
// names and an HDF5 file of several datasets, listed with each array's type and shape so that
// the recipe can name them (data.train = "x_train.npy", data.train = "all.h5:/train/images").
// Declared in trainer/data_tools.hpp.
#include <algorithm>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sstream>

#include "trainer/data_tools.hpp"
#include "trainer/hdf5.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/npy.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;

/// One array of a listing: its name, type and shape, or the problem that hid them.
struct Listed {
    std::string name, type, problem;
    std::vector<std::int64_t> shape;
};

std::vector<Listed> npy_files(const fs::path& folder) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder, ec)) {
        if (e.path().extension() == ".npy") {
            files.push_back(e.path());
        }
    }
    std::sort(files.begin(), files.end());
    std::vector<Listed> out;
    for (const fs::path& f : files) {
        Listed l;
        l.name = f.filename().string();
        try {
            const util::NpyHeader h = util::read_npy_header(f);
            l.type = util::npy_type_name(h.type);
            l.shape = h.shape;
        } catch (const Error& e) {
            l.problem = e.what();
        }
        out.push_back(std::move(l));
    }
    return out;
}

/// The datasets of an HDF5 file; nullopt when it is one split: it has a "data" link (a soft or
/// external link too, which the listing does not follow).
std::optional<std::vector<Listed>> hdf5_datasets(const fs::path& file) {
    const std::lock_guard lock(hdf5_mutex());
    const H5Handle f = open_hdf5_file(file, "");
    const bool split = H5Lexists(f.get(), "data", H5P_DEFAULT) > 0;
    H5Eclear2(H5E_DEFAULT);
    if (split) {
        return std::nullopt;
    }
    std::vector<Listed> out;
    for (const Hdf5Entry& e : list_hdf5_datasets(f.get())) {
        out.push_back({e.name, e.type, "", e.shape});
    }
    return out;
}

std::string render(const std::string& path, const std::string& what,
                   const std::vector<Listed>& arrays, const std::string& hint, bool json) {
    std::size_t problems = 0;
    for (const Listed& l : arrays) {
        problems += l.problem.empty() ? 0 : 1;
    }
    if (json) {
        util::JsonArray list;
        for (const Listed& l : arrays) {
            util::JsonArray shape;
            for (const auto d : l.shape) {
                shape.emplace_back(static_cast<long long>(d));
            }
            util::JsonObject o{{"name", l.name}, {"dtype", l.type}, {"shape", std::move(shape)}};
            if (!l.problem.empty()) {
                o.emplace_back("problem", l.problem);
            }
            list.emplace_back(std::move(o));
        }
        return util::Json(util::JsonObject{{"path", path},
                                           {"format", what},
                                           {"arrays", std::move(list)},
                                           {"problems_found", problems}})
                   .dump_pretty() +
               "\n";
    }
    std::size_t width = 0;
    for (const Listed& l : arrays) {
        width = std::max(width, l.name.size());
    }
    std::ostringstream text;
    text << path << ": " << what << "\n";
    for (const Listed& l : arrays) {
        text << "  " << l.name << std::string(width - l.name.size() + 2, ' ')
             << (l.problem.empty() ? l.type + " " + util::shape_text(l.shape)
                                   : "problem: " + l.problem)
             << "\n";
    }
    text << hint << "problems found: " << problems << "\n";
    return text.str();
}

} // namespace

std::optional<std::string> list_arrays(const std::filesystem::path& path, bool json) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        if (fs::exists(path / "data.npy", ec) || fs::exists(path / "files_data.lst", ec)) {
            return std::nullopt; // an npy split
        }
        const std::vector<Listed> files = npy_files(path);
        if (files.empty()) {
            return std::nullopt;
        }
        return render(path.string(), "a folder of .npy files", files,
                      "name them in the recipe: data.train = \"FOLDER/x_train.npy\" with "
                      "data.train_targets = \"FOLDER/y_train.npy\" (and data.test alike)\n",
                      json);
    }
    if (!fs::is_regular_file(path, ec) || path.extension() == ".npy") {
        return std::nullopt;
    }
    std::optional<std::vector<Listed>> datasets;
    try {
        datasets = hdf5_datasets(path);
    } catch (const Error&) {
        return std::nullopt; // not HDF5: the split inspection names the problem
    }
    if (!datasets) {
        return std::nullopt; // one split: data + targets
    }
    return render(path.string(), "an HDF5 file with these datasets", *datasets,
                  "name them per split: data.train = \"FILE:/DATASET\" with data.train_targets "
                  "= \"FILE:/DATASET\" (and data.test alike)\n",
                  json);
}

} // namespace kakuren::trainer

// kakuren data inspect and kakuren data convert (declared in trainer/data_tools.hpp).
#include "trainer/data_tools.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "trainer/data.hpp"
#include "trainer/data_paths.hpp"
#include "trainer/stream.hpp"
#include "util/data_path.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/npy.hpp"
#include "util/strings.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t k_max_problems = 5;
constexpr std::int64_t k_chunk = 256;

struct SplitReport {
    std::string split, path, format, layout;
    std::int64_t samples = 0;
    std::vector<std::int64_t> sample_shape, target_shape;
    std::string sample_type, target_type;
    std::uint64_t bytes = 0;  ///< on disk
    std::int64_t classes = 0; ///< integer targets: largest id + 1; 0 otherwise
    std::string image_sizes;  ///< images: the sizes seen, "28x28 grey" or a range
    std::vector<std::string> problems;
};

/// A folder whose sub-folders hold .jpg / .jpeg / .png files (an images split).
bool has_image_classes(const fs::path& dir) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (!e.is_directory(ec)) {
            continue;
        }
        for (const auto& f : fs::directory_iterator(e.path(), ec)) {
            const std::string ext = util::lower(f.path().extension().string());
            if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") {
                return true;
            }
        }
    }
    return false;
}

/// Decodes every image of an images split, noting the sizes seen and the first problems.
void inspect_images(SplitReport& r, const fs::path& path) {
    std::unique_ptr<RawReader> reader;
    try {
        reader = open_images_split(path.string(), r.split,
                                   image_class_folders(path.string(), r.split), ImageOptions{});
    } catch (const Error& e) {
        r.problems.emplace_back(e.what());
        return;
    }
    r.samples = reader->size();
    r.classes = reader->num_classes();
    r.sample_type = "uint8";
    r.target_type = "int64";
    r.target_shape = {};
    std::int64_t h_min = 0, h_max = 0, w_min = 0, w_max = 0, grey = 0, colour = 0;
    bool first = true;
    for (std::int64_t id = 0; id < r.samples && r.problems.size() < k_max_problems; ++id) {
        try {
            const StoredImage s = stored_image(*reader, id);
            if (first) {
                r.sample_shape = {s.height, s.width, s.channels};
                h_min = h_max = s.height;
                w_min = w_max = s.width;
                first = false;
            }
            h_min = std::min(h_min, s.height);
            h_max = std::max(h_max, s.height);
            w_min = std::min(w_min, s.width);
            w_max = std::max(w_max, s.width);
            (s.channels == 1 ? grey : colour) += 1;
        } catch (const Error& e) {
            r.problems.emplace_back(e.what());
        }
    }
    if (first) {
        return;
    }
    const auto size = [](std::int64_t h, std::int64_t w) {
        return std::to_string(h) + "x" + std::to_string(w);
    };
    r.image_sizes = h_min == h_max && w_min == w_max
                        ? size(h_min, w_min)
                        : "from " + size(h_min, w_min) + " to " + size(h_max, w_max) +
                              " (HxW; set data.image_size)";
    r.image_sizes += colour == 0 ? ", grey" : grey == 0 ? ", RGB" : ", grey and RGB";
}

std::uint64_t disk_bytes(const fs::path& p) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) {
        return fs::file_size(p, ec);
    }
    std::uint64_t total = 0;
    for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        if (it->is_regular_file(ec)) {
            total += it->file_size(ec);
        }
    }
    return total;
}

bool has_h5(const fs::path& dir) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().extension() == ".h5") {
            return true;
        }
    }
    return false;
}

/// How a recipe names a split that is not a folder: "an array file, targets in y.npy".
std::string recipe_layout(const DataConfig& config, const std::string& key) {
    const std::string& targets = split_targets(config, key);
    std::string out =
        targets.empty()
            ? (config.dataset == "npy" ? "a folder"
                                       : "one file per split (datasets " + config.data_key + ", " +
                                             config.target_key + ")")
            : (config.dataset == "npy" ? "an array file, targets in " + targets
                                       : "a dataset, targets in " + targets);
    if (config.layout == "nhwc") {
        out += "; channels-last on disk (data.layout = \"nhwc\"), read as [C, H, W]";
    }
    return out;
}

/// Opens one split and reads every sample, noting the first problems. `config` (a recipe's
/// data set): the split is opened as the recipe names it (targets keys, data.layout).
SplitReport inspect_split(const std::string& split, const fs::path& path,
                          const DataConfig* config = nullptr) {
    SplitReport r;
    r.split = split;
    r.path = path.string();
    r.bytes = disk_bytes(util::split_file_dataset(path.string()).file);
    std::error_code ec;
    const bool dir = fs::is_directory(path, ec);
    const bool arrays = config != nullptr && config->dataset != "images";
    if (arrays) {
        r.format = config->dataset;
        r.layout = recipe_layout(*config, "data." + split);
    } else if (dir && fs::exists(path / "data.npy", ec)) {
        r.format = "npy";
        r.layout = "one array per split (data.npy, targets.npy)";
    } else if (dir && fs::exists(path / "files_data.lst", ec)) {
        r.format = "npy";
        r.layout = "one .npy per sample (files_data.lst, files_label.lst)";
    } else if (dir && has_image_classes(path)) {
        r.format = "images";
        r.layout = fs::exists(path / k_image_list, ec)
                       ? std::string("a folder per class, in the order of ") + k_image_list
                       : "a folder per class (ImageFolder order)";
        inspect_images(r, path);
        return r;
    } else if (dir && has_h5(path)) {
        r.format = "hdf5";
        r.layout = "one file per sample (DeepCAM: climate/data, climate/labels_0)";
    } else if (!dir && fs::exists(path, ec)) {
        r.format = "hdf5";
        r.layout = "one file per split (datasets data, targets)";
    } else {
        r.problems.push_back(path.string() + ": no npy, hdf5 or images data here");
        return r;
    }
    std::unique_ptr<StreamSource> source;
    try {
        std::unique_ptr<RawReader> reader =
            arrays              ? open_array_split(*config, path.string(), "data." + split)
            : r.format == "npy" ? open_npy_split(path.string(), split)
                                : open_hdf5_split(path.string(), split, "data", "targets");
        source = std::make_unique<StreamSource>(std::move(reader), 0, Decoding{}, 0, 1);
    } catch (const Error& e) {
        r.problems.emplace_back(e.what());
        return r;
    }
    const RawLayout& l = source->reader().layout();
    r.samples = source->size();
    r.sample_shape = l.input_shape;
    r.target_shape = l.target_shape;
    r.sample_type = util::npy_type_name(l.input_type);
    r.target_type = util::npy_type_name(l.target_type);
    const bool integer = util::npy_type_is_integer(l.target_type);
    // Reads samples [begin, begin + count): every input and target, and the class ids checked
    // as a run checks them (negative, or beyond k_max_classes).
    const auto read = [&](std::int64_t begin, std::int64_t count) {
        const torch::Tensor targets = source->read_raw_targets(begin, count);
        if (integer) {
            r.classes = std::max(r.classes, count_class_ids(targets, begin, source->reader()));
        }
    };
    for (std::int64_t begin = 0; begin < r.samples && r.problems.size() < k_max_problems;
         begin += k_chunk) {
        const std::int64_t count = std::min(k_chunk, r.samples - begin);
        try {
            read(begin, count);
        } catch (const Error&) {
            // Sample by sample, to name each bad one.
            for (std::int64_t i = begin; i < begin + count && r.problems.size() < k_max_problems;
                 ++i) {
                try {
                    read(i, 1);
                } catch (const Error& e) {
                    r.problems.emplace_back(e.what());
                }
            }
        }
    }
    return r;
}

std::string shape_and_type(const std::vector<std::int64_t>& shape, const std::string& type) {
    return type.empty() ? "-" : type + " " + util::shape_text(shape);
}

std::string render_splits(const std::string& path, const std::vector<SplitReport>& splits,
                          bool json);

} // namespace

std::string inspect_recipe_data(const DataConfig& config, const std::string& recipe, bool json) {
    if (config.dataset != "npy" && config.dataset != "hdf5" && config.dataset != "images") {
        throw UsageError(recipe + ": data.dataset = \"" + config.dataset +
                         "\" is not read from disk split by split; data inspect with a recipe "
                         "reads npy, hdf5 and images");
    }
    std::vector<SplitReport> splits;
    splits.push_back(inspect_split("train", config.train_path, &config));
    splits.push_back(inspect_split("test", config.test_path, &config));
    return render_splits(recipe, splits, json);
}

std::string inspect_data(const std::string& path, bool json) {
    std::error_code ec;
    fs::path p = fs::absolute(path, ec).lexically_normal(); // messages name whole paths
    if (p.filename().empty()) {
        p = p.parent_path(); // "folder/"
    }
    if (!fs::exists(p, ec)) {
        throw RuntimeFailure(path + " does not exist");
    }
    if (std::optional<std::string> listed = list_arrays(p, json)) {
        return *listed; // arrays under the user's own names: what the recipe can name
    }
    std::vector<SplitReport> splits;
    const auto split_path = [&](const char* name) -> std::optional<fs::path> {
        for (const fs::path& c : {p / name, p / (std::string(name) + ".h5")}) {
            if (fs::exists(c, ec)) {
                return c;
            }
        }
        return std::nullopt;
    };
    const auto train = fs::is_directory(p, ec) ? split_path("train") : std::nullopt;
    const auto test = fs::is_directory(p, ec) ? split_path("test") : std::nullopt;
    if (train || test) {
        if (train) {
            splits.push_back(inspect_split("train", *train));
        }
        if (test) {
            splits.push_back(inspect_split("test", *test));
        }
    } else {
        splits.push_back(inspect_split("split", p));
    }
    return render_splits(path, splits, json);
}

namespace {

std::string render_splits(const std::string& path, const std::vector<SplitReport>& splits,
                          bool json) {
    std::size_t problems_found = 0;
    for (const SplitReport& r : splits) {
        problems_found += r.problems.size();
    }
    if (json) {
        util::JsonArray out;
        for (const SplitReport& r : splits) {
            util::JsonArray problems, sample, target;
            for (const auto& s : r.problems) {
                problems.emplace_back(s);
            }
            for (const auto d : r.sample_shape) {
                sample.emplace_back(static_cast<long long>(d));
            }
            for (const auto d : r.target_shape) {
                target.emplace_back(static_cast<long long>(d));
            }
            util::JsonObject split{{"split", r.split},
                                   {"path", r.path},
                                   {"format", r.format},
                                   {"layout", r.layout},
                                   {"samples", static_cast<long long>(r.samples)},
                                   {"sample_shape", std::move(sample)},
                                   {"sample_dtype", r.sample_type},
                                   {"target_shape", std::move(target)},
                                   {"target_dtype", r.target_type},
                                   {"bytes", static_cast<long long>(r.bytes)},
                                   {"classes", static_cast<long long>(r.classes)},
                                   {"problems", std::move(problems)}};
            if (!r.image_sizes.empty()) {
                split.emplace_back("image_sizes", r.image_sizes);
            }
            out.emplace_back(std::move(split));
        }
        return util::Json(util::JsonObject{{"path", path},
                                           {"splits", std::move(out)},
                                           {"problems_found", problems_found}})
                   .dump_pretty() +
               "\n";
    }
    std::ostringstream text;
    for (const SplitReport& r : splits) {
        text << r.split << ": " << r.path << "\n"
             << "  format   " << (r.format.empty() ? "-" : r.format)
             << (r.layout.empty() ? "" : ", " + r.layout) << "\n"
             << "  samples  " << r.samples << "\n"
             << "  sample   " << shape_and_type(r.sample_shape, r.sample_type) << "\n"
             << "  target   " << shape_and_type(r.target_shape, r.target_type) << "\n"
             << "  bytes    " << r.bytes << "\n"
             << "  classes  " << (r.classes > 0 ? std::to_string(r.classes) : "-") << "\n";
        if (!r.image_sizes.empty()) {
            text << "  images   " << r.image_sizes << "\n";
        }
        if (r.problems.empty()) {
            text << "  problems none (every sample read)\n";
        }
        for (const auto& s : r.problems) {
            text << "  problem  " << s << "\n";
        }
    }
    text << "problems found: " << problems_found << "\n";
    return text.str();
}

/// A .npy file (format 1.0) of uint8 data with the given shape.
void write_npy(const fs::path& file, const std::vector<std::int64_t>& shape,
               const std::vector<std::uint8_t>& bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << util::npy_file_header("|u1", shape);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
        throw RuntimeFailure("cannot write " + file.string());
    }
}

/// One grey PNG per image in a folder per label (zero-padded to sort by value), and files.lst
/// in the IDX file's order, so that sample ids (and training) match the IDX file's.
std::string write_image_folders(const fs::path& dir, const IdxImages& x, const IdxLabels& y) {
    const int max_label =
        y.labels.empty() ? 0 : *std::max_element(y.labels.begin(), y.labels.end());
    const std::size_t digits = std::to_string(max_label).size();
    const auto padded = [](std::int64_t v, std::size_t width) {
        std::string s = std::to_string(v);
        return std::string(s.size() < width ? width - s.size() : 0, '0') + s;
    };
    for (int label = 0; label <= max_label; ++label) {
        fs::create_directories(dir / padded(label, digits));
    }
    const std::size_t count_digits = std::max<std::size_t>(5, std::to_string(x.count).size());
    std::ofstream list(dir / k_image_list, std::ios::trunc);
    const auto pixels = static_cast<std::size_t>(x.rows * x.cols);
    for (std::int64_t i = 0; i < x.count; ++i) {
        const std::string rel = padded(y.labels[static_cast<std::size_t>(i)], digits) + "/" +
                                padded(i, count_digits) + ".png";
        write_png(dir / rel, x.rows, x.cols, 1,
                  x.pixels.data() + static_cast<std::size_t>(i) * pixels);
        list << rel << "\n";
    }
    list.close();
    if (!list) {
        throw RuntimeFailure("cannot write " + (dir / k_image_list).string());
    }
    return dir.string() + ": " + std::to_string(x.count) + " grey PNG files " +
           std::to_string(x.rows) + "x" + std::to_string(x.cols) + " in " +
           std::to_string(max_label + 1) + " class folders, " + k_image_list + "\n";
}

} // namespace

std::string convert_idx(const std::string& idx_folder, const std::string& format,
                        const std::string& out) {
    if (format != "npy" && format != "hdf5" && format != "images") {
        throw UsageError("--to " + format + ": expected npy, hdf5 or images");
    }
    const fs::path in(idx_folder);
    const auto find = [&](const char* stem) {
        for (const fs::path& p : {in / (std::string(stem) + ".gz"), in / stem}) {
            if (fs::exists(p)) {
                return p;
            }
        }
        throw RuntimeFailure(idx_folder + ": no " + stem + "(.gz)");
    };
    const fs::path root(out);
    fs::create_directories(root);
    std::ostringstream summary;
    for (const auto& [split, stem] : {std::pair<const char*, const char*>{"train", "train"},
                                      std::pair<const char*, const char*>{"test", "t10k"}}) {
        const IdxImages x =
            read_idx_images(find((std::string(stem) + "-images-idx3-ubyte").c_str()));
        const IdxLabels y =
            read_idx_labels(find((std::string(stem) + "-labels-idx1-ubyte").c_str()));
        if (x.count != y.count) {
            throw RuntimeFailure(idx_folder + ": " + std::to_string(x.count) + " " + split +
                                 " images but " + std::to_string(y.count) + " labels");
        }
        const std::vector<std::int64_t> shape = {x.count, 1, x.rows, x.cols};
        if (format == "images") {
            summary << write_image_folders(root / split, x, y);
        } else if (format == "npy") {
            fs::create_directories(root / split);
            write_npy(root / split / "data.npy", shape, x.pixels);
            write_npy(root / split / "targets.npy", {y.count}, y.labels);
            summary << (root / split).string() << ": data.npy uint8 " << util::shape_text(shape)
                    << ", targets.npy uint8 [" << y.count << "]\n";
        } else {
            const fs::path file = root / (std::string(split) + ".h5");
            write_hdf5_arrays(file, shape, x.pixels, y.labels);
            summary << file.string() << ": data uint8 " << util::shape_text(shape)
                    << ", targets uint8 [" << y.count << "]\n";
        }
    }
    return summary.str();
}

} // namespace kakuren::trainer

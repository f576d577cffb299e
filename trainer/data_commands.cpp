// kakuren data inspect and kakuren data convert (declared in trainer/data_tools.hpp).
#include "trainer/data_tools.hpp"

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "trainer/data.hpp"
#include "trainer/stream.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/npy.hpp"

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
    std::vector<std::string> problems;
};

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

/// Opens one split and reads every sample, noting the first problems.
SplitReport inspect_split(const std::string& split, const fs::path& path) {
    SplitReport r;
    r.split = split;
    r.path = path.string();
    r.bytes = disk_bytes(path);
    std::error_code ec;
    const bool dir = fs::is_directory(path, ec);
    if (dir && fs::exists(path / "data.npy", ec)) {
        r.format = "npy";
        r.layout = "one array per split (data.npy, targets.npy)";
    } else if (dir && fs::exists(path / "files_data.lst", ec)) {
        r.format = "npy";
        r.layout = "one .npy per sample (files_data.lst, files_label.lst)";
    } else if (dir && has_h5(path)) {
        r.format = "hdf5";
        r.layout = "one file per sample (DeepCAM: climate/data, climate/labels_0)";
    } else if (!dir && fs::exists(path, ec)) {
        r.format = "hdf5";
        r.layout = "one file per split (datasets data, targets)";
    } else {
        r.problems.push_back(path.string() + ": no npy or hdf5 data here");
        return r;
    }
    std::unique_ptr<StreamSource> source;
    try {
        std::unique_ptr<RawReader> reader =
            r.format == "npy" ? open_npy_split(path.string(), split)
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
    const auto note_classes = [&](const torch::Tensor& targets) {
        if (integer && targets.numel() > 0) {
            r.classes = std::max(r.classes, targets.max().item<std::int64_t>() + 1);
        }
    };
    for (std::int64_t begin = 0; begin < r.samples && r.problems.size() < k_max_problems;
         begin += k_chunk) {
        const std::int64_t count = std::min(k_chunk, r.samples - begin);
        try {
            note_classes(source->read_raw_targets(begin, count).to(torch::kInt64));
        } catch (const Error&) {
            // Sample by sample, to name each bad one.
            for (std::int64_t i = begin; i < begin + count && r.problems.size() < k_max_problems;
                 ++i) {
                try {
                    note_classes(source->read_raw_targets(i, 1).to(torch::kInt64));
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

} // namespace

std::string inspect_data(const std::string& path, bool json) {
    std::error_code ec;
    fs::path p = fs::absolute(path, ec).lexically_normal(); // messages name whole paths
    if (p.filename().empty()) {
        p = p.parent_path(); // "folder/"
    }
    if (!fs::exists(p, ec)) {
        throw RuntimeFailure(path + " does not exist");
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
            out.emplace_back(util::JsonObject{{"split", r.split},
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
                                              {"problems", std::move(problems)}});
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

namespace {

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

} // namespace

std::string convert_idx(const std::string& idx_folder, const std::string& format,
                        const std::string& out) {
    if (format != "npy" && format != "hdf5") {
        throw UsageError("--to " + format + ": expected npy or hdf5");
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
        if (format == "npy") {
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

// data.dataset = "hdf5": one file with a data and a target dataset [N, ...] (contiguous ones read
// with pread at their offset in the file that holds them, others by hyperslab, one selection per
// batch), or a folder of per-sample files in the MLPerf HPC DeepCAM layout (climate/data H x W x C,
// climate/labels_0 H x W, stats.h5 beside or above for the per-channel normalisation).
// Debian's libhdf5 is the serial build, which is not thread-safe: every HDF5 call in this file
// holds one process-wide mutex, so reader threads serialise there (the pread path and their
// decoding still run in parallel).
#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <vector>

#include "trainer/hdf5.hpp"
#include "trainer/stream.hpp"
#include "util/data_path.hpp"
#include "util/error.hpp"
#include "util/system.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;

/// Reads exactly n bytes at offset of fd; throws naming `where` (file:/dataset (sample i)).
void pread_exact(int fd, std::byte* out, std::size_t n, std::uint64_t offset,
                 const std::string& where) {
    std::size_t done = 0;
    while (done < n) {
        const ssize_t got = ::pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            throw RuntimeFailure(
                "cannot read " + where + ": " +
                (got < 0 ? std::string(std::strerror(errno)) : std::string("file ends early")));
        }
        done += static_cast<std::size_t>(got);
    }
}

std::string sample_text(std::int64_t id) {
    return " (sample " + std::to_string(id) + ")";
}

/// A data and a target dataset, [N, ...] each: both in one file per split (data.data_key,
/// data.target_key), or each named by its own key ("FILE:/DATASET", any files).
struct Hdf5Arrays {
    fs::path data_file, target_file;
    std::string data_key, target_key;       ///< the datasets' paths in their files
    std::string data_origin, target_origin; ///< the recipe keys that name them
};

class Hdf5ArrayReader final : public RawReader {
  public:
    explicit Hdf5ArrayReader(const Hdf5Arrays& a)
        : m_file_name(a.data_file.string()), m_data_key(a.data_key), m_target_key(a.target_key),
          m_target_file_name(a.target_file.string()), m_file(open(a.data_file)),
          m_target_file(open(a.target_file)),
          m_data(open_dataset(m_file, m_file_name, a.data_key, a.data_origin)),
          m_targets(open_dataset(m_target_file, m_target_file_name, a.target_key, a.target_origin)),
          m_own_keys(a.data_origin != "data.data_key") {
        const std::lock_guard lock(hdf5_mutex());
        const DatasetInfo x = describe_dataset(m_data.get(), data_where());
        const DatasetInfo y = describe_dataset(m_targets.get(), target_where());
        if (x.shape.empty() || y.shape.empty()) {
            throw RuntimeFailure((x.shape.empty() ? data_where() : target_where()) +
                                 ": holds a scalar; expected [N, ...]");
        }
        if (x.shape[0] != y.shape[0]) {
            throw RuntimeFailure(data_where() + " holds " + std::to_string(x.shape[0]) +
                                 " samples but " + target_where() + " holds " +
                                 std::to_string(y.shape[0]) + " targets");
        }
        m_size = x.shape[0];
        m_x = x;
        m_y = y;
        m_layout.input_type = x.type;
        m_layout.target_type = y.type;
        m_layout.input_shape.assign(x.shape.begin() + 1, x.shape.end());
        m_layout.target_shape.assign(y.shape.begin() + 1, y.shape.end());
        // Contiguous datasets (h5py's default, kakuren data convert's) are read with pread at
        // their offsets, as npy files are: no HDF5 call (and so no process-wide lock) per
        // sample, which HDF5's per-selection cost made several times slower than npy. Each
        // from the file that holds it: a link may lead to another file (issue 23, #1).
        m_data_raw = raw_location(m_data.get(), x);
        m_target_raw = raw_location(m_targets.get(), y);
        m_raw = m_data_raw && m_target_raw;
    }
    [[nodiscard]] std::int64_t size() const override { return m_size; }
    [[nodiscard]] const RawLayout& layout() const override { return m_layout; }
    /// The file of a one-file split; "file:/dataset" of one named by its own key.
    [[nodiscard]] std::string name() const override {
        return m_own_keys ? data_where() : m_file_name;
    }
    [[nodiscard]] std::string target_name(std::int64_t /*id*/) const override {
        return target_where();
    }
    void read_targets(std::int64_t begin, std::int64_t count, std::byte* targets) const override {
        const std::string what = target_where() + " (samples " + std::to_string(begin) + " to " +
                                 std::to_string(begin + count - 1) + ")";
        if (m_raw) {
            const std::size_t tg = m_layout.target_bytes();
            pread_exact(m_target_raw->fd.get(), targets, tg * static_cast<std::size_t>(count),
                        m_target_raw->offset + static_cast<std::uint64_t>(begin) * tg, what);
            return;
        }
        const std::lock_guard lock(hdf5_mutex());
        read_hdf5_rows(m_targets.get(), m_y, begin, count, false, targets, what);
    }
    std::uint64_t read(std::int64_t id, std::byte* input, std::byte* target) const override {
        const std::size_t in = m_layout.input_bytes(), tg = m_layout.target_bytes();
        if (m_raw) {
            const auto i = static_cast<std::uint64_t>(id);
            pread_exact(m_data_raw->fd.get(), input, in, m_data_raw->offset + i * in,
                        data_where() + sample_text(id));
            pread_exact(m_target_raw->fd.get(), target, tg, m_target_raw->offset + i * tg,
                        target_where() + sample_text(id));
            return in + tg;
        }
        const std::lock_guard lock(hdf5_mutex());
        read_hdf5_rows(m_data.get(), m_x, id, 1, false, input, data_where() + sample_text(id));
        read_hdf5_rows(m_targets.get(), m_y, id, 1, false, target,
                       target_where() + sample_text(id));
        return m_layout.input_bytes() + m_layout.target_bytes();
    }

    /// One H5Dread per dataset for the whole batch: the union of the samples' rows (HDF5 reads
    /// a selection in file order, so the rows land sorted by id and are then copied to their
    /// slots). Per-sample reads cost a dataspace, a selection and a read call each, which made
    /// hdf5 several times slower than npy. A failed batch is read again sample by sample, so
    /// that the error names the sample.
    std::uint64_t read_batch(const std::int64_t* ids, std::int64_t count, std::byte* inputs,
                             std::byte* targets) const override {
        if (count <= 1 || m_raw) {
            return RawReader::read_batch(ids, count, inputs, targets);
        }
        std::vector<std::int64_t> rows(ids, ids + count);
        std::sort(rows.begin(), rows.end());
        rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
        const std::size_t in = m_layout.input_bytes(), tg = m_layout.target_bytes();
        std::vector<std::byte> x(rows.size() * in), y(rows.size() * tg);
        bool ok = false;
        {
            const std::lock_guard lock(hdf5_mutex());
            ok = read_selected(m_data.get(), m_x, rows, x.data()) &&
                 read_selected(m_targets.get(), m_y, rows, y.data());
            if (!ok) {
                H5Eclear2(H5E_DEFAULT);
            }
        }
        if (!ok) {
            return RawReader::read_batch(ids, count, inputs, targets);
        }
        for (std::int64_t i = 0; i < count; ++i) {
            const auto row = static_cast<std::size_t>(
                std::lower_bound(rows.begin(), rows.end(), ids[i]) - rows.begin());
            const auto at = static_cast<std::size_t>(i);
            std::memcpy(inputs + at * in, x.data() + row * in, in);
            std::memcpy(targets + at * tg, y.data() + row * tg, tg);
        }
        return static_cast<std::uint64_t>(count) * (in + tg);
    }

  private:
    /// Reads the rows `rows` (sorted, distinct) of a dataset into out, in that order; false on
    /// an HDF5 error (caller holds the mutex and clears the error stack).
    static bool read_selected(hid_t dataset, const DatasetInfo& info,
                              const std::vector<std::int64_t>& rows, void* out) {
        const H5Handle file_space(H5Dget_space(dataset), H5Sclose);
        std::vector<hsize_t> size(info.shape.begin(), info.shape.end());
        std::vector<hsize_t> start(size.size(), 0), block = size;
        size[0] = rows.size();
        block[0] = 1;
        const H5Handle mem_space(
            H5Screate_simple(static_cast<int>(size.size()), size.data(), nullptr), H5Sclose);
        if (!file_space.ok() || !mem_space.ok()) {
            return false;
        }
        // Runs of consecutive rows become one block each.
        for (std::size_t r = 0; r < rows.size();) {
            std::size_t end = r + 1;
            while (end < rows.size() && rows[end] == rows[end - 1] + 1) {
                ++end;
            }
            start[0] = static_cast<hsize_t>(rows[r]);
            block[0] = static_cast<hsize_t>(end - r);
            if (H5Sselect_hyperslab(file_space.get(), r == 0 ? H5S_SELECT_SET : H5S_SELECT_OR,
                                    start.data(), nullptr, block.data(), nullptr) < 0) {
                return false;
            }
            r = end;
        }
        hid_t mem_type = hdf5_memory_type(info.type);
        std::optional<H5Handle> own_type;
        if (mem_type < 0) {
            own_type.emplace(H5Dget_type(dataset), H5Tclose);
            mem_type = own_type->get();
        }
        return H5Dread(dataset, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, out) >= 0;
    }

    /// "file:/dataset" of the data and of the target dataset, for messages.
    [[nodiscard]] std::string data_where() const { return m_file_name + ":/" + m_data_key; }
    [[nodiscard]] std::string target_where() const {
        return m_target_file_name + ":/" + m_target_key;
    }
    static H5Handle open(const fs::path& file) {
        const std::lock_guard lock(hdf5_mutex());
        return open_hdf5_file(file, "");
    }
    static H5Handle open_dataset(const H5Handle& file, const std::string& file_name,
                                 const std::string& key, const std::string& recipe_key) {
        const std::lock_guard lock(hdf5_mutex());
        return open_hdf5_dataset(file.get(), file_name, key, " (" + recipe_key + ")");
    }

    std::string m_file_name, m_data_key, m_target_key, m_target_file_name;
    H5Handle m_file, m_target_file, m_data, m_targets;
    bool m_own_keys = false; ///< named by data.train / data.train_targets, not data.data_key
    DatasetInfo m_x, m_y;
    std::optional<RawLocation> m_data_raw, m_target_raw; ///< see raw_location()
    bool m_raw = false; ///< both datasets have a raw location: read with pread
    std::int64_t m_size = 0;
    RawLayout m_layout;
};

constexpr const char* k_deepcam_data = "climate/data";
constexpr const char* k_deepcam_labels = "climate/labels_0";

/// A folder of per-sample DeepCAM files, sorted by name (stats.h5 excluded).
class DeepCamReader final : public RawReader {
  public:
    explicit DeepCamReader(const fs::path& folder) : m_folder(folder.string()) {
        for (const auto& entry : fs::directory_iterator(folder)) {
            const fs::path& p = entry.path();
            if (p.extension() == ".h5" && p.filename() != "stats.h5") {
                m_files.push_back(p);
            }
        }
        std::sort(m_files.begin(), m_files.end());
        if (m_files.empty()) {
            throw RuntimeFailure(m_folder + ": no per-sample .h5 files");
        }
        const std::lock_guard lock(hdf5_mutex());
        const H5Handle f = open_hdf5_file(m_files[0], sample_text(0));
        const auto [x, y] = describe_sample(f.get(), m_files[0], 0);
        if (x.shape.size() != 3 || y.shape.size() != 2 || x.shape[0] != y.shape[0] ||
            x.shape[1] != y.shape[1] || !util::npy_type_is_integer(y.type)) {
            throw RuntimeFailure(m_files[0].string() + sample_text(0) + ": " + k_deepcam_data +
                                 " is " + util::shape_text(x.shape) + " and " + k_deepcam_labels +
                                 " is " + util::shape_text(y.shape) +
                                 "; expected H x W x C data and H x W integer labels");
        }
        m_layout.input_type = x.type;
        m_layout.input_shape = x.shape;
        m_layout.target_type = y.type;
        m_layout.target_shape = y.shape;
        m_layout.channels_last = true;
    }
    [[nodiscard]] std::int64_t size() const override {
        return static_cast<std::int64_t>(m_files.size());
    }
    [[nodiscard]] const RawLayout& layout() const override { return m_layout; }
    [[nodiscard]] std::string name() const override { return m_folder; }
    std::uint64_t read(std::int64_t id, std::byte* input, std::byte* target) const override {
        const fs::path& file = m_files[static_cast<std::size_t>(id)];
        const std::lock_guard lock(hdf5_mutex());
        const H5Handle f = open_hdf5_file(file, sample_text(id));
        const auto [x, y] = describe_sample(f.get(), file, id);
        if (x.shape != m_layout.input_shape || y.shape != m_layout.target_shape ||
            x.type != m_layout.input_type || y.type != m_layout.target_type) {
            throw RuntimeFailure(file.string() + sample_text(id) + ": holds " +
                                 std::string(util::npy_type_name(x.type)) + " " +
                                 util::shape_text(x.shape) + " data, but the first sample " +
                                 std::string(util::npy_type_name(m_layout.input_type)) + " " +
                                 util::shape_text(m_layout.input_shape));
        }
        const H5Handle d =
            open_hdf5_dataset(f.get(), file.string(), k_deepcam_data, sample_text(id));
        const H5Handle l =
            open_hdf5_dataset(f.get(), file.string(), k_deepcam_labels, sample_text(id));
        const std::string where = file.string() + sample_text(id);
        read_hdf5_rows(d.get(), x, 0, 0, true, input, where);
        read_hdf5_rows(l.get(), y, 0, 0, true, target, where);
        return m_layout.input_bytes() + m_layout.target_bytes();
    }

  private:
    static std::pair<DatasetInfo, DatasetInfo> describe_sample(hid_t file, const fs::path& path,
                                                               std::int64_t id) {
        std::pair<DatasetInfo, DatasetInfo> out;
        for (const char* key : {k_deepcam_data, k_deepcam_labels}) {
            const H5Handle d = open_hdf5_dataset(file, path.string(), key, sample_text(id));
            (key == k_deepcam_data ? out.first : out.second) =
                describe_dataset(d.get(), path.string() + ":/" + key);
        }
        return out;
    }

    std::string m_folder;
    std::vector<fs::path> m_files;
    RawLayout m_layout;
};

/// climate/<key> of a stats.h5 as doubles.
std::vector<double> read_stat(hid_t file, const fs::path& path, const char* key) {
    const std::string name = std::string("climate/") + key;
    const H5Handle d(H5Lexists(file, "climate", H5P_DEFAULT) > 0 &&
                             H5Lexists(file, name.c_str(), H5P_DEFAULT) > 0
                         ? H5Dopen2(file, name.c_str(), H5P_DEFAULT)
                         : H5I_INVALID_HID,
                     H5Dclose);
    if (!d.ok()) {
        H5Eclear2(H5E_DEFAULT);
        throw RuntimeFailure(path.string() + ": has no dataset " + name);
    }
    const DatasetInfo info = describe_dataset(d.get(), path.string() + ":/" + name);
    std::vector<double> out(info.shape.size() == 1 ? static_cast<std::size_t>(info.shape[0]) : 0);
    if (H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0) {
        throw RuntimeFailure("cannot read " + path.string() + ":/" + name + ": " + hdf5_cause());
    }
    return out;
}

} // namespace

std::unique_ptr<RawReader> open_hdf5_split(const std::string& path, const std::string& key,
                                           const std::string& data_key,
                                           const std::string& target_key,
                                           const std::string& targets) {
    const util::FileAndDataset x = util::split_file_dataset(path);
    std::error_code ec;
    if (x.dataset.empty() && targets.empty() && fs::is_directory(path, ec)) {
        return std::make_unique<DeepCamReader>(path);
    }
    if (!fs::exists(x.file, ec)) {
        throw RuntimeFailure(key + ": " + x.file + " does not exist");
    }
    if (x.dataset.empty() != targets.empty()) {
        throw RuntimeFailure(key + ": " + path + " and " + key + "_targets (\"" + targets +
                             "\") must both name a dataset as FILE:/DATASET, or " + key +
                             " a whole file with " + key + "_targets unset");
    }
    if (x.dataset.empty()) { // one file per split: data.data_key and data.target_key
        return std::make_unique<Hdf5ArrayReader>(
            Hdf5Arrays{path, path, data_key, target_key, "data.data_key", "data.target_key"});
    }
    const util::FileAndDataset y = util::split_file_dataset(targets);
    if (!fs::exists(y.file, ec)) {
        throw RuntimeFailure(key + "_targets: " + y.file + " does not exist");
    }
    return std::make_unique<Hdf5ArrayReader>(
        Hdf5Arrays{x.file, y.file, x.dataset, y.dataset, key, key + "_targets"});
}

void write_hdf5_arrays(const fs::path& file, const std::vector<std::int64_t>& shape,
                       const std::vector<std::uint8_t>& data,
                       const std::vector<std::uint8_t>& targets) {
    const std::lock_guard lock(hdf5_mutex());
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const H5Handle f(H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!f.ok()) {
        throw RuntimeFailure("cannot write " + file.string() + ": " + hdf5_cause());
    }
    const auto write = [&](const char* name, const std::vector<hsize_t>& dims,
                           const std::uint8_t* bytes) {
        const H5Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                             H5Sclose);
        const H5Handle d(H5Dcreate2(f.get(), name, H5T_STD_U8LE, space.get(), H5P_DEFAULT,
                                    H5P_DEFAULT, H5P_DEFAULT),
                         H5Dclose);
        if (!space.ok() || !d.ok() ||
            H5Dwrite(d.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes) < 0) {
            throw RuntimeFailure("cannot write " + file.string() + ":/" + name + ": " +
                                 hdf5_cause());
        }
    };
    write("data", std::vector<hsize_t>(shape.begin(), shape.end()), data.data());
    write("targets", {static_cast<hsize_t>(shape[0])}, targets.data());
}

std::optional<Decoding> hdf5_split_normalisation(const std::string& path) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
        return std::nullopt;
    }
    fs::path stats = fs::path(path) / "stats.h5";
    if (!fs::exists(stats, ec)) {
        stats = fs::path(path).parent_path() / "stats.h5";
    }
    if (!fs::exists(stats, ec)) {
        throw RuntimeFailure(path + ": no stats.h5 in this folder or its parent (the DeepCAM "
                                    "per-channel statistics: climate/minval, climate/maxval)");
    }
    const std::lock_guard lock(hdf5_mutex());
    const H5Handle f = open_hdf5_file(stats, "");
    Decoding out;
    out.shift = read_stat(f.get(), stats, "minval");
    const std::vector<double> maxval = read_stat(f.get(), stats, "maxval");
    if (out.shift.empty() || maxval.size() != out.shift.size()) {
        throw RuntimeFailure(stats.string() + ": climate/minval and climate/maxval must be "
                                              "vectors of one value per channel");
    }
    for (std::size_t c = 0; c < maxval.size(); ++c) {
        const double range = maxval[c] - out.shift[c];
        out.scale.push_back(range > 0.0 ? 1.0 / range : 1.0);
    }
    return out;
}

} // namespace kakuren::trainer

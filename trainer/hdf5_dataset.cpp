// The dataset helpers of the hdf5 source (declared in trainer/hdf5.hpp): opening files and
// datasets (links followed, virtual datasets refused), their types and shapes, reads through
// HDF5, and the raw location that the contiguous path preads. No torch: the fuzz target of the
// HDF5 opener (tests/fuzz/hdf5_open_fuzz.cpp) links this file alone.
#include <fcntl.h>
#include <hdf5.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "trainer/hdf5.hpp"
#include "util/error.hpp"
#include "util/system.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;

/// The first source of a virtual dataset's mapping, "file:/dataset" ("." is the same file), or
/// "" when HDF5 cannot say; caller holds the mutex.
std::string first_virtual_source(hid_t dcpl) {
    std::size_t count = 0;
    if (H5Pget_virtual_count(dcpl, &count) < 0 || count == 0) {
        return "";
    }
    const auto text = [&](ssize_t (*get)(hid_t, size_t, char*, size_t)) {
        const ssize_t n = get(dcpl, 0, nullptr, 0);
        std::string s(static_cast<std::size_t>(std::max<ssize_t>(n, 0)) + 1, '\0');
        if (n <= 0 || get(dcpl, 0, s.data(), s.size()) < 0) {
            return std::string("?");
        }
        s.resize(static_cast<std::size_t>(n));
        return s;
    };
    std::string dataset = text(H5Pget_virtual_dsetname);
    if (dataset.empty() || dataset[0] != '/') {
        dataset.insert(0, "/");
    }
    return text(H5Pget_virtual_filename) + ":" + dataset + " (" + std::to_string(count) +
           (count == 1 ? " source)" : " sources)");
}

/// Refuses a chunked dataset whose chunks hold more than k_max_hdf5_chunk_bytes; caller holds
/// the mutex.
void check_chunk_size(hid_t dataset, hid_t dcpl, const std::string& where, const std::string& key) {
    const H5Handle type(H5Dget_type(dataset), H5Tclose);
    std::array<hsize_t, H5S_MAX_RANK> dims{};
    const int rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, dims.data());
    if (!type.ok() || rank <= 0) {
        return; // describe_dataset reports what HDF5 cannot say
    }
    // In 128-bit arithmetic: a fuzzed header may claim dims whose product overflows 64 bits.
    unsigned __int128 bytes = H5Tget_size(type.get());
    std::string text;
    for (int d = 0; d < rank; ++d) {
        bytes *= dims.at(static_cast<std::size_t>(d));
        bytes = std::min<unsigned __int128>(bytes, std::uint64_t{1} << 62);
        text += (d == 0 ? "" : "x") + std::to_string(dims.at(static_cast<std::size_t>(d)));
    }
    if (bytes > k_max_hdf5_chunk_bytes) {
        throw RuntimeFailure(
            where + " is stored in chunks of " + text + " elements (" +
            std::to_string(static_cast<std::uint64_t>(bytes >> 20)) +
            " MiB each uncompressed), more than kakuren's limit of " +
            std::to_string(k_max_hdf5_chunk_bytes >> 20) +
            " MiB: HDF5 decompresses a whole chunk to read one sample of it. Rewrite it in "
            "smaller chunks (h5py: out.create_dataset(\"" +
            key + "\", data=f[\"" + key +
            "\"][()], chunks=True, compression=\"gzip\") makes chunks under 1 MiB), or without "
            "chunks");
    }
}

} // namespace

std::mutex& hdf5_mutex() {
    static std::mutex m;
    return m;
}

std::string hdf5_cause() {
    std::string cause;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_DOWNWARD,
        [](unsigned /*n*/, const H5E_error2_t* e, void* out) -> herr_t {
            if (e->desc != nullptr && e->desc[0] != '\0') {
                *static_cast<std::string*>(out) = e->desc;
            }
            return 0;
        },
        &cause);
    H5Eclear2(H5E_DEFAULT);
    return cause.empty() ? "HDF5 error" : cause;
}

H5Handle open_hdf5_file(const fs::path& file, const std::string& context) {
    static const bool quiet = [] {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); // errors come back as messages instead
        return true;
    }();
    (void)quiet;
    // HDF5 opens without O_NONBLOCK: a FIFO would block it. Refused first, never waited on.
    util::open_regular_file(file, file.string() + context);
    H5Handle f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!f.ok()) {
        throw RuntimeFailure("cannot read " + file.string() + context +
                             ": not a readable HDF5 file (" + hdf5_cause() + ")");
    }
    return f;
}

DatasetInfo describe_dataset(hid_t dataset, const std::string& where) {
    const H5Handle type(H5Dget_type(dataset), H5Tclose);
    const H5Handle space(H5Dget_space(dataset), H5Sclose);
    if (!type.ok() || !space.ok()) {
        throw RuntimeFailure(where + ": " + hdf5_cause());
    }
    DatasetInfo out;
    const H5T_class_t cls = H5Tget_class(type.get());
    const std::size_t size = H5Tget_size(type.get());
    bool found = false;
    if (cls == H5T_INTEGER) {
        const bool is_signed = H5Tget_sign(type.get()) != H5T_SGN_NONE;
        found = true;
        if (size == 1) {
            out.type = is_signed ? util::NpyType::i8 : util::NpyType::u8;
        } else if (size == 2 && is_signed) {
            out.type = util::NpyType::i16;
        } else if (size == 4 && is_signed) {
            out.type = util::NpyType::i32;
        } else if (size == 8 && is_signed) {
            out.type = util::NpyType::i64;
        } else {
            found = false;
        }
    } else if (cls == H5T_FLOAT) {
        found = true;
        out.type = size == 2   ? util::NpyType::f16
                   : size == 4 ? util::NpyType::f32
                   : size == 8 ? util::NpyType::f64
                               : (found = false, util::NpyType::f32);
    }
    if (!found) {
        throw RuntimeFailure(where + ": unsupported element type (" + std::to_string(size) +
                             "-byte " +
                             (cls == H5T_INTEGER ? "integer"
                              : cls == H5T_FLOAT ? "float"
                                                 : "?") +
                             "); expected int8, uint8, int16, int32, int64, float16, float32 or "
                             "float64");
    }
    const int rank = H5Sget_simple_extent_ndims(space.get());
    std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    for (const hsize_t d : dims) {
        out.shape.push_back(static_cast<std::int64_t>(d));
    }
    return out;
}

// float16: read as stored, little-endian IEEE half.
hid_t hdf5_memory_type(util::NpyType type) {
    switch (type) {
    case util::NpyType::i8:
        return H5T_NATIVE_INT8;
    case util::NpyType::u8:
        return H5T_NATIVE_UINT8;
    case util::NpyType::i16:
        return H5T_NATIVE_INT16;
    case util::NpyType::i32:
        return H5T_NATIVE_INT32;
    case util::NpyType::i64:
        return H5T_NATIVE_INT64;
    case util::NpyType::f16:
        return -1;
    case util::NpyType::f32:
        return H5T_NATIVE_FLOAT;
    case util::NpyType::f64:
        return H5T_NATIVE_DOUBLE;
    }
    return H5T_NATIVE_UINT8;
}

void read_hdf5_rows(hid_t dataset, const DatasetInfo& info, std::int64_t first, std::int64_t count,
                    bool all, void* out, const std::string& where) {
    H5Handle file_space(H5Dget_space(dataset), H5Sclose);
    std::vector<hsize_t> start(info.shape.size(), 0), size(info.shape.begin(), info.shape.end());
    if (!all) {
        start[0] = static_cast<hsize_t>(first);
        size[0] = static_cast<hsize_t>(count);
    }
    const H5Handle mem_space(H5Screate_simple(static_cast<int>(size.size()), size.data(), nullptr),
                             H5Sclose);
    herr_t rc = file_space.ok() && mem_space.ok() ? 0 : -1;
    if (rc >= 0 && !all) {
        rc = H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr,
                                 size.data(), nullptr);
    }
    if (rc >= 0) {
        hid_t mem_type = hdf5_memory_type(info.type);
        std::optional<H5Handle> own_type;
        if (mem_type < 0) {
            own_type.emplace(H5Dget_type(dataset), H5Tclose);
            mem_type = own_type->get();
        }
        rc = H5Dread(dataset, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, out);
    }
    if (rc < 0) {
        throw RuntimeFailure("cannot read " + where + ": " + hdf5_cause());
    }
}

H5Handle open_hdf5_dataset(hid_t file, const std::string& file_name, const std::string& key,
                           const std::string& context) {
    const std::string where = file_name + ":/" + key + context;
    // H5Lexists checks one link; each group on the way must exist first or it fails.
    bool exists = !key.empty();
    for (std::size_t slash = key.find('/'); exists; slash = key.find('/', slash + 1)) {
        const std::string part = key.substr(0, slash);
        exists = slash == 0 || H5Lexists(file, part.c_str(), H5P_DEFAULT) > 0; // "/data"
        if (slash == std::string::npos) {
            break;
        }
    }
    if (!exists) {
        H5Eclear2(H5E_DEFAULT);
        throw RuntimeFailure(file_name + ": has no dataset \"" + key + "\"" + context + "; " +
                             hdf5_datasets_text(file));
    }
    H5Handle d(H5Dopen2(file, key.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.ok()) {
        // The name exists: a group, or a soft / external link whose target is missing.
        throw RuntimeFailure("cannot open " + where + " as a dataset: " + hdf5_cause() +
                             " (a group, or a soft or external link whose target is missing?)");
    }
    const H5Handle dcpl(H5Dget_create_plist(d.get()), H5Pclose);
    if (dcpl.ok() && H5Pget_layout(dcpl.get()) == H5D_VIRTUAL) {
        const std::string source = first_virtual_source(dcpl.get());
        H5Eclear2(H5E_DEFAULT);
        throw RuntimeFailure(
            where + " is a virtual dataset (HDF5 VDS" +
            (source.empty() ? std::string() : ", mapped from " + source) +
            "): HDF5 reads a missing source as fill values, silently, so kakuren reads only "
            "datasets stored in the file or reached by a link. Copy it into a plain dataset "
            "first (h5py: out.create_dataset(\"" +
            key + "\", data=f[\"" + key + "\"][()])) or point the recipe at its sources");
    }
    if (dcpl.ok() && H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
        check_chunk_size(d.get(), dcpl.get(), where, key);
    }
    H5Eclear2(H5E_DEFAULT);
    return d;
}

std::optional<RawLocation> raw_location(hid_t dataset, const DatasetInfo& info) {
    const H5Handle plist(H5Dget_create_plist(dataset), H5Pclose);
    if (!plist.ok() || H5Pget_layout(plist.get()) != H5D_CONTIGUOUS) {
        H5Eclear2(H5E_DEFAULT);
        return std::nullopt;
    }
    // HADDR_UNDEF: no storage yet, or the elements live in external raw files.
    const haddr_t offset = H5Dget_offset(dataset);
    const H5Handle stored(H5Dget_type(dataset), H5Tclose);
    const hid_t wanted = hdf5_memory_type(info.type);
    const bool same = stored.ok() && wanted >= 0 && H5Tequal(stored.get(), wanted) > 0;
    if (offset == HADDR_UNDEF || !same) {
        H5Eclear2(H5E_DEFAULT);
        return std::nullopt;
    }
    // The offset is within the file that holds the dataset, which an external link makes
    // another file than the one opened: pread from HDF5's own descriptor of that file (dup'ed,
    // so it outlives HDF5's), never from the opened file's name.
    const H5Handle holder(H5Iget_file_id(dataset), H5Fclose);
    const H5Handle fapl(holder.ok() ? H5Fget_access_plist(holder.get()) : H5I_INVALID_HID,
                        H5Pclose);
    void* handle = nullptr;
    if (!fapl.ok() || H5Pget_driver(fapl.get()) != H5FD_SEC2 ||
        H5Fget_vfd_handle(holder.get(), fapl.get(), &handle) < 0 || handle == nullptr) {
        H5Eclear2(H5E_DEFAULT);
        return std::nullopt;
    }
    util::Fd fd(::fcntl(*static_cast<const int*>(handle), F_DUPFD_CLOEXEC, 0));
    if (fd.get() < 0) {
        return std::nullopt;
    }
    return RawLocation{std::move(fd), static_cast<std::uint64_t>(offset)};
}

} // namespace kakuren::trainer

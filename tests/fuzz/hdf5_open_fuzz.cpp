// libFuzzer: the HDF5 opener of the hdf5 source (trainer/hdf5.hpp) on any file: open, the data
// and targets datasets (links followed, virtual ones refused, chunk sizes bounded), their
// types and shapes, the raw location, and a read of the first sample through HDF5.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "trainer/hdf5.hpp"
#include "util/error.hpp"

namespace {

namespace fs = std::filesystem;
using namespace kakuren::trainer;

/// Bytes of one row of a dataset [N, ...] (0 when it has no rows or is too large to read here).
std::size_t row_bytes(const DatasetInfo& info) {
    if (info.shape.empty() || info.shape[0] < 1) {
        return 0;
    }
    std::size_t n = kakuren::util::npy_type_bytes(info.type);
    for (std::size_t d = 1; d < info.shape.size(); ++d) {
        if (info.shape[d] < 0 || info.shape[d] > (1 << 20)) {
            return 0;
        }
        n *= static_cast<std::size_t>(info.shape[d]);
        if (n > (std::size_t{1} << 20)) {
            return 0;
        }
    }
    return n;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fs::path file =
        fs::temp_directory_path() / ("kakuren-hdf5-fuzz-" + std::to_string(::getpid()) + ".h5");
    {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    const std::lock_guard lock(hdf5_mutex());
    try {
        const H5Handle f = open_hdf5_file(file, "");
        for (const char* key : {"data", "targets", "climate/data"}) {
            try {
                const H5Handle d = open_hdf5_dataset(f.get(), file.string(), key, "");
                const DatasetInfo info = describe_dataset(d.get(), key);
                (void)raw_location(d.get(), info);
                if (const std::size_t bytes = row_bytes(info); bytes > 0) {
                    std::vector<std::byte> row(bytes);
                    read_hdf5_rows(d.get(), info, 0, 1, false, row.data(), key);
                }
            } catch (const kakuren::Error&) {
            }
        }
    } catch (const kakuren::Error&) {
    }
    return 0;
}

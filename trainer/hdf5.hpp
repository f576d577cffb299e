#pragma once
// The one owner of HDF5 identifiers in trainer/ (the hdf5 source, the stand-in writer, kakuren
// data convert): each identifier lives in an H5Handle with the function that closes it; and the
// dataset helpers of the hdf5 source (hdf5_dataset.cpp). Private to trainer/ (libhdf5); no torch.
#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "util/npy.hpp"
#include "util/system.hpp"

namespace kakuren::trainer {

/// An HDF5 identifier and the function that closes it (H5Fclose, H5Dclose, ...), called on
/// destruction. A negative id (the call that made it failed) is kept as is and never closed:
/// ok() tells. Moves, never copies.
class H5Handle {
  public:
    H5Handle(hid_t id, herr_t (*close)(hid_t)) : m_id(id), m_close(close) {}
    H5Handle(const H5Handle&) = delete;
    H5Handle& operator=(const H5Handle&) = delete;
    H5Handle(H5Handle&& other) noexcept : m_id(other.m_id), m_close(other.m_close) {
        other.m_id = H5I_INVALID_HID;
    }
    H5Handle& operator=(H5Handle&&) = delete;
    ~H5Handle() {
        if (m_id >= 0) {
            m_close(m_id);
        }
    }
    [[nodiscard]] hid_t get() const { return m_id; }
    [[nodiscard]] bool ok() const { return m_id >= 0; }

  private:
    hid_t m_id;
    herr_t (*m_close)(hid_t);
};

/// The one mutex of every HDF5 call: Debian's libhdf5 is the serial build, not thread-safe.
std::mutex& hdf5_mutex();

/// The deepest message of HDF5's error stack (its most specific cause), and clears the stack;
/// caller holds the mutex.
std::string hdf5_cause();

/// Opens a regular file read-only (a FIFO or device is refused first, never waited on); caller
/// holds the mutex. Throws RuntimeFailure "cannot read <file><context>: ..." otherwise.
H5Handle open_hdf5_file(const std::filesystem::path& file, const std::string& context);

/// The largest chunk (uncompressed) of a chunked dataset kakuren reads: HDF5 decompresses a
/// whole chunk to read any sample in it, so one gzip chunk of zeros a few hundred kB on disk
/// took 1.8 GB of memory (issue 23, #9). h5py's automatic chunks stay under 1 MiB.
inline constexpr std::uint64_t k_max_hdf5_chunk_bytes = std::uint64_t{64} << 20;

/// Opens the dataset `key` of an open file (links followed: soft, hard and external), naming
/// it "<file_name>:/<key><context>" in errors; caller holds the mutex. Throws RuntimeFailure
/// when there is no such dataset, when a link leads nowhere, for a virtual dataset (its samples
/// come from source files that HDF5 replaces by fill values, silently, when they are missing:
/// kakuren asks for a plain copy instead), and for chunks over k_max_hdf5_chunk_bytes.
H5Handle open_hdf5_dataset(hid_t file, const std::string& file_name, const std::string& key,
                           const std::string& context);

/// A dataset's element type and shape.
struct DatasetInfo {
    util::NpyType type = util::NpyType::u8;
    std::vector<std::int64_t> shape;
};

/// Element type and shape of a dataset; caller holds the mutex. Throws RuntimeFailure naming
/// `where` for an element type kakuren does not read.
DatasetInfo describe_dataset(hid_t dataset, const std::string& where);

/// Reads `count` entries of the first axis from `first` (all of a dataset when `all`) into out,
/// converted to the element type of `info`; caller holds the mutex. Throws naming `where`.
void read_hdf5_rows(hid_t dataset, const DatasetInfo& info, std::int64_t first, std::int64_t count,
                    bool all, void* out, const std::string& where);

/// A dataset of a file: its path ("/train/images"), element type name and shape.
struct Hdf5Entry {
    std::string name, type;
    std::vector<std::int64_t> shape;
};

/// Every dataset of an open file reached by hard links, in name order (hdf5_listing.cpp); a
/// type kakuren does not read is named as such. Caller holds the mutex. Throws nothing.
std::vector<Hdf5Entry> list_hdf5_datasets(hid_t file);

/// "the file holds /a uint8 [10, 4], /b int64 [10]" (at most 20 named), for messages.
std::string hdf5_datasets_text(hid_t file);

/// The memory type HDF5 converts to for kakuren's element type; -1 for float16 (read as stored).
hid_t hdf5_memory_type(util::NpyType type);

/// Where a dataset's elements can be read with pread: a descriptor of the file that really
/// holds them (an external link's target, not the file that links to it) and their offset.
struct RawLocation {
    util::Fd fd;
    std::uint64_t offset = 0;
};

/// The raw location of a contiguous dataset whose storage is allocated in its HDF5 file (no
/// chunks, so no filters; not in external raw files) and whose elements are stored as read (no
/// conversion); nullopt otherwise (read it through HDF5). Caller holds the mutex.
std::optional<RawLocation> raw_location(hid_t dataset, const DatasetInfo& info);

} // namespace kakuren::trainer

#pragma once
// The header of a .npy file (numpy format versions 1.0, 2.0 and 3.0), parsed without numpy or
// torch: element type, shape and where the data starts. What kakuren reads: C order,
// little-endian (or single-byte) elements of the types in NpyType.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kakuren::util {

/// Element types kakuren reads from numpy files and HDF5 datasets.
enum class NpyType { i8, u8, i16, i32, i64, f16, f32, f64 };

/// "int16", "float32", ...: numpy's name of the type.
std::string_view npy_type_name(NpyType type);
/// Bytes per element.
std::size_t npy_type_bytes(NpyType type);
/// Whether the type holds integers (class ids, masks) rather than floating point values.
bool npy_type_is_integer(NpyType type);

struct NpyHeader {
    int major = 1, minor = 0; ///< format version
    NpyType type = NpyType::u8;
    std::vector<std::int64_t> shape; ///< [] for a scalar
    std::uint64_t data_offset = 0;   ///< bytes from the file's start to the first element
    /// Elements in the array (the product of shape; 1 for a scalar).
    [[nodiscard]] std::uint64_t count() const;
    /// Bytes of the array's data.
    [[nodiscard]] std::uint64_t data_bytes() const { return count() * npy_type_bytes(type); }
};

/// Parses the header at the start of `bytes` (at least the whole header: 16 bytes plus the
/// header length the preamble states; a header is at most 64 KiB in practice). `name` is the file
/// for messages. Throws RuntimeFailure "<name>: not a .npy file ..." / "<name>: ..." naming what
/// is wrong (magic, version, a big-endian or Fortran-order array, an unsupported dtype).
NpyHeader parse_npy_header(std::string_view bytes, const std::string& name);

/// Reads and parses the header of `file`, and checks that the file holds the data the header
/// describes (a truncated file, or a header that claims more than the file holds, is an error
/// naming both sizes). Throws RuntimeFailure naming the file.
NpyHeader read_npy_header(const std::filesystem::path& file);

/// "[60000, 1, 28, 28]"
/// The bytes a numpy `.npy` file (format 1.0) starts with for a C-order array of `descr` ("<i2",
/// "<f4", "|u1") and `shape`: magic, version, header length and the dict, padded with spaces so
/// that the data starts at a multiple of 64 bytes, as numpy.save writes it.
std::string npy_file_header(std::string_view descr, const std::vector<std::int64_t>& shape);

std::string shape_text(const std::vector<std::int64_t>& shape);

} // namespace kakuren::util

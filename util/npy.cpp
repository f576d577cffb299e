#include "util/npy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>

#include "util/error.hpp"
#include "util/system.hpp"

namespace kakuren::util {
namespace {

constexpr std::string_view k_magic = "\x93NUMPY";
constexpr std::size_t k_max_header = 1 << 20;

struct TypeInfo {
    NpyType type;
    std::string_view name;
    std::size_t bytes;
    char kind; ///< numpy's kind character: i, u, f
    bool integer;
};

constexpr std::array<TypeInfo, 8> k_types = {{
    {NpyType::i8, "int8", 1, 'i', true},
    {NpyType::u8, "uint8", 1, 'u', true},
    {NpyType::i16, "int16", 2, 'i', true},
    {NpyType::i32, "int32", 4, 'i', true},
    {NpyType::i64, "int64", 8, 'i', true},
    {NpyType::f16, "float16", 2, 'f', false},
    {NpyType::f32, "float32", 4, 'f', false},
    {NpyType::f64, "float64", 8, 'f', false},
}};

const TypeInfo& info(NpyType type) {
    for (const auto& t : k_types) {
        if (t.type == type) {
            return t;
        }
    }
    return k_types[1];
}

[[noreturn]] void fail(const std::string& name, const std::string& why) {
    throw RuntimeFailure(name + ": " + why);
}

/// The text after `'key':` in the header dict, with leading blanks skipped; nullopt if absent.
std::optional<std::string_view> value_of(std::string_view dict, std::string_view key) {
    for (const char quote : {'\'', '"'}) {
        const std::string pattern = std::string(1, quote) + std::string(key) + quote;
        const auto at = dict.find(pattern);
        if (at == std::string_view::npos) {
            continue;
        }
        auto rest = dict.substr(at + pattern.size());
        const auto colon = rest.find_first_not_of(" \t");
        if (colon == std::string_view::npos || rest[colon] != ':') {
            return std::nullopt;
        }
        rest = rest.substr(colon + 1);
        const auto start = rest.find_first_not_of(" \t");
        return start == std::string_view::npos ? std::string_view{} : rest.substr(start);
    }
    return std::nullopt;
}

NpyType parse_descr(std::string_view value, const std::string& name) {
    if (value.empty() || (value[0] != '\'' && value[0] != '"')) {
        fail(name, "the header's descr is not a simple type string (structured arrays are not "
                   "supported)");
    }
    const auto end = value.find(value[0], 1);
    if (end == std::string_view::npos) {
        fail(name, "unterminated descr in the header");
    }
    const std::string descr(value.substr(1, end - 1));
    if (descr.size() < 3) {
        fail(name, "unsupported dtype '" + descr + "'");
    }
    const char order = descr[0];
    const char kind = descr[1];
    std::size_t bytes = 0;
    try {
        bytes = std::stoul(descr.substr(2));
    } catch (const std::exception&) {
        fail(name, "unsupported dtype '" + descr + "'");
    }
    if (order == '>' && bytes > 1) {
        fail(name, "dtype '" + descr +
                       "' is big-endian; kakuren reads little-endian arrays (convert with "
                       "a.astype(a.dtype.newbyteorder('<')))");
    }
    for (const auto& t : k_types) {
        if (t.kind == kind && t.bytes == bytes) {
            return t.type;
        }
    }
    fail(name, "unsupported dtype '" + descr +
                   "'; expected int8, uint8, int16, int32, int64, float16, float32 or float64");
}

std::vector<std::int64_t> parse_shape(std::string_view value, const std::string& name) {
    if (value.empty() || value[0] != '(') {
        fail(name, "the header's shape is not a tuple");
    }
    const auto end = value.find(')');
    if (end == std::string_view::npos) {
        fail(name, "unterminated shape in the header");
    }
    std::vector<std::int64_t> shape;
    std::string_view inner = value.substr(1, end - 1);
    while (!inner.empty()) {
        const auto comma = inner.find(',');
        std::string_view item = inner.substr(0, comma);
        const auto first = item.find_first_not_of(" \t");
        const auto last = item.find_last_not_of(" \tL");
        if (first != std::string_view::npos) {
            item = item.substr(first, last - first + 1);
            std::int64_t v = 0;
            for (const char c : item) {
                if (c < '0' || c > '9' || v > (std::numeric_limits<std::int64_t>::max() / 10)) {
                    fail(name, "bad dimension '" + std::string(item) + "' in the header's shape");
                }
                v = v * 10 + (c - '0');
            }
            shape.push_back(v);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        inner = inner.substr(comma + 1);
    }
    return shape;
}

} // namespace

std::string_view npy_type_name(NpyType type) {
    return info(type).name;
}

std::size_t npy_type_bytes(NpyType type) {
    return info(type).bytes;
}

bool npy_type_is_integer(NpyType type) {
    return info(type).integer;
}

std::uint64_t NpyHeader::count() const {
    std::uint64_t n = 1;
    for (const std::int64_t d : shape) {
        n *= static_cast<std::uint64_t>(d);
    }
    return n;
}

NpyHeader parse_npy_header(std::string_view bytes, const std::string& name) {
    if (bytes.size() < 10 || bytes.substr(0, k_magic.size()) != k_magic) {
        fail(name, "not a .npy file (no \\x93NUMPY magic at its start)");
    }
    NpyHeader h;
    h.major = static_cast<unsigned char>(bytes[6]);
    h.minor = static_cast<unsigned char>(bytes[7]);
    std::uint64_t length = 0;
    std::size_t preamble = 0;
    const auto byte = [&](std::size_t i) {
        return static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i]));
    };
    if (h.major == 1) {
        length = byte(8) | (byte(9) << 8);
        preamble = 10;
    } else if (h.major == 2 || h.major == 3) {
        if (bytes.size() < 12) {
            fail(name, "file ends inside the .npy header");
        }
        length = byte(8) | (byte(9) << 8) | (byte(10) << 16) | (byte(11) << 24);
        preamble = 12;
    } else {
        fail(name, "numpy format version " + std::to_string(h.major) + "." +
                       std::to_string(h.minor) + " is not supported (1.0, 2.0 and 3.0 are)");
    }
    if (length > k_max_header) {
        fail(name, "implausible .npy header length " + std::to_string(length));
    }
    if (bytes.size() < preamble + length) {
        fail(name, "file ends inside the .npy header (" + std::to_string(preamble + length) +
                       " bytes needed, " + std::to_string(bytes.size()) + " present)");
    }
    h.data_offset = preamble + length;
    const std::string_view dict = bytes.substr(preamble, length);
    const auto descr = value_of(dict, "descr");
    const auto fortran = value_of(dict, "fortran_order");
    const auto shape = value_of(dict, "shape");
    if (!descr || !fortran || !shape) {
        fail(name, "the .npy header lacks descr, fortran_order or shape");
    }
    h.type = parse_descr(*descr, name);
    if (fortran->substr(0, 4) == "True") {
        fail(name, "the array is in Fortran order; kakuren reads C order (save "
                   "numpy.ascontiguousarray(a))");
    }
    h.shape = parse_shape(*shape, name);
    // Overflow guard: an element count past 2^62 bytes is not a file anyone has.
    auto total = static_cast<long double>(npy_type_bytes(h.type));
    for (const std::int64_t d : h.shape) {
        total *= static_cast<long double>(d);
    }
    if (total > static_cast<long double>(1ULL << 62)) {
        fail(name, "implausible shape " + shape_text(h.shape) + " in the header");
    }
    return h;
}

NpyHeader read_npy_header(const std::filesystem::path& file) {
    const std::string name = file.string();
    // A FIFO or a device named as a data file is refused, never waited on.
    const Fd owned = open_regular_file(file);
    const int fd = owned.get();
    std::string head(4096, '\0');
    std::size_t got = 0;
    bool eof = false;
    const auto fill = [&](std::size_t want) {
        head.resize(want);
        while (got < want && !eof) {
            const ssize_t n = ::pread(fd, head.data() + got, want - got, static_cast<off_t>(got));
            if (n < 0) {
                const int err = errno;
                throw RuntimeFailure("cannot read " + name + ": " + std::strerror(err));
            }
            eof = n == 0;
            got += static_cast<std::size_t>(n);
        }
        head.resize(got);
    };
    fill(4096);
    std::uint64_t needed = 0;
    if (head.size() >= 12 && head.substr(0, k_magic.size()) == k_magic) {
        const auto b = [&](std::size_t i) {
            return static_cast<std::uint64_t>(static_cast<unsigned char>(head[i]));
        };
        needed = head[6] == 1 ? 10 + (b(8) | (b(9) << 8))
                              : 12 + (b(8) | (b(9) << 8) | (b(10) << 16) | (b(11) << 24));
        if (needed > head.size() && needed <= k_max_header + 12) {
            fill(static_cast<std::size_t>(needed));
        }
    }
    struct stat st {};
    const int rc = ::fstat(fd, &st);
    NpyHeader h = parse_npy_header(head, name);
    if (rc == 0) {
        const auto size = static_cast<std::uint64_t>(st.st_size);
        if (size < h.data_offset + h.data_bytes()) {
            fail(name, "file ends early: the header describes " +
                           std::string(npy_type_name(h.type)) + " " + shape_text(h.shape) + " (" +
                           std::to_string(h.data_bytes()) + " bytes after the " +
                           std::to_string(h.data_offset) + "-byte header), the file holds " +
                           std::to_string(size) + " bytes in all");
        }
    }
    return h;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
    std::string out = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        out += (i > 0 ? ", " : "") + std::to_string(shape[i]);
    }
    return out + "]";
}

std::string npy_file_header(std::string_view descr, const std::vector<std::int64_t>& shape) {
    std::string dims;
    for (const std::int64_t d : shape) {
        dims += std::to_string(d) + ", ";
    }
    if (shape.size() > 1) {
        dims.resize(dims.size() - 2);
    } else if (!dims.empty()) {
        dims.pop_back(); // "(4,)"
    }
    std::string dict = "{'descr': '" + std::string(descr) +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
    const std::size_t unpadded = 10 + dict.size() + 1;
    dict.append((64 - unpadded % 64) % 64, ' ');
    dict += '\n';
    std::string out("\x93NUMPY\x01\x00", 8);
    out += static_cast<char>(dict.size() & 0xff);
    out += static_cast<char>(dict.size() >> 8);
    return out + dict;
}

} // namespace kakuren::util

// libFuzzer: the .npy header parser of the npy data source (util/npy.hpp), on any bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "util/error.hpp"
#include "util/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    try {
        const kakuren::util::NpyHeader h = kakuren::util::parse_npy_header(bytes, "x.npy");
        (void)h.data_bytes();
        (void)kakuren::util::shape_text(h.shape);
    } catch (const kakuren::Error&) {
    }
    return 0;
}

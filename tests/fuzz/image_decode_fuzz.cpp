// libFuzzer: the JPEG / PNG decoders of the images source (trainer/image_decode.hpp) on any
// bytes: headers, the pixel limit, and the decode itself (libjpeg-turbo, libpng).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "trainer/image_decode.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::vector<unsigned char> bytes(data, data + size);
    try {
        const kakuren::trainer::Pixels p = kakuren::trainer::decode_image(bytes, "x (sample 0)");
        // What the source relies on: the pixels are exactly H x W x C, C is 1 or 3.
        if ((p.channels != 1 && p.channels != 3) || p.height <= 0 || p.width <= 0 ||
            p.data.size() != static_cast<std::size_t>(p.height) *
                                 static_cast<std::size_t>(p.width) *
                                 static_cast<std::size_t>(p.channels)) {
            __builtin_trap();
        }
    } catch (const kakuren::Error&) {
    }
    return 0;
}

#include "png.hpp"

#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace kakuren::report::testing {

namespace {

std::uint32_t be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24U) | (std::uint32_t{p[1]} << 16U) |
           (std::uint32_t{p[2]} << 8U) | std::uint32_t{p[3]};
}

std::vector<std::uint8_t> inflate_all(const std::vector<std::uint8_t>& in, std::size_t expected) {
    std::vector<std::uint8_t> out(expected);
    z_stream z{};
    if (inflateInit(&z) != Z_OK) {
        throw std::runtime_error("png: inflateInit failed");
    }
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    if (rc != Z_STREAM_END || z.total_out != expected) {
        throw std::runtime_error("png: image data does not inflate to the expected size");
    }
    return out;
}

int paeth(int a, int b, int c) {
    const int p = a + b - c;
    const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

} // namespace

Image read_png(const std::filesystem::path& path) {
    std::ifstream f(path, std::ios::binary);
    const std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(f)),
                                         std::istreambuf_iterator<char>());
    static const std::uint8_t k_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (data.size() < 8 || !std::equal(k_signature, k_signature + 8, data.begin())) {
        throw std::runtime_error("png: " + path.string() + " is not a PNG file");
    }
    Image img;
    int color_type = 0;
    std::vector<std::uint8_t> idat;
    std::size_t pos = 8;
    while (pos + 12 <= data.size()) {
        const std::uint32_t len = be32(&data[pos]);
        const std::string type(reinterpret_cast<const char*>(&data[pos + 4]), 4);
        const std::uint8_t* body = &data[pos + 8];
        if (pos + 12 + len > data.size()) {
            throw std::runtime_error("png: truncated chunk " + type);
        }
        if (type == "IHDR") {
            img.width = static_cast<int>(be32(body));
            img.height = static_cast<int>(be32(body + 4));
            color_type = body[9];
            if (body[8] != 8 || (color_type != 2 && color_type != 6) || body[12] != 0) {
                throw std::runtime_error("png: only 8-bit RGB/RGBA, not interlaced");
            }
        } else if (type == "IDAT") {
            idat.insert(idat.end(), body, body + len);
        } else if (type == "IEND") {
            break;
        }
        pos += 12 + len;
    }
    const int channels = color_type == 6 ? 4 : 3;
    const std::size_t stride = static_cast<std::size_t>(img.width) * channels;
    const auto raw = inflate_all(idat, (stride + 1) * static_cast<std::size_t>(img.height));
    std::vector<std::uint8_t> prev(stride, 0), cur(stride);
    img.rgb.resize(static_cast<std::size_t>(img.width) * img.height * 3);
    for (int y = 0; y < img.height; ++y) {
        const std::uint8_t* line = &raw[static_cast<std::size_t>(y) * (stride + 1)];
        const int filter = line[0];
        for (std::size_t i = 0; i < stride; ++i) {
            const int x = line[1 + i];
            const int a = i >= static_cast<std::size_t>(channels) ? cur[i - channels] : 0;
            const int b = prev[i];
            const int c = i >= static_cast<std::size_t>(channels) ? prev[i - channels] : 0;
            int v = 0;
            switch (filter) {
            case 0:
                v = x;
                break;
            case 1:
                v = x + a;
                break;
            case 2:
                v = x + b;
                break;
            case 3:
                v = x + (a + b) / 2;
                break;
            case 4:
                v = x + paeth(a, b, c);
                break;
            default:
                throw std::runtime_error("png: unknown filter " + std::to_string(filter));
            }
            cur[i] = static_cast<std::uint8_t>(v & 0xFF);
        }
        for (int x = 0; x < img.width; ++x) {
            for (int ch = 0; ch < 3; ++ch) {
                img.rgb[(static_cast<std::size_t>(y) * img.width + x) * 3 + ch] =
                    cur[static_cast<std::size_t>(x) * channels + ch];
            }
        }
        std::swap(prev, cur);
    }
    return img;
}

} // namespace kakuren::report::testing

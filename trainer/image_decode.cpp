// The JPEG and PNG decoders of the images source (declared in trainer/image_decode.hpp):
// libjpeg-turbo and libpng, with the pixel limit checked on the header before any pixel memory. No
// torch: the fuzz target of the decoders (tests/fuzz/image_decode_fuzz.cpp) links this file alone.
#include "trainer/image_decode.hpp"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <optional>

// jpeglib.h needs FILE and size_t declared before it.
#include <jpeglib.h>
#include <png.h>

#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

/// The error for an image whose header claims more than k_max_image_pixels, checked before
/// its pixels are allocated; nullopt when it is within the limit.
std::optional<std::string> too_many_pixels(std::uint64_t height, std::uint64_t width,
                                           const std::string& name) {
    if (height * width <= static_cast<std::uint64_t>(k_max_image_pixels)) {
        return std::nullopt;
    }
    return name + ": the header says " + std::to_string(height) + "x" + std::to_string(width) +
           " (HxW), " + std::to_string(height * width) + " pixels, more than the limit of " +
           std::to_string(k_max_image_pixels) +
           " per image (Pillow's MAX_IMAGE_PIXELS): a decompression bomb, or an image to "
           "downscale before training";
}

// libjpeg reports errors through error_exit, whose default calls exit(): ours jumps back to the
// decoder with the message. Warnings (corrupt data, a premature end of file) would otherwise
// decode grey filler silently: they are errors here too.
struct JpegErrors {
    jpeg_error_mgr mgr{};
    std::jmp_buf jump{};
    char message[JMSG_LENGTH_MAX] = {};
};

[[noreturn]] void jpeg_fail(j_common_ptr info) {
    auto* errors = reinterpret_cast<JpegErrors*>(info->err); // mgr is the first member
    (*info->err->format_message)(info, errors->message);
    std::longjmp(errors->jump, 1); // NOLINT(cert-err52-cpp): libjpeg's documented error path
}

void jpeg_message(j_common_ptr info, int level) {
    if (level < 0) {
        jpeg_fail(info);
    }
}

/// Decodes a JPEG into `pixels` (H x W x C, C = 1 for greyscale files, else 3). Returns false
/// with `errors.message` set when libjpeg fails; throws RuntimeFailure (too_many_pixels) for an
/// image too large.
/// No C++ object lives in the frames that the error jump skips (libjpeg's own).
bool decode_jpeg(const std::vector<unsigned char>& bytes, std::vector<std::uint8_t>& pixels,
                 int& height, int& width, int& channels, JpegErrors& errors,
                 const std::string& name) {
    jpeg_decompress_struct info{};
    info.err = jpeg_std_error(&errors.mgr);
    errors.mgr.error_exit = jpeg_fail;
    errors.mgr.emit_message = jpeg_message;
    if (setjmp(errors.jump) != 0) { // NOLINT(cert-err52-cpp)
        jpeg_destroy_decompress(&info);
        return false;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&info, TRUE);
    if (info.num_components != 1 && info.num_components != 3) {
        std::snprintf(errors.message, sizeof errors.message,
                      "%d colour components (CMYK?); expected greyscale or RGB",
                      info.num_components);
        jpeg_destroy_decompress(&info);
        return false;
    }
    if (auto error = too_many_pixels(info.image_height, info.image_width, name)) {
        jpeg_destroy_decompress(&info);
        throw RuntimeFailure(*error);
    }
    info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    height = static_cast<int>(info.output_height);
    width = static_cast<int>(info.output_width);
    channels = info.output_components;
    const std::size_t row = static_cast<std::size_t>(width) * static_cast<std::size_t>(channels);
    pixels.resize(row * static_cast<std::size_t>(height));
    while (info.output_scanline < info.output_height) {
        JSAMPROW line = pixels.data() + row * info.output_scanline;
        jpeg_read_scanlines(&info, &line, 1);
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    return true;
}

Pixels decode_png(const std::vector<unsigned char>& bytes, const std::string& name) {
    // The simplified API: libpng's setjmp error handling stays inside it; failures come back as
    // image.message. Grey files (any bit depth, with or without alpha) read as 8-bit grey,
    // colour and palette files as 8-bit RGB (alpha composed onto black).
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    if (png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()) == 0) {
        throw RuntimeFailure(name + ": corrupt PNG: " + image.message);
    }
    if (auto error = too_many_pixels(image.height, image.width, name)) {
        png_image_free(&image);
        throw RuntimeFailure(*error);
    }
    Pixels out;
    const bool colour = (image.format & PNG_FORMAT_FLAG_COLOR) != 0U;
    image.format = colour ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    out.height = static_cast<int>(image.height);
    out.width = static_cast<int>(image.width);
    out.channels = colour ? 3 : 1;
    out.data.resize(PNG_IMAGE_SIZE(image));
    png_color black{0, 0, 0};
    if (png_image_finish_read(&image, &black, out.data.data(), 0, nullptr) == 0) {
        const std::string message = image.message;
        png_image_free(&image);
        throw RuntimeFailure(name + ": corrupt PNG: " + message);
    }
    return out;
}

} // namespace

Pixels decode_image(const std::vector<unsigned char>& bytes, const std::string& name) {
    const auto starts = [&](std::initializer_list<unsigned char> magic) {
        return bytes.size() >= magic.size() &&
               std::equal(magic.begin(), magic.end(), bytes.begin());
    };
    if (starts({0x89, 'P', 'N', 'G'})) {
        return decode_png(bytes, name);
    }
    if (starts({0xFF, 0xD8, 0xFF})) {
        Pixels out;
        JpegErrors errors;
        if (!decode_jpeg(bytes, out.data, out.height, out.width, out.channels, errors, name)) {
            throw RuntimeFailure(name + ": corrupt JPEG: " + errors.message);
        }
        return out;
    }
    throw RuntimeFailure(name + ": not a JPEG or PNG file (" + std::to_string(bytes.size()) +
                         " bytes, no JPEG or PNG signature)");
}

void write_png(const std::filesystem::path& file, std::int64_t height, std::int64_t width,
               int channels, const std::uint8_t* pixels) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(width);
    image.height = static_cast<png_uint_32>(height);
    image.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    if (png_image_write_to_file(&image, file.c_str(), 0, pixels, 0, nullptr) == 0) {
        throw RuntimeFailure("cannot write " + file.string() + ": " + image.message);
    }
}

} // namespace kakuren::trainer

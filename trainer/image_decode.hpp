#pragma once
// The JPEG / PNG decoders of the images source (data.dataset = "images") and the PNG writer of
// kakuren data convert. Private to trainer/ (libjpeg-turbo, libpng); no torch.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace kakuren::trainer {

/// The most pixels (height x width) kakuren decodes from one image file: Pillow's
/// MAX_IMAGE_PIXELS (89,478,485, a quarter GiB of 24-bit pixels). A header that claims more (a
/// decompression bomb: a few hundred bytes that say 60000x60000) is refused, naming the file,
/// before any pixel memory is allocated; downscale such images before training.
inline constexpr std::int64_t k_max_image_pixels = 89'478'485;

/// A decoded image, H x W x C uint8.
struct Pixels {
    int height = 0, width = 0, channels = 0;
    std::vector<std::uint8_t> data;
};

/// Decodes a JPEG or PNG file's bytes (told apart by their signature): greyscale files to one
/// channel, colour and palette files to RGB (PNG alpha composed onto black). `name` names the
/// file in errors ("x.png (sample 3)"). Throws RuntimeFailure for a corrupt file, another
/// format, a CMYK JPEG, or a header that claims more than k_max_image_pixels.
Pixels decode_image(const std::vector<unsigned char>& bytes, const std::string& name);

/// Writes uint8 pixels [height, width, channels] (1 or 3) as a PNG file (kakuren data convert).
void write_png(const std::filesystem::path& file, std::int64_t height, std::int64_t width,
               int channels, const std::uint8_t* pixels);

} // namespace kakuren::trainer

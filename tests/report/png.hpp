#pragma once
// A minimal PNG reader for screenshot checks: 8-bit RGB or RGBA, not interlaced (what Chromium
// writes). Test helper, not a general decoder.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace kakuren::report::testing {

struct Image {
    int width = 0, height = 0;
    std::vector<std::uint8_t> rgb; ///< width * height * 3
};

/// Reads path; throws std::runtime_error saying what is unsupported or broken.
Image read_png(const std::filesystem::path& path);

} // namespace kakuren::report::testing

// Hidden-set bitmaps (db/bitmap.hpp).
#include "db/bitmap.hpp"

#include <bit>
#include <string>

#include "db/store.hpp"

namespace kakuren::db {

std::vector<std::uint8_t> make_bitmap(std::span<const std::int64_t> ids, std::int64_t n,
                                      const std::string& what, std::int64_t& count) {
    std::vector<std::uint8_t> bitmap(static_cast<std::size_t>((n + 7) / 8), 0);
    count = 0;
    for (const std::int64_t id : ids) {
        if (id < 0 || id >= n)
            throw DbError(what + ": hidden sample id " + std::to_string(id) +
                          " is out of range [0, " + std::to_string(n) + ")");
        auto& byte = bitmap[static_cast<std::size_t>(id / 8)];
        const auto bit = static_cast<std::uint8_t>(1U << (id % 8));
        if ((byte & bit) == 0) {
            byte |= bit;
            ++count;
        }
    }
    return bitmap;
}

std::vector<std::int64_t> bitmap_ids(std::span<const std::uint8_t> bitmap, std::int64_t n) {
    std::vector<std::int64_t> ids;
    for (std::size_t byte = 0; byte < bitmap.size(); ++byte) {
        std::uint8_t bits = bitmap[byte];
        while (bits != 0) {
            const auto id = static_cast<std::int64_t>(byte * 8) + std::countr_zero(bits);
            if (id < n)
                ids.push_back(id);
            bits = static_cast<std::uint8_t>(bits & (bits - 1));
        }
    }
    return ids;
}

} // namespace kakuren::db

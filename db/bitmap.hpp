#pragma once
// Hidden sets as stored: a bitmap of ceil(N/8) bytes, bit (i % 8) of byte (i / 8) set for each
// hidden sample id i. Internal to db/ (epochs.cpp, checkpoints.cpp).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kakuren::db {

/// ceil(n/8) bytes, bit (i % 8) of byte (i / 8) set for each id; count = distinct ids. Throws
/// DbError naming `what` for an id outside [0, n).
std::vector<std::uint8_t> make_bitmap(std::span<const std::int64_t> ids, std::int64_t n,
                                      const std::string& what, std::int64_t& count);

/// The ids set in a bitmap, ascending; bits at or beyond n are ignored.
std::vector<std::int64_t> bitmap_ids(std::span<const std::uint8_t> bitmap, std::int64_t n);

} // namespace kakuren::db

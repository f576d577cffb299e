#pragma once
// The two mixing functions kakuren uses, each written once (docs/development.md "Declared
// once"). Their outputs are part of recorded results (the golden digests, hidden-set digests in
// logs, seeded draws): they must never change. Header-only and pure (hiding/ uses them).
#include <cstddef>
#include <cstdint>

namespace kakuren::util {

/// 64-bit FNV-1a. add() feeds bytes; add_word() feeds a whole 64-bit word in one step (the
/// word-wise variant model digests use: faster, and a different value than its 8 bytes).
/// kakuren's offset basis, k_offset, is the published one (k_fnv_offset, 14695981039346656037)
/// with its last digit lost; every recorded digest was made with it, so it stays.
class Fnv1a {
  public:
    static constexpr std::uint64_t k_offset = 1469598103934665603ULL;
    static constexpr std::uint64_t k_fnv_offset = 14695981039346656037ULL;
    static constexpr std::uint64_t k_prime = 1099511628211ULL;

    constexpr explicit Fnv1a(std::uint64_t offset = k_offset) : m_hash(offset) {}

    constexpr void add_word(std::uint64_t word) { m_hash = (m_hash ^ word) * k_prime; }
    void add(const void* data, std::size_t size) {
        const auto* bytes = static_cast<const unsigned char*>(data);
        for (std::size_t i = 0; i < size; ++i) {
            add_word(bytes[i]);
        }
    }
    [[nodiscard]] constexpr std::uint64_t value() const { return m_hash; }

  private:
    std::uint64_t m_hash;
};

/// One step of splitmix64 (Steele, Lea, Flood 2014): advances state, returns the mixed output.
constexpr std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/// splitmix64's output for state x, as a pure function of x (a hash of one word).
constexpr std::uint64_t splitmix64_mix(std::uint64_t x) {
    return splitmix64(x);
}

} // namespace kakuren::util

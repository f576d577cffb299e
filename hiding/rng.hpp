#pragma once
// Private to hiding/ (and its tests): a small, fully specified random generator, so that a seed
// gives the same draws on every compiler and standard library (std::uniform_int_distribution
// does not).
#include <cstdint>

#include "util/hash.hpp"

namespace kakuren::hiding::detail {

/// One step of splitmix64 (util/hash.hpp): advances state, returns the mixed output.
using util::splitmix64;

/// Full 64 x 64 -> 128-bit product from 32-bit halves: returns the high word, stores the low word.
inline std::uint64_t mul_wide_portable(std::uint64_t a, std::uint64_t b, std::uint64_t& low) {
    const std::uint64_t a_lo = a & 0xFFFFFFFFULL;
    const std::uint64_t a_hi = a >> 32;
    const std::uint64_t b_lo = b & 0xFFFFFFFFULL;
    const std::uint64_t b_hi = b >> 32;
    const std::uint64_t lo_lo = a_lo * b_lo;
    const std::uint64_t hi_lo = a_hi * b_lo;
    const std::uint64_t lo_hi = a_lo * b_hi;
    const std::uint64_t hi_hi = a_hi * b_hi;
    // Cannot overflow: at most 2 (2^32 - 1) + (2^32 - 1)^2 = 2^64 - 1.
    const std::uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xFFFFFFFFULL) + lo_hi;
    low = (cross << 32) | (lo_lo & 0xFFFFFFFFULL);
    return hi_hi + (hi_lo >> 32) + (cross >> 32);
}

/// Same as mul_wide_portable, with the compiler's 128-bit integer where there is one.
inline std::uint64_t mul_wide(std::uint64_t a, std::uint64_t b, std::uint64_t& low) {
#if defined(__SIZEOF_INT128__)
    __extension__ using Uint128 = unsigned __int128; // GCC/Clang extension; silences -Wpedantic
    const Uint128 product = static_cast<Uint128>(a) * b;
    low = static_cast<std::uint64_t>(product);
    return static_cast<std::uint64_t>(product >> 64);
#else
    return mul_wide_portable(a, b, low);
#endif
}

/// xoshiro256** 1.0 (Blackman, Vigna), state filled by splitmix64 (never all zero).
class Xoshiro256 {
  public:
    explicit Xoshiro256(std::uint64_t seed) {
        for (auto& word : m_state) {
            word = splitmix64(seed);
        }
    }

    /// Raw state (for the reference test vectors); must not be all zero.
    Xoshiro256(std::uint64_t s0, std::uint64_t s1, std::uint64_t s2, std::uint64_t s3)
        : m_state{s0, s1, s2, s3} {}

    std::uint64_t next() {
        const std::uint64_t result = rotl(m_state[1] * 5, 7) * 9;
        const std::uint64_t t = m_state[1] << 17;
        m_state[2] ^= m_state[0];
        m_state[3] ^= m_state[1];
        m_state[1] ^= m_state[2];
        m_state[0] ^= m_state[3];
        m_state[2] ^= t;
        m_state[3] = rotl(m_state[3], 45);
        return result;
    }

    /// Uniform draw in [0, bound), bound > 0, without bias (Lemire 2019, multiply and reject).
    std::uint64_t below(std::uint64_t bound) {
        std::uint64_t low = 0;
        std::uint64_t high = mul_wide(next(), bound, low);
        if (low < bound) {
            // 2^64 mod bound, computed without 128-bit division.
            const std::uint64_t threshold = (0 - bound) % bound;
            while (low < threshold) {
                high = mul_wide(next(), bound, low);
            }
        }
        return high;
    }

    /// Uniform double in [0, 1): the top 53 bits of next() times 2^-53.
    double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

    std::uint64_t m_state[4];
};

/// Seed for one (run seed, epoch, stream) draw: each part goes through its own splitmix64 round,
/// so nearby seeds, epochs and streams give unrelated generators.
inline std::uint64_t mix_seed(std::uint64_t seed, std::int64_t epoch, std::uint64_t stream) {
    std::uint64_t a = seed;
    std::uint64_t b = static_cast<std::uint64_t>(epoch) ^ 0xD1B54A32D192ED03ULL;
    std::uint64_t c = stream ^ 0x8CB92BA72F3D8DD7ULL;
    std::uint64_t h = splitmix64(a);
    h ^= splitmix64(b) + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    h ^= splitmix64(c) + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    return h;
}

} // namespace kakuren::hiding::detail

// The private generator behind shuffle: reference vectors, so every platform draws the same.
#include "hiding/rng.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

namespace kakuren::hiding::detail {
namespace {

TEST(Rng, Splitmix64MatchesReferenceVectors) {
    std::uint64_t state = 1234567;
    const std::vector<std::uint64_t> expected = {6457827717110365317ULL, 3203168211198807973ULL,
                                                 9817491932198370423ULL, 4593380528125082431ULL,
                                                 16408922859458223821ULL};
    for (const auto value : expected) {
        EXPECT_EQ(splitmix64(state), value);
    }
}

TEST(Rng, Xoshiro256StarStarMatchesReferenceVectors) {
    Xoshiro256 rng(1, 2, 3, 4);
    EXPECT_EQ(rng.next(), 11520ULL);
    EXPECT_EQ(rng.next(), 0ULL);
    EXPECT_EQ(rng.next(), 1509978240ULL);
    EXPECT_EQ(rng.next(), 1215971899390074240ULL);
}

TEST(Rng, PortableWideMultiplyEqualsTheNativeOne) {
    std::mt19937_64 gen(99);
    const std::vector<std::uint64_t> edges = {0, 1, 0xFFFFFFFFULL, 0x100000000ULL, ~0ULL};
    for (const auto a : edges) {
        for (const auto b : edges) {
            std::uint64_t low_a = 0;
            std::uint64_t low_b = 0;
            EXPECT_EQ(mul_wide_portable(a, b, low_a), mul_wide(a, b, low_b));
            EXPECT_EQ(low_a, low_b);
        }
    }
    for (int i = 0; i < 10000; ++i) {
        const std::uint64_t a = gen();
        const std::uint64_t b = gen();
        std::uint64_t low_a = 0;
        std::uint64_t low_b = 0;
        ASSERT_EQ(mul_wide_portable(a, b, low_a), mul_wide(a, b, low_b));
        ASSERT_EQ(low_a, low_b);
    }
}

TEST(Rng, BoundedDrawStaysInRange) {
    Xoshiro256 rng(5);
    for (int i = 0; i < 1000; ++i) {
        EXPECT_EQ(rng.below(1), 0ULL);
        EXPECT_LT(rng.below(7), 7ULL);
        // Bound above 2^63: about half of the raw draws are rejected.
        EXPECT_LT(rng.below((1ULL << 63) + 1), (1ULL << 63) + 1);
    }
}

TEST(Rng, SeedMixSeparatesNeighbouringInputs) {
    EXPECT_NE(mix_seed(0, 0, 0), mix_seed(0, 0, 1));
    EXPECT_NE(mix_seed(0, 0, 0), mix_seed(0, 1, 0));
    EXPECT_NE(mix_seed(0, 0, 0), mix_seed(1, 0, 0));
    EXPECT_NE(mix_seed(1, 0, 0), mix_seed(0, 1, 0));
    EXPECT_NE(mix_seed(0, 1, 0), mix_seed(0, 0, 1));
}

} // namespace
} // namespace kakuren::hiding::detail

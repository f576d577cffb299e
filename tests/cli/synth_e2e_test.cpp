// kakuren data synth, the real binary: absurd counts are refused with exit 2 before anything is
// written, a given --validation-samples 0 is refused (not turned into 1), and the CosmoFlow
// stand-in is streamed to disk one sample at a time (issue 23, #10).
#include <sys/resource.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "support/files.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using kakuren::testing::quoted;
using kakuren::testing::TempDir;

class SynthE2E : public ::testing::Test {
  protected:
    kakuren::testing::Output kakuren(const std::string& args) {
        return kakuren::testing::run_shell(
            "cd " + quoted(m_dir.path().string()) + " && '" KAKUREN_BIN "' " + args, m_dir.path());
    }
    TempDir m_dir{"kakuren-synth-e2e"};
};

TEST_F(SynthE2E, AbsurdCountsAreRefusedWithExitTwoAndNothingWritten) {
    const struct {
        const char* args;
        const char* message;
    } cases[] = {
        {"--samples 99999999999999999999",
         "--samples: Value 99999999999999999999 not in range 1 to 100000000"},
        {"--samples 100000001", "--samples: Value 100000001 not in range 1 to 100000000"},
        {"--samples 0", "--samples: Value 0 not in range 1 to 100000000"},
        {"--samples 8 --validation-samples 0",
         "--validation-samples: Value 0 not in range 1 to 100000000"},
        {"--samples 8 --validation-samples -3",
         "--validation-samples: Value -3 not in range 1 to 100000000"},
        // Within the limits, but no disk holds 100 million cubes of 512^3: refused up front.
        {"--samples 100000000 --size 512", "nothing was written"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.args);
        const auto r = kakuren(std::string("data synth cosmoflow ") + c.args + " -o out/set");
        EXPECT_EQ(r.code, c.message == std::string("nothing was written") ? 1 : 2)
            << r.out << r.err;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("frame #"), std::string::npos) << r.err; // no LibTorch stack
        EXPECT_FALSE(fs::exists(m_dir / "out")) << "a refused synth left folders behind";
    }
}

TEST_F(SynthE2E, AGivenValidationCountIsHonouredAndTheDefaultIsAQuarter) {
    const auto given = kakuren("data synth cosmoflow --size 4 --samples 8 --validation-samples 3 "
                               "-o given");
    ASSERT_EQ(given.code, 0) << given.out << given.err;
    EXPECT_NE(given.out.find("8 train + 3 validation samples"), std::string::npos) << given.out;
    const auto defaulted = kakuren("data synth cosmoflow --size 4 --samples 8 -o defaulted");
    ASSERT_EQ(defaulted.code, 0) << defaulted.out << defaulted.err;
    EXPECT_NE(defaulted.out.find("8 train + 2 validation samples"), std::string::npos)
        << defaulted.out;
    EXPECT_EQ(kakuren::testing::slurp(m_dir / "given/train/data_000004.npy"),
              kakuren::testing::slurp(m_dir / "defaulted/train/data_000004.npy"));
}

TEST_F(SynthE2E, TheCosmoflowStandinIsWrittenOneSampleAtATime) {
    // Peak resident memory of the children (getrusage keeps the largest reaped child's): 4
    // samples of 32^3 first, then 300, whose 78 MB of counts were all held in memory before.
    const auto small = kakuren("data synth cosmoflow --size 32 --samples 4 -o small");
    ASSERT_EQ(small.code, 0) << small.out << small.err;
    rusage after_small{};
    ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &after_small), 0);
    const auto large = kakuren("data synth cosmoflow --size 32 --samples 240 -o large");
    ASSERT_EQ(large.code, 0) << large.out << large.err;
    rusage after_large{};
    ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &after_large), 0);
    EXPECT_NE(large.out.find("240 train + 60 validation samples"), std::string::npos) << large.out;
    // ru_maxrss is in KiB. Streaming adds nothing per sample; the whole set would add 78 MB.
    EXPECT_LT(after_large.ru_maxrss - after_small.ru_maxrss, 32 * 1024)
        << "peak " << after_small.ru_maxrss << " KiB for 4 samples, " << after_large.ru_maxrss
        << " KiB for 300";
    // The same samples as the small set's (sample i depends on (seed, split, i) alone).
    EXPECT_EQ(kakuren::testing::slurp(m_dir / "large/train/data_000003.npy"),
              kakuren::testing::slurp(m_dir / "small/train/data_000003.npy"));
    std::error_code ec;
    EXPECT_EQ(fs::file_size(m_dir / "large/train/data_000239.npy", ec),
              128U + 4 * 32 * 32 * 32 * 2);
}

} // namespace

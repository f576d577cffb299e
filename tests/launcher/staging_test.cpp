#include "launcher/staging.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <future>

#include "support/temp_dir.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;
using kakuren::launcher::node_local_base;
using kakuren::launcher::stage_files;

namespace {

struct Scratch {
    Scratch() {
        fs::create_directories(root / "shared");
        fs::create_directories(root / "local");
        for (int i = 0; i < 2; ++i) {
            const fs::path f = root / "shared" / ("file" + std::to_string(i) + ".gz");
            std::ofstream(f) << std::string(1000 + i * 10, static_cast<char>('a' + i));
            files.push_back(f.string());
        }
    }
    kakuren::testing::TempDir dir{"kakuren-stage"};
    const fs::path& root = dir.path();
    std::vector<std::string> files;
};

} // namespace

TEST(Staging, BasePrefersSlurmTmpdirThenTmpdirThenShm) {
    EXPECT_EQ(node_local_base({{"SLURM_TMPDIR", "/a"}, {"TMPDIR", "/b"}}), "/a");
    EXPECT_EQ(node_local_base({{"TMPDIR", "/b"}}), "/b");
    EXPECT_EQ(node_local_base({}), "/dev/shm");
}

TEST(Staging, LocalRankZeroCopiesOnceAndTheOthersWait) {
    Scratch s;
    // Without local rank 0, another rank waits for the copy and never makes one itself.
    EXPECT_THROW(stage_files(s.files, s.root / "local", 1, 0.2), kakuren::RuntimeFailure);
    EXPECT_TRUE(fs::is_empty(s.root / "local"));
    // Whichever starts first, rank 1 ends with rank 0's copy.
    auto waiter = std::async(std::launch::async,
                             [&] { return stage_files(s.files, s.root / "local", 1, 120.0); });
    const auto first = stage_files(s.files, s.root / "local", 0, 120.0);
    const auto other = waiter.get();
    EXPECT_TRUE(first.copied);
    EXPECT_FALSE(other.copied);
    EXPECT_EQ(first.dir, other.dir);
    EXPECT_EQ(first.bytes, 1000 + 1010);
    ASSERT_EQ(first.files.size(), 2U);
    EXPECT_EQ(fs::file_size(first.files[1]), 1010U);
    EXPECT_TRUE(first.files[0].starts_with((s.root / "local").string()));
    // A requeued job on the same node finds the copy.
    const auto again = stage_files(s.files, s.root / "local", 0, 10.0);
    EXPECT_FALSE(again.copied);
}

TEST(Staging, AHalfCopyIsNeverUsed) {
    Scratch s;
    const auto staged = stage_files(s.files, s.root / "local", 0, 10.0);
    fs::resize_file(staged.files[1], 10); // as if an earlier copy had been cut short
    const auto again = stage_files(s.files, s.root / "local", 0, 10.0);
    EXPECT_TRUE(again.copied);
    EXPECT_EQ(fs::file_size(again.files[1]), 1010U);
}

TEST(Staging, WaitingRankGivesUpWithAClearMessage) {
    Scratch s;
    try {
        stage_files(s.files, s.root / "local", 1, 0.2);
        FAIL() << "no copy ever appears";
    } catch (const kakuren::RuntimeFailure& e) {
        EXPECT_NE(std::string(e.what()).find("did not appear"), std::string::npos) << e.what();
    }
}

TEST(Staging, MissingSourceIsNamed) {
    Scratch s;
    s.files.push_back((s.root / "shared" / "missing.gz").string());
    try {
        stage_files(s.files, s.root / "local", 0, 1.0);
        FAIL();
    } catch (const kakuren::RuntimeFailure& e) {
        EXPECT_NE(std::string(e.what()).find("missing.gz"), std::string::npos) << e.what();
    }
}

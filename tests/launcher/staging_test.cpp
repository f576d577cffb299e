#include "launcher/staging.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

namespace {

using kakuren::launcher::stage_splits;

void write(const fs::path& file, const std::string& text) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
}

std::string read(const fs::path& file) {
    std::ifstream in(file);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST(Staging, StreamingSplitsAreStagedWholeAsATree) {
    const kakuren::testing::TempDir dir("kakuren-stage-splits");
    const fs::path shared = dir / "shared";
    // npy: an array pair for train, a per-sample file list (with a sub-folder) for test.
    write(shared / "fm/train/data.npy", std::string(300, 'd'));
    write(shared / "fm/train/targets.npy", std::string(30, 't'));
    write(shared / "fm/test/files_data.lst", "x0.npy\nsub/x1.npy\n");
    write(shared / "fm/test/files_label.lst", "y0.npy\nsub/y1.npy\n");
    for (const char* f : {"x0.npy", "sub/x1.npy", "y0.npy", "sub/y1.npy"}) {
        write(shared / "fm/test" / f, f);
    }
    const auto staged = stage_splits((shared / "fm/train").string(), (shared / "fm/test").string(),
                                     dir / "local", 0, 10.0);
    EXPECT_TRUE(staged.stage.copied);
    EXPECT_EQ(staged.train, (staged.stage.dir / "train").string());
    EXPECT_EQ(staged.test, (staged.stage.dir / "test").string());
    EXPECT_EQ(staged.stage.files.size(), 2U + 6U);
    EXPECT_EQ(read(fs::path(staged.train) / "data.npy"), std::string(300, 'd'));
    EXPECT_EQ(read(fs::path(staged.test) / "sub/x1.npy"), "sub/x1.npy");
    EXPECT_EQ(read(fs::path(staged.test) / "files_label.lst"), "y0.npy\nsub/y1.npy\n");
    EXPECT_EQ(staged.stage.bytes, 300 + 30 + 18 + 18 + 6 + 10 + 6 + 10);
    // Another rank of the node finds the same copy.
    const auto other = stage_splits((shared / "fm/train").string(), (shared / "fm/test").string(),
                                    dir / "local", 1, 10.0);
    EXPECT_FALSE(other.stage.copied);
    EXPECT_EQ(other.stage.dir, staged.stage.dir);
}

TEST(Staging, DeepCamFoldersKeepTheirStatsFileAbove) {
    const kakuren::testing::TempDir dir("kakuren-stage-deepcam");
    const fs::path shared = dir / "shared" / "deepcam";
    write(shared / "train/data_0.h5", "a");
    write(shared / "train/data_1.h5", "bb");
    write(shared / "validation/data_0.h5", "ccc");
    write(shared / "stats.h5", "stats");
    // And a single-file split: test.h5 beside it.
    write(dir / "shared" / "one" / "test.h5", "dddd");
    const auto staged = stage_splits((shared / "train").string(), (shared / "validation").string(),
                                     dir / "local", 0, 10.0);
    EXPECT_EQ(read(fs::path(staged.train).parent_path() / "stats.h5"), "stats");
    EXPECT_EQ(read(fs::path(staged.test) / "data_0.h5"), "ccc");
    EXPECT_EQ(staged.stage.files.size(), 4U); // stats.h5 once for both splits
    const auto files =
        stage_splits((shared / "train").string(), (dir / "shared" / "one" / "test.h5").string(),
                     dir / "local", 0, 10.0);
    EXPECT_EQ(files.test, (files.stage.dir / "test" / "test.h5").string());
    EXPECT_EQ(read(files.test), "dddd");
}

TEST(Staging, AFileListNamingFilesOutsideItsFolderIsRefused) {
    const kakuren::testing::TempDir dir("kakuren-stage-outside");
    write(dir / "shared/train/files_data.lst", "x0.npy\n../elsewhere/x1.npy\n");
    write(dir / "shared/train/files_label.lst", "y0.npy\ny1.npy\n");
    write(dir / "shared/test/data.npy", "x");
    write(dir / "shared/test/targets.npy", "y");
    try {
        stage_splits((dir / "shared/train").string(), (dir / "shared/test").string(), dir / "local",
                     0, 10.0);
        FAIL() << "the staged list would name a file that was not staged";
    } catch (const kakuren::RuntimeFailure& e) {
        EXPECT_NE(std::string(e.what()).find((dir / "shared/train/files_data.lst").string() +
                                             ": it lists ../elsewhere/x1.npy, outside"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_FALSE(fs::exists(dir / "local")); // nothing copied
}

// Probe finding #3: a FIFO in a file list is refused by name, not skipped (nor waited on).
TEST(Staging, AFileListNamingAFifoIsRefused) {
    const kakuren::testing::TempDir dir("kakuren-stage-fifo");
    write(dir / "shared/train/files_data.lst", "x0.npy\nx1.npy\n");
    write(dir / "shared/train/files_label.lst", "y0.npy\ny1.npy\n");
    write(dir / "shared/train/x0.npy", "x");
    ASSERT_EQ(mkfifo((dir / "shared/train/x1.npy").c_str(), 0600), 0);
    write(dir / "shared/test/data.npy", "x");
    write(dir / "shared/test/targets.npy", "y");
    try {
        stage_splits((dir / "shared/train").string(), (dir / "shared/test").string(), dir / "local",
                     0, 10.0);
        FAIL() << "a FIFO in a file list was staged";
    } catch (const kakuren::RuntimeFailure& e) {
        EXPECT_NE(std::string(e.what()).find((dir / "shared/train/files_data.lst").string() +
                                             ": it lists x1.npy, which is not a regular file"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_FALSE(fs::exists(dir / "local")); // nothing copied
}

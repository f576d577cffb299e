// kakuren data convert / inspect and kakuren run on npy and hdf5 data: the real binary, data
// written by kakuren data convert or by the real numpy (/usr/bin/python3) inside the test.
// The data check before recording: data_check_e2e_test.cpp; the science file recipes:
// science_files_e2e_test.cpp.
#include <filesystem>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "data_e2e_support.hpp"
#include "support/files.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

namespace {

namespace fs = std::filesystem;
using kakuren::testing::quoted;

// How many times `needle` occurs in `text`.
std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t at = 0, count = 0;
    while ((at = text.find(needle, at)) != std::string::npos) {
        ++count;
        ++at;
    }
    return count;
}

TEST_F(DataE2E, ConvertInspectAndTrainEveryFormat) {
    for (const char* to : {"npy", "hdf5"}) {
        const auto r = plain(std::string("data convert --to ") + to + " fm-" + to);
        ASSERT_EQ(r.code, 0) << r.out << r.err;
    }
    EXPECT_TRUE(fs::exists(m_dir / "fm-npy/train/data.npy"));
    EXPECT_TRUE(fs::exists(m_dir / "fm-hdf5/test.h5"));

    const auto inspected = kakuren("data inspect fm-npy --format json");
    ASSERT_EQ(inspected.code, 0) << inspected.out << inspected.err;
    EXPECT_NE(inspected.out.find("\"samples\": 60000"), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"samples\": 10000"), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"classes\": 10"), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"problems_found\": 0"), std::string::npos) << inspected.out;
    const auto text = kakuren("data inspect fm-hdf5");
    ASSERT_EQ(text.code, 0) << text.out << text.err;
    EXPECT_NE(text.out.find("uint8 [1, 28, 28]"), std::string::npos) << text.out;

    // A recipe beside the data, relative paths; 1,000 samples, two epochs, kakurenbo.
    kakuren::testing::write_file(m_dir / "npy.toml", R"(
[run]
name = "npy"
threads = 1
[data]
dataset = "npy"
train = "fm-npy/train"
test = "fm-npy/test"
train_limit = 1000
test_limit = 200
[model]
channels = [4, 8]
fc = 16
[schedule]
epochs = 2
milestones = []
[hiding]
strategy = "none"
)");
    const auto run = kakuren("run npy.toml --quiet --format json");
    ASSERT_TRUE(run.code == 0 || run.code == 3) << run.out << run.err;
    const auto show = kakuren("show npy --format json");
    ASSERT_EQ(show.code, 0) << show.out << show.err;
    EXPECT_NE(show.out.find("\"bytes_read\": 785000"), std::string::npos) << show.out;
    const auto table = kakuren("show npy");
    EXPECT_NE(table.out.find("READ MB"), std::string::npos) << table.out;
}

TEST_F(DataE2E, TwoRanksReadTheirOwnShardsAndTheJobsBytesAreTheirSum) {
    ASSERT_EQ(plain("data convert --to hdf5 fm").code, 0);
    kakuren::testing::write_file(m_dir / "two.toml", R"(
[run]
name = "two"
threads = 1
[data]
dataset = "hdf5"
train = "fm/train.h5"
test = "fm/test.h5"
train_limit = 2000
test_limit = 400
[model]
channels = [4, 8]
fc = 16
[schedule]
epochs = 2
milestones = []
[hiding]
strategy = "none"
[slurm]
ntasks_per_node = 2
[launcher]
backend = "local"
)");
    fs::create_directories(m_dir / "ws");
    const auto submitted = kakuren("submit two.toml");
    ASSERT_EQ(submitted.code, 0) << submitted.out << submitted.err;
    // A deadline against a hang only; the job ends on its own.
    std::string status;
    EXPECT_TRUE(kakuren::testing::wait_until(
        [&] {
            status = kakuren("status").out;
            return status.find("completed") != std::string::npos ||
                   status.find("failed") != std::string::npos;
        },
        600))
        << status;
    ASSERT_NE(status.find("completed"), std::string::npos) << status;
    // The job's bytes are the sum over both ranks: equal to one rank reading every sample of
    // the same 2,000 (785 bytes each) in each epoch.
    const auto show = kakuren("show two --format json");
    EXPECT_EQ(count_of(show.out, "\"bytes_read\": 1570000"), 2U) << show.out;
    EXPECT_EQ(show.out.find("\"bytes_read\": 785000"), std::string::npos) << show.out;
    // Each rank read its own half, no more (the per-rank line of its log).
    for (const char* rank : {"0", "1"}) {
        const auto log = kakuren(std::string("logs two --rank ") + rank);
        ASSERT_EQ(log.code, 0) << log.out << log.err;
        for (const char* epoch : {"1", "2"}) {
            EXPECT_NE(log.out.find(std::string("rank ") + rank +
                                   " of 2 read 785000 bytes in epoch " + epoch +
                                   " (all ranks: 1570000)"),
                      std::string::npos)
                << log.out;
        }
    }

    // The same recipe on one rank, in the foreground: the same total per epoch.
    std::string one = kakuren::testing::slurp(m_dir / "two.toml");
    one.replace(one.find("name = \"two\""), 12, "name = \"one\"");
    one.replace(one.find("ntasks_per_node = 2"), 19, "ntasks_per_node = 1");
    kakuren::testing::write_file(m_dir / "one.toml", one);
    const auto run = kakuren("run one.toml --quiet");
    ASSERT_TRUE(run.code == 0 || run.code == 3) << run.out << run.err; // 3: target not reached
    const auto show_one = kakuren("show one --format json");
    EXPECT_EQ(count_of(show_one.out, "\"bytes_read\": 1570000"), 2U) << show_one.out;
}

TEST_F(DataE2E, ConvertInspectAndTrainImages) {
    const auto r = plain("data convert --to images fm-img");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(fs::exists(m_dir / "fm-img/train/9"));
    EXPECT_TRUE(fs::exists(m_dir / "fm-img/test/files.lst"));

    const auto inspected = kakuren("data inspect fm-img --format json");
    ASSERT_EQ(inspected.code, 0) << inspected.out << inspected.err;
    EXPECT_NE(inspected.out.find("\"format\": \"images\""), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"samples\": 60000"), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"samples\": 10000"), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"classes\": 10"), std::string::npos) << inspected.out;
    EXPECT_NE(inspected.out.find("\"image_sizes\": \"28x28, grey\""), std::string::npos)
        << inspected.out;
    EXPECT_NE(inspected.out.find("\"problems_found\": 0"), std::string::npos) << inspected.out;

    // With the augmentation: 1,000 samples, two epochs, no hiding: each epoch reads the first
    // 1,000 files of files.lst (the IDX order), their encoded bytes.
    kakuren::testing::write_file(m_dir / "img.toml", R"(
[run]
name = "img"
threads = 1
[data]
dataset = "images"
train = "fm-img/train"
test = "fm-img/test"
train_limit = 1000
test_limit = 200
random_crop = 2
hflip = true
[model]
channels = [4, 8]
fc = 16
[schedule]
epochs = 2
milestones = []
[hiding]
strategy = "none"
)");
    const auto check = plain("recipe check img.toml");
    ASSERT_EQ(check.code, 0) << check.out << check.err;
    const auto run = kakuren("run img.toml --quiet --format json");
    ASSERT_TRUE(run.code == 0 || run.code == 3) << run.out << run.err;
    std::uintmax_t bytes = 0;
    std::istringstream list(kakuren::testing::slurp(m_dir / "fm-img/train/files.lst"));
    std::string line;
    for (int i = 0; i < 1000 && std::getline(list, line); ++i) {
        bytes += fs::file_size(m_dir / "fm-img/train" / line);
    }
    const auto show = kakuren("show img --format json");
    ASSERT_EQ(show.code, 0) << show.out << show.err;
    EXPECT_NE(show.out.find("\"bytes_read\": " + std::to_string(bytes)), std::string::npos)
        << bytes << "\n"
        << show.out;
}

TEST_F(DataE2E, InspectNamesBadImagesAndExitsOne) {
    kakuren::testing::write_file(m_dir / "make.py", R"(
import numpy as np, os
from PIL import Image
os.makedirs('bad/shirt')
for i in range(4):
    Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save('bad/shirt/%d.png' % i)
with open('bad/shirt/2.png', 'r+b') as f: f.truncate(40)
)");
    const auto made = kakuren::testing::run_shell(
        "cd " + quoted(m_dir.path().string()) + " && /usr/bin/python3 make.py", m_dir.path());
    ASSERT_EQ(made.code, 0) << made.err;
    const auto r = kakuren("data inspect bad");
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find((m_dir / "bad/shirt/2.png").string() + " (sample 2): corrupt PNG"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("problems found: 1"), std::string::npos) << r.out;
}

// Probe finding #2: a PNG whose header says 10000x9000 (a few hundred bytes) is refused before
// its pixels are allocated (90 MB here; the probe's 60000x60000 asked for 10 GB).
TEST_F(DataE2E, InspectRefusesADecompressionBombNamingIt) {
    kakuren::testing::write_file(m_dir / "make.py", R"(
import numpy as np, os, struct, zlib
from PIL import Image
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
os.makedirs('bad/shirt')
Image.fromarray(np.zeros((8, 8), np.uint8)).save('bad/shirt/0.png')
ihdr = struct.pack('>IIBBBBB', 9000, 10000, 8, 2, 0, 0, 0)  # width, height, 8-bit RGB
open('bad/shirt/1.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) +
                                    chunk(b'IDAT', zlib.compress(b'\0' * 27001)) +
                                    chunk(b'IEND', b''))
)");
    const auto made = kakuren::testing::run_shell(
        "cd " + quoted(m_dir.path().string()) + " && /usr/bin/python3 make.py", m_dir.path());
    ASSERT_EQ(made.code, 0) << made.err;
    const auto r = kakuren("data inspect bad");
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find((m_dir / "bad/shirt/1.png").string() +
                         " (sample 1): the header says 10000x9000 (HxW), 90000000 pixels, more "
                         "than the limit of 89478485 per image (Pillow's MAX_IMAGE_PIXELS)"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("problems found: 1"), std::string::npos) << r.out;
}

TEST_F(DataE2E, InspectNamesBadSamplesAndExitsOne) {
    kakuren::testing::write_file(m_dir / "make.py", R"(
import numpy as np, os
os.makedirs('bad')
for i in range(6):
    np.save('bad/x%d.npy' % i, np.zeros((1, 4, 4), np.uint8))
    np.save('bad/y%d.npy' % i, np.int64(i % 2))
with open('bad/x3.npy', 'r+b') as f: f.truncate(130)
open('bad/files_data.lst', 'w').writelines('x%d.npy\n' % i for i in range(6))
open('bad/files_label.lst', 'w').writelines('y%d.npy\n' % i for i in range(6))
)");
    const auto made = kakuren::testing::run_shell(
        "cd " + quoted(m_dir.path().string()) + " && /usr/bin/python3 make.py", m_dir.path());
    ASSERT_EQ(made.code, 0) << made.err;
    const auto r = kakuren("data inspect bad");
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find((m_dir / "bad/x3.npy").string() + " (sample 3): file ends early"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("problems found: 1"), std::string::npos) << r.out;
}

// Probe finding #6: class ids -1 and 10^12 were "problems none" ("classes 1000000000001").
TEST_F(DataE2E, InspectNamesOutOfRangeClassIdsAndExitsOne) {
    kakuren::testing::write_file(m_dir / "make.py", R"(
import numpy as np, os
for split, bad in (('train', -1), ('test', 10**12)):
    os.makedirs('bad/' + split)
    np.save('bad/%s/data.npy' % split, np.zeros((6, 1, 4, 4), np.uint8))
    np.save('bad/%s/targets.npy' % split, np.array([0, 1, 2, bad, 1, 0], np.int64))
)");
    const auto made = kakuren::testing::run_shell(
        "cd " + quoted(m_dir.path().string()) + " && /usr/bin/python3 make.py", m_dir.path());
    ASSERT_EQ(made.code, 0) << made.err;
    const auto r = kakuren("data inspect bad");
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find((m_dir / "bad/train/targets.npy").string() +
                         ": sample 3 has the negative class id -1"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find((m_dir / "bad/test/targets.npy").string() +
                         ": sample 3 has the class id 1000000000000, beyond kakuren's limit of "
                         "100000 classes"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find("1000000000001"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("problems found: 2"), std::string::npos) << r.out;
}

TEST_F(DataE2E, NodeLocalStagingCopiesEverySplitFileAndTheRanksReadTheCopies) {
    // Per-sample .npy files in file lists (the CosmoFlow layout), one a sub-folder deep.
    kakuren::testing::write_file(m_dir / "make.py", R"(
import numpy as np, os
rng = np.random.default_rng(3)
for split, n in (('train', 64), ('test', 16)):
    os.makedirs('cf/%s/s' % split)
    for i in range(n):
        np.save('cf/%s/s/x%d.npy' % (split, i), rng.integers(0, 255, (1, 8, 8), dtype=np.uint8))
        np.save('cf/%s/s/y%d.npy' % (split, i), np.int64(i % 2))
    open('cf/%s/files_data.lst' % split, 'w').writelines('s/x%d.npy\n' % i for i in range(n))
    open('cf/%s/files_label.lst' % split, 'w').writelines('s/y%d.npy\n' % i for i in range(n))
)");
    ASSERT_EQ(kakuren::testing::run_shell("cd " + quoted(m_dir.path().string()) +
                                              " && /usr/bin/python3 make.py",
                                          m_dir.path())
                  .code,
              0);
    kakuren::testing::write_file(m_dir / "staged.toml", R"(
[run]
name = "staged"
threads = 1
[data]
dataset = "npy"
train = "cf/train"
test = "cf/test"
stage = "node-local"
[model]
kind = "mlp"
[schedule]
epochs = 1
warmup_epochs = 0
milestones = []
[hiding]
strategy = "none"
[slurm]
ntasks_per_node = 2
[launcher]
backend = "local"
)");
    const fs::path local = m_dir / "node-local";
    fs::create_directories(local);
    fs::create_directories(m_dir / "ws");
    const auto submitted = kakuren::testing::run_shell(
        "cd " + quoted(m_dir.path().string()) + " && TMPDIR=" + quoted(local.string()) + " '" +
            KAKUREN_BIN "' submit staged.toml --workspace " + quoted((m_dir / "ws").string()),
        m_dir.path());
    ASSERT_EQ(submitted.code, 0) << submitted.out << submitted.err;
    std::string status;
    EXPECT_TRUE(kakuren::testing::wait_until(
        [&] {
            status = kakuren("status").out;
            return status.find("completed") != std::string::npos ||
                   status.find("failed") != std::string::npos;
        },
        600))
        << status;
    ASSERT_NE(status.find("completed"), std::string::npos)
        << status << kakuren("logs staged --rank 0").out << kakuren("logs staged --rank 1").out;

    // Both ranks name the same staged folder under $TMPDIR: every file of both splits, laid
    // out as in the shared folder (2 lists + 2 x 64 files; 2 + 2 x 16).
    std::string folder;
    for (const char* rank : {"0", "1"}) {
        const std::string log = kakuren(std::string("logs staged --rank ") + rank).out;
        const std::size_t at = log.find("data staged in " + local.string() + "/kakuren-stage-");
        ASSERT_NE(at, std::string::npos) << log;
        const std::size_t begin = at + std::string("data staged in ").size();
        const std::string dir = log.substr(begin, log.find(' ', begin) - begin);
        EXPECT_NE(log.find(" files)", begin), std::string::npos) << log;
        EXPECT_NE(log.find("164 files)", begin), std::string::npos) << log;
        EXPECT_TRUE(folder.empty() || folder == dir) << folder << " vs " << dir;
        folder = dir;
    }
    EXPECT_TRUE(fs::exists(fs::path(folder) / "train" / "files_data.lst"));
    EXPECT_TRUE(fs::exists(fs::path(folder) / "train" / "s" / "x63.npy"));
    EXPECT_TRUE(fs::exists(fs::path(folder) / "test" / "s" / "y15.npy"));
    // The job read every training sample once: header and data of both of its files.
    const auto per_sample =
        fs::file_size(m_dir / "cf/train/s/x0.npy") + fs::file_size(m_dir / "cf/train/s/y0.npy");
    const auto show = kakuren("show staged --format json");
    EXPECT_NE(show.out.find("\"bytes_read\": " + std::to_string(64 * per_sample)),
              std::string::npos)
        << show.out;
}

} // namespace

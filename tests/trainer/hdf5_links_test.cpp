// HDF5 datasets reached through links, against files written by the real h5py (run as
// /usr/bin/python3 inside each test): an external link's samples come from the file that holds
// them, bit for bit as the same data in a plain file (issue 23, #1: they were pread from the
// linking file at the target's offsets); soft links read the same; a virtual dataset and a
// dangling link are refused naming the dataset and what to do; data inspect agrees. And a
// chunked dataset whose chunks are too large to decompress is refused (issue 23, #9).
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "support/errors.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "trainer/data_tools.hpp"
#include "trainer/source.hpp"
#include "trainer/stream.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;
using kakuren::testing::TempDir;

/// Writes plain.h5 (data uint8 [40, 1, 4, 4], targets int64 [40]; chunked.h5 the same, gzip
/// chunks) and files whose datasets reach them through links, each linking file with 200 kB of
/// padding first so that the target's offsets land inside it.
const char* const k_files = R"py(
import numpy as np, h5py
rng = np.random.default_rng(23)
x = rng.integers(0, 256, size=(40, 1, 4, 4)).astype(np.uint8)
y = rng.integers(0, 5, size=40).astype(np.int64)
y[0] = 4  # 5 classes
with h5py.File('plain.h5', 'w') as f:
    f['data'] = x
    f['targets'] = y
with h5py.File('chunked.h5', 'w') as f:
    f.create_dataset('data', data=x, chunks=(8, 1, 4, 4), compression='gzip')
    f.create_dataset('targets', data=y, chunks=(8,), compression='gzip')
here = os.getcwd()
def linking(name, links):
    with h5py.File(name, 'w') as f:
        f['pad'] = np.full(200000, 7, np.uint8)
        f['other/x'] = x[::-1].copy()
        f['other/y'] = y[::-1].copy()
        for key, link in links.items():
            f[key] = link
linking('external.h5', {'data': h5py.ExternalLink(here + '/plain.h5', '/data'),
                        'targets': h5py.ExternalLink(here + '/plain.h5', '/targets')})
# Relative to the linking file's folder, and the two datasets in two different files.
os.makedirs('sub')
linking('sub/relative.h5', {'data': h5py.ExternalLink('../plain.h5', '/data'),
                            'targets': h5py.ExternalLink('../chunked.h5', '/targets')})
linking('external_chunked.h5', {'data': h5py.ExternalLink(here + '/chunked.h5', '/data'),
                                'targets': h5py.ExternalLink(here + '/chunked.h5', '/targets')})
with h5py.File('soft.h5', 'w') as f:
    f['pad'] = np.full(200000, 7, np.uint8)
    f['real/x'] = x
    f['real/y'] = y
    f['data'] = h5py.SoftLink('/real/x')
    f['targets'] = h5py.SoftLink('/real/y')
with h5py.File('virtual.h5', 'w') as f:
    for key, a in (('data', x), ('targets', y)):
        layout = h5py.VirtualLayout(shape=a.shape, dtype=a.dtype)
        layout[:] = h5py.VirtualSource(here + '/plain.h5', key, shape=a.shape)
        f.create_virtual_dataset(key, layout)
linking('dangling.h5', {'data': h5py.ExternalLink(here + '/missing.h5', '/data'),
                        'targets': h5py.ExternalLink(here + '/plain.h5', '/targets')})
)py";

class Hdf5Links : public ::testing::Test {
  protected:
    void SetUp() override {
        {
            std::ofstream out(m_dir.path() / "make.py");
            out << "import os\n" << k_files;
        }
        const auto r = kakuren::testing::run(
            {{KAKUREN_PYTHON_WITH_NUMPY, (m_dir.path() / "make.py").string()}, {}, m_dir.path()},
            m_dir.path());
        ASSERT_EQ(r.code, 0) << r.out << r.err;
    }
    [[nodiscard]] Sources open(const std::string& file) const {
        DataConfig c;
        c.dataset = "hdf5";
        c.train_path = c.test_path = (m_dir.path() / file).string();
        c.normalize = false;
        return open_sources(c);
    }
    [[nodiscard]] std::string error_of(const std::string& file) const {
        return kakuren::testing::error_of([&] { (void)open(file); });
    }
    TempDir m_dir{"kakuren-h5-links"};
};

TEST_F(Hdf5Links, LinkedDatasetsReadTheSameSamplesAsThePlainFile) {
    const Sources plain = open("plain.h5");
    const Batch expected = plain.train->read_range(0, 40);
    const torch::Tensor ids = torch::tensor({39, 0, 17, 17, 5, 22, 38}, torch::kInt64);
    BatchBuffer buffer;
    const Batch expected_ids = plain.train->read(ids, buffer);
    for (const char* file :
         {"external.h5", "sub/relative.h5", "external_chunked.h5", "soft.h5", "chunked.h5"}) {
        SCOPED_TRACE(file);
        const Sources s = open(file);
        ASSERT_EQ(s.train->size(), 40);
        EXPECT_EQ(s.info.num_classes, plain.info.num_classes);
        const Batch b = s.train->read_range(0, 40);
        EXPECT_TRUE(torch::equal(b.inputs, expected.inputs));
        EXPECT_TRUE(torch::equal(b.targets, expected.targets));
        BatchBuffer other;
        const Batch shuffled = s.train->read(ids, other);
        EXPECT_TRUE(torch::equal(shuffled.inputs, expected_ids.inputs));
        EXPECT_TRUE(torch::equal(shuffled.targets, expected_ids.targets));
    }
}

TEST_F(Hdf5Links, AVirtualDatasetIsRefusedNamingItAndWhatToDo) {
    const std::string e = error_of("virtual.h5");
    EXPECT_NE(e.find((m_dir.path() / "virtual.h5").string() +
                     ":/data (data.data_key) is a "
                     "virtual dataset (HDF5 VDS, "
                     "mapped from " +
                     (m_dir.path() / "plain.h5").string() + ":/data (1 source))"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("Copy it into a plain dataset first"), std::string::npos) << e;
}

TEST_F(Hdf5Links, AnExternalLinkToAMissingFileIsRefusedNamingTheDataset) {
    const std::string e = error_of("dangling.h5");
    EXPECT_NE(e.find("cannot open " + (m_dir.path() / "dangling.h5").string() +
                     ":/data (data.data_key) as a dataset"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("link whose target is missing"), std::string::npos) << e;
}

TEST_F(Hdf5Links, DataInspectReportsTheVirtualDatasetAndReadsTheLinksRight) {
    const std::string linked = inspect_data((m_dir.path() / "external.h5").string(), false);
    EXPECT_NE(linked.find("classes  5"), std::string::npos) << linked;
    EXPECT_NE(linked.find("problems found: 0"), std::string::npos) << linked;
    const std::string virt = inspect_data((m_dir.path() / "virtual.h5").string(), false);
    EXPECT_NE(virt.find("is a virtual dataset"), std::string::npos) << virt;
    EXPECT_EQ(virt.find("problems none"), std::string::npos) << virt;
}

TEST_F(Hdf5Links, ChunksLargerThanTheLimitAreRefusedBeforeAnyIsDecompressed) {
    // 80 MiB of zeros in one gzip chunk: about 80 kB on disk, but HDF5 decompresses a whole
    // chunk to read one sample of it (issue 23, #9: 1.8 GB resident for a chunk of 800 MiB).
    {
        std::ofstream out(m_dir.path() / "bomb.py");
        out << "import numpy as np, h5py\n"
               "with h5py.File('bomb.h5', 'w') as f:\n"
               "    f.create_dataset('data', data=np.zeros((80, 1, 1024, 1024), np.uint8),\n"
               "                     chunks=(80, 1, 1024, 1024), compression='gzip')\n"
               "    f['targets'] = np.zeros(80, np.int64)\n";
    }
    const auto r = kakuren::testing::run(
        {{KAKUREN_PYTHON_WITH_NUMPY, (m_dir.path() / "bomb.py").string()}, {}, m_dir.path()},
        m_dir.path());
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    ASSERT_LT(fs::file_size(m_dir.path() / "bomb.h5"), 1U << 20);
    const std::string e = error_of("bomb.h5");
    EXPECT_NE(e.find((m_dir.path() / "bomb.h5").string() +
                     ":/data (data.data_key) is stored in chunks of 80x1x1024x1024 elements (80 "
                     "MiB each uncompressed), more than kakuren's limit of 64 MiB"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("Rewrite it in smaller chunks"), std::string::npos) << e;
    const std::string inspected = inspect_data((m_dir.path() / "bomb.h5").string(), false);
    EXPECT_NE(inspected.find("problems found: 1"), std::string::npos) << inspected;
}

} // namespace
} // namespace kakuren::trainer

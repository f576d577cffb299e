// data.stage = "node-local" with file lists that name files outside their split folder (../ or
// an absolute path): staging in a submitted job refuses them, so `kakuren recipe check`, `run`
// and `submit` refuse them too, located at data.stage, before anything is recorded; `run` used
// to read them in place and pass (issue 23, #15). The data is written by the real numpy.
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

/// train/ and test/ folders of per-sample npy files (files_data.lst, files_label.lst); the
/// training data list names `entry_prefix` + the file (so "../shared/" puts them outside).
const char* const k_make = R"py(
import numpy as np, os, sys
prefix = sys.argv[1]
os.makedirs('shared')
for split, n in (('train', 12), ('test', 4)):
    os.makedirs(split)
    with open(split + '/files_data.lst', 'w') as d, open(split + '/files_label.lst', 'w') as l:
        for i in range(n):
            x = np.full((1, 4, 4), i, np.uint8)
            y = np.int64(i % 2)
            outside = split == 'train' and i == 5
            where = 'shared/' if outside else split + '/'
            np.save(where + 'x%d.npy' % i, x)
            np.save(split + '/y%d.npy' % i, y)
            name = 'x%d.npy' % i
            if outside:
                name = os.path.abspath('shared/' + name) if prefix == 'abs' else '../shared/' + name
            d.write(name + '\n')
            l.write('y%d.npy\n' % i)
)py";

class StageCheckE2E : public ::testing::TestWithParam<const char*> {
  protected:
    void SetUp() override {
        kakuren::testing::write_file(m_dir.path() / "make.py", k_make);
        const auto r = kakuren::testing::run_shell("cd " + quoted(m_dir.path().string()) +
                                                       " && /usr/bin/python3 make.py " + GetParam(),
                                                   m_dir.path());
        ASSERT_EQ(r.code, 0) << r.out << r.err;
        for (const char* stage : {"none", "node-local"}) {
            kakuren::testing::write_file(
                m_dir.path() / (std::string(stage) + ".toml"),
                std::string("[run]\nname = \"staged\"\nthreads = 1\n[data]\ndataset = \"npy\"\n"
                            "train = \"train\"\ntest = \"test\"\nstage = \"") +
                    stage +
                    "\"\n[model]\nchannels = [4, 8]\nfc = 16\n[schedule]\nepochs = 2\n"
                    "milestones = []\n[hiding]\nstrategy = \"none\"\n");
        }
    }
    kakuren::testing::Output kakuren(const std::string& args) {
        return kakuren::testing::run_shell(
            "cd " + quoted(m_dir.path().string()) + " && KAKUREN_WORKSPACE=" +
                quoted((m_dir.path() / "ws").string()) + " '" KAKUREN_BIN "' " + args,
            m_dir.path());
    }
    TempDir m_dir{"kakuren-stage-check"};
};

TEST_P(StageCheckE2E, ListsNamingFilesOutsideTheSplitAreRefusedAsStagingWould) {
    // Read in place, without staging, the lists are fine.
    const auto plain = kakuren("recipe check none.toml");
    EXPECT_EQ(plain.code, 0) << plain.out << plain.err;
    const std::string located = "node-local.toml:8:9: error: data.stage = \"node-local\": cannot "
                                "stage " +
                                (m_dir.path() / "train/files_data.lst").string() + ": it lists ";
    for (const char* command : {"recipe check node-local.toml", "run node-local.toml --quiet",
                                "submit node-local.toml --dry-run"}) {
        SCOPED_TRACE(command);
        const auto r = kakuren(command);
        EXPECT_EQ(r.code, 2) << r.out << r.err;
        EXPECT_NE(r.err.find(located), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("x5.npy, outside " + (m_dir.path() / "train").string()),
                  std::string::npos)
            << r.err;
        EXPECT_NE(r.err.find("(or set data.stage = \"none\")"), std::string::npos) << r.err;
    }
    EXPECT_FALSE(fs::exists(m_dir.path() / "ws/runs")) << "a refused run was recorded";
}

INSTANTIATE_TEST_SUITE_P(Entries, StageCheckE2E, ::testing::Values("relative", "abs"));

} // namespace

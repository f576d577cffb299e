// The data check before anything is recorded (kakuren recipe check, run, run --dry-run and
// submit): bad files written by the real numpy / h5py (/usr/bin/python3) inside the test are
// refused with the file named at the recipe's line and column, and good data says ok.
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "data_e2e_support.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

namespace fs = std::filesystem;
using kakuren::testing::quoted;

TEST_F(DataE2E, RecipeCheckWantsBothSplits) {
    kakuren::testing::write_file(
        m_dir / "r.toml",
        "[data]\ndataset = \"hdf5\"\ntrain = \"nope.h5\"\nstage = \"node-local\"\n");
    const auto r = plain("recipe check r.toml");
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("r.toml:3:9: error: data.train: " + (m_dir / "nope.h5").string() +
                         " does not exist"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("needs data.train and data.test; missing data.test"), std::string::npos)
        << r.err;
    // node-local staging covers npy and hdf5 too: no error for it.
    EXPECT_EQ(r.err.find("data.stage"), std::string::npos) << r.err;
}

// The data check before anything is recorded: each bad file, written by numpy / h5py, and the
// located message `kakuren recipe check`, `run` and `submit` must refuse it with (exit 2, as a
// missing IDX file). {dir} in a message stands for the test's folder.
struct CheckCase {
    const char* name;
    const char* script; ///< python: writes train/ + test/ (npy) or train.h5 + test.h5 (hdf5)
    const char* recipe; ///< the [data] and [model] tables
    std::vector<std::string> messages;
};

// The case's name in test output (instead of its bytes).
void PrintTo(const CheckCase& c, std::ostream* os) {
    *os << c.name;
}

const char* const k_good_npy = R"py(
import numpy as np, os
for split, n in (('train', 10), ('test', 3)):
    os.makedirs(split, exist_ok=True)
    np.save(split + '/data.npy', np.zeros((n, 1, 4, 4), np.uint8))
    np.save(split + '/targets.npy', np.arange(n, dtype=np.uint8) % 2)
)py";

const char* const k_npy_recipe = R"([data]
dataset = "npy"
train = "train"
test = "test"
[model]
kind = "mlp"
)";

class DataCheckE2E : public DataE2E, public ::testing::WithParamInterface<CheckCase> {
  protected:
    std::string expected(const std::string& message) {
        std::string out = message;
        for (std::size_t at = 0; (at = out.find("{dir}", at)) != std::string::npos;) {
            out.replace(at, 5, m_dir.path().string());
        }
        return out;
    }
};

TEST_P(DataCheckE2E, IsRefusedNamingTheFileBeforeAnythingIsRecorded) {
    const CheckCase& c = GetParam();
    kakuren::testing::write_file(m_dir / "make.py", c.script);
    const auto made = kakuren::testing::run_shell(
        "cd " + quoted(m_dir.path().string()) + " && /usr/bin/python3 make.py", m_dir.path());
    ASSERT_EQ(made.code, 0) << made.err;
    kakuren::testing::write_file(m_dir / "r.toml", std::string("[run]\nname = \"bad\"\n") +
                                                       c.recipe +
                                                       "[launcher]\nbackend = \"local\"\n");
    const std::vector<kakuren::testing::Output> refused = {
        plain("recipe check r.toml"), kakuren("run r.toml --quiet"),
        kakuren("run r.toml --dry-run"), kakuren("submit r.toml")};
    for (const auto& r : refused) {
        EXPECT_EQ(r.code, 2) << r.out << r.err;
        for (const std::string& message : c.messages) {
            EXPECT_NE(r.err.find(expected(message)), std::string::npos)
                << "wanted " << expected(message) << "\n"
                << r.err;
        }
    }
    // Nothing was recorded: no run folder, no job.
    EXPECT_FALSE(fs::exists(m_dir / "ws" / "runs")) << "a run was recorded";
}

// Line numbers in the messages: the recipe starts with "[run]" and "name" (lines 1, 2), then
// the case's tables from line 3.
const CheckCase k_check_cases[] = {
    {"targets_n",
     R"py(
import numpy as np, os
os.makedirs('train'); os.makedirs('test')
np.save('train/data.npy', np.zeros((10, 1, 4, 4), np.uint8))
np.save('train/targets.npy', np.zeros(9, np.uint8))
np.save('test/data.npy', np.zeros((3, 1, 4, 4), np.uint8))
np.save('test/targets.npy', np.zeros(3, np.uint8))
)py",
     k_npy_recipe,
     {"r.toml:5:9: error: {dir}/train/data.npy holds 10 samples but {dir}/train/targets.npy "
      "holds 9 targets"}},
    {"both_splits_bad",
     R"py(
import numpy as np, os
os.makedirs('train'); os.makedirs('test')
np.save('train/data.npy', np.zeros((10, 1, 4, 4), np.complex64))
np.save('train/targets.npy', np.zeros(10, np.uint8))
np.save('test/data.npy', np.zeros((3, 1, 4, 4), np.uint8))
open('test/targets.npy', 'wb').write(b'not numpy at all')
)py",
     k_npy_recipe,
     {"r.toml:5:9: error: {dir}/train/data.npy: unsupported dtype '<c8'",
      "r.toml:6:8: error: {dir}/test/targets.npy: not a .npy file"}},
    {"header_lies",
     R"py(
import numpy as np, os
for split, n in (('train', 10), ('test', 3)):
    os.makedirs(split, exist_ok=True)
    np.save(split + '/data.npy', np.zeros((n, 1, 4, 4), np.uint8))
    np.save(split + '/targets.npy', np.arange(n, dtype=np.uint8) % 2)
b = open('test/data.npy', 'rb').read().replace(b'(3, 1, 4, 4)', b'(30, 1, 4, 4)')
open('test/data.npy', 'wb').write(b)
)py",
     k_npy_recipe,
     {"r.toml:6:8: error: {dir}/test/data.npy: file ends early: the header describes uint8 "
      "[30, 1, 4, 4]"}},
    {"train_test_shapes",
     R"py(
import numpy as np, os
os.makedirs('train'); os.makedirs('test')
np.save('train/data.npy', np.zeros((10, 1, 4, 4), np.uint8))
np.save('train/targets.npy', np.zeros(10, np.uint8))
np.save('test/data.npy', np.zeros((3, 1, 5, 5), np.uint8))
np.save('test/targets.npy', np.zeros(3, np.uint8))
)py",
     k_npy_recipe,
     {"r.toml:6:8: error: {dir}/test/data.npy: samples are [1, 5, 5] with targets [], but "
      "{dir}/train/data.npy has [1, 4, 4] with targets []"}},
    {"model_inputs",
     R"py(
import numpy as np, os
for split, n in (('train', 10), ('test', 3)):
    os.makedirs(split, exist_ok=True)
    np.save(split + '/data.npy', np.zeros((n, 1, 4, 4), np.uint8))
    np.save(split + '/targets.npy', np.arange(n, dtype=np.uint8) % 2)
)py",
     R"([data]
dataset = "npy"
train = "train"
test = "test"
[model]
kind = "mlp"
inputs = [1, 28, 28]
)",
     {"r.toml:9:10: error: {dir}/train/data.npy: model.kind = \"mlp\" cannot take its samples "
      "[1, 4, 4]: model.inputs = [1, 28, 28] but the data's samples have shape [1, 4, 4]"}},
    {"science_model_shape",
     R"py(
import numpy as np, os
for split, n in (('train', 10), ('test', 3)):
    os.makedirs(split, exist_ok=True)
    np.save(split + '/data.npy', np.zeros((n, 1, 4, 4), np.int16))
    np.save(split + '/targets.npy', np.zeros((n, 4), np.float32))
)py",
     R"([data]
dataset = "npy"
train = "train"
test = "test"
[model]
kind = "cosmoflow"
[task]
kind = "regression"
)",
     {"r.toml:8:8: error: {dir}/train/data.npy: model.kind = \"cosmoflow\" cannot take its "
      "samples [1, 4, 4]"}},
    {"negative_class_id",
     R"py(
import numpy as np, os
for split, n in (('train', 10), ('test', 3)):
    os.makedirs(split, exist_ok=True)
    np.save(split + '/data.npy', np.zeros((n, 1, 4, 4), np.uint8))
    np.save(split + '/targets.npy', np.arange(n, dtype=np.int64) % 2)
np.save('test/targets.npy', np.array([0, -1, 1], np.int64))
)py",
     k_npy_recipe,
     {"r.toml:6:8: error: {dir}/test/targets.npy: sample 1 has the negative class id -1"}},
    {"absurd_class_id",
     R"py(
import numpy as np, os
for split, n in (('train', 10), ('test', 3)):
    os.makedirs(split, exist_ok=True)
    np.save(split + '/data.npy', np.zeros((n, 1, 4, 4), np.uint8))
    np.save(split + '/targets.npy', np.arange(n, dtype=np.int64) % 2)
np.save('train/targets.npy', np.array([0, 1] * 4 + [10**12, 1], np.int64))
)py",
     k_npy_recipe,
     {"r.toml:5:9: error: {dir}/train/targets.npy: sample 8 has the class id 1000000000000, "
      "beyond kakuren's limit of 100000 classes (ids 0 to 99999)"}},
    {"hdf5_absurd_class_id",
     R"py(
import numpy as np, h5py
with h5py.File('test.h5', 'w') as f:
    f['data'] = np.zeros((3, 1, 4, 4), np.uint8); f['targets'] = np.zeros(3, np.uint8)
with h5py.File('train.h5', 'w') as f:
    f['data'] = np.zeros((4, 1, 4, 4), np.uint8)
    f['targets'] = np.array([0, 1, 10**12, 1], np.int64)
)py",
     R"([data]
dataset = "hdf5"
train = "train.h5"
test = "test.h5"
)",
     {"r.toml:5:9: error: {dir}/train.h5:/targets: sample 2 has the class id 1000000000000"}},
    {"hdf5_truncated",
     R"py(
import numpy as np, h5py, os
with h5py.File('test.h5', 'w') as f:
    f['data'] = np.zeros((3, 1, 4, 4), np.uint8); f['targets'] = np.zeros(3, np.uint8)
with h5py.File('train.h5', 'w') as f:
    f['data'] = np.zeros((50, 1, 40, 40), np.uint8); f['targets'] = np.zeros(50, np.uint8)
with open('train.h5', 'r+b') as f: f.truncate(os.path.getsize('train.h5') // 2)
)py",
     R"([data]
dataset = "hdf5"
train = "train.h5"
test = "test.h5"
)",
     {"r.toml:5:9: error: ", "{dir}/train.h5"}},
    {"hdf5_targets_n",
     R"py(
import numpy as np, h5py
with h5py.File('test.h5', 'w') as f:
    f['data'] = np.zeros((3, 1, 4, 4), np.uint8); f['targets'] = np.zeros(3, np.uint8)
with h5py.File('train.h5', 'w') as f:
    f['data'] = np.zeros((5, 1, 4, 4), np.uint8); f['targets'] = np.zeros(4, np.uint8)
)py",
     R"([data]
dataset = "hdf5"
train = "train.h5"
test = "test.h5"
)",
     {"r.toml:5:9: error: {dir}/train.h5", "holds 5 samples but"}},
};

INSTANTIATE_TEST_SUITE_P(Cases, DataCheckE2E, ::testing::ValuesIn(k_check_cases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(DataE2E, RecipeCheckOpensGoodDataAndSaysOk) {
    kakuren::testing::write_file(m_dir / "make.py", k_good_npy);
    ASSERT_EQ(kakuren::testing::run_shell("cd " + quoted(m_dir.path().string()) +
                                              " && /usr/bin/python3 make.py",
                                          m_dir.path())
                  .code,
              0);
    kakuren::testing::write_file(m_dir / "r.toml", k_npy_recipe);
    const auto r = plain("recipe check r.toml");
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("r.toml: ok"), std::string::npos) << r.out;
}

} // namespace

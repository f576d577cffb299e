// kakuren run with [model] kind = "torchscript": a module exported by the real PyTorch trains
// with hiding through the CLI, and a module that cannot train is refused before anything is
// recorded (exit 2, for a file that is no usable module and for one that does not fit the data:
// recipe check and run make one forward pass first), on a dry run too.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using kakuren::testing::quoted;

class TorchScriptE2E : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        s_dir = new kakuren::testing::TempDir();
        const std::string make = std::string(KAKUREN_TORCH_PYTHON " '") + KAKUREN_SOURCE_DIR +
                                 "/tests/trainer/torchscript/make_modules.py' " +
                                 quoted(s_dir->path().string());
        ASSERT_EQ(std::system(make.c_str()), 0) << make;
    }
    static void TearDownTestSuite() {
        delete s_dir;
        s_dir = nullptr;
    }

    /// A recipe beside the modules: a 28x28 synthetic problem for the exported cnn.
    fs::path recipe(const std::string& name, const std::string& module) {
        const fs::path file = s_dir->path() / (name + ".toml");
        std::ofstream(file) << "[run]\nname = \"" << name << "\"\nthreads = 1\n\n"
                            << "[data]\ndataset = \"synthetic\"\nsynthetic_train = 512\n"
                            << "synthetic_test = 128\nsynthetic_classes = 10\nsynthetic_size = 28\n"
                            << "batch_size = 64\n\n"
                            << "[model]\nkind = \"torchscript\"\npath = \"" << module << "\"\n"
                            << "inputs = [1, 28, 28]\n\n"
                            << "[schedule]\nepochs = 2\nwarmup_epochs = 0\nmilestones = []\n\n"
                            << "[hiding]\nstrategy = \"kakurenbo\"\nfraction = 0.3\ntau = 0.1\n";
        return file;
    }

    kakuren::testing::Output kakuren(const std::string& args) {
        const fs::path ws = m_tmp.path() / "ws";
        fs::create_directories(ws);
        return kakuren::testing::run_shell(
            "'" KAKUREN_BIN "' " + args + " --workspace " + quoted(ws.string()), m_tmp.path());
    }

    [[nodiscard]] bool nothing_recorded() const {
        const fs::path ws = m_tmp.path() / "ws";
        return !fs::exists(ws / "kakuren.db") &&
               (!fs::exists(ws / "runs") || fs::is_empty(ws / "runs"));
    }

    static kakuren::testing::TempDir* s_dir;
    kakuren::testing::TempDir m_tmp;
};

kakuren::testing::TempDir* TorchScriptE2E::s_dir = nullptr;

TEST_F(TorchScriptE2E, AnExportedModuleTrainsWithHiding) {
    const auto r = kakuren("run " + quoted(recipe("ts_cnn", "cnn.pt").string()) + " --format json");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("\"status\": \"finished\""), std::string::npos) << r.out;
    const auto shown = kakuren("runs --format json");
    EXPECT_NE(shown.out.find("ts_cnn"), std::string::npos) << shown.out;
    // Where it computed, for exactness: the LibTorch release, the device, the CPU kernels.
    const auto detail = kakuren("show ts_cnn");
    EXPECT_NE(detail.out.find("platform  LibTorch " KAKUREN_TORCH_VERSION), std::string::npos)
        << detail.out;
    EXPECT_NE(detail.out.find(", cpu, CPU kernels "), std::string::npos) << detail.out;
    const auto json = kakuren("show ts_cnn --format json");
    EXPECT_NE(json.out.find("\"device\": \"cpu\""), std::string::npos) << json.out;
    EXPECT_NE(json.out.find("\"cpu_capability\": "), std::string::npos) << json.out;
}

TEST_F(TorchScriptE2E, AModuleThatCannotTrainIsRefusedBeforeAnythingIsRecorded) {
    const auto dry =
        kakuren("run " + quoted(recipe("two", "two_inputs.pt").string()) + " --dry-run");
    EXPECT_EQ(dry.code, 2) << dry.out << dry.err;
    EXPECT_NE(dry.err.find("forward takes 2 inputs (x, y)"), std::string::npos) << dry.err;

    const auto wrong = kakuren("run " + quoted(recipe("seg", "segment.pt").string()));
    EXPECT_EQ(wrong.code, 2) << wrong.out << wrong.err;
    EXPECT_NE(wrong.err.find("the module returns [2, 10, 28, 28]; classification expects [2, "
                             "10] (batch, classes)"),
              std::string::npos)
        << wrong.err;

    const auto newer = kakuren("run " + quoted(recipe("newer", "newer.pt").string()));
    EXPECT_EQ(newer.code, 2) << newer.out << newer.err;
    EXPECT_NE(newer.err.find("not a TorchScript archive that LibTorch " KAKUREN_TORCH_VERSION
                             " can read"),
              std::string::npos)
        << newer.err;

    const auto text = kakuren("run " + quoted(recipe("text", "/etc/passwd").string()));
    EXPECT_EQ(text.code, 2) << text.out << text.err;
    EXPECT_NE(text.err.find("is not a TorchScript archive (not a zip file)"), std::string::npos)
        << text.err;
    EXPECT_TRUE(nothing_recorded());
}

} // namespace

namespace {

// run.device = "cuda" on a machine without a GPU (CI, the development machines): refused before
// anything is recorded, exit 2, naming why (a CPU-only LibTorch, or no GPU visible), on a dry run
// too. Also run.precision = "fp16", which needs a GPU.
TEST_F(TorchScriptE2E, ACudaDeviceWithoutAGpuIsRefusedBeforeAnythingIsRecorded) {
    if (fs::exists("/dev/nvidia0")) {
        GTEST_SKIP() << "this machine has a GPU (/dev/nvidia0): the refusal needs one without";
    }
    const std::string file = quoted(recipe("cuda", "cnn.pt").string());
    for (const std::string extra : {"--set run.device=cuda", "--set run.device=cuda:1 --dry-run",
                                    "--set run.precision=fp16"}) {
        const auto r = kakuren("run " + file + " " + extra);
        EXPECT_EQ(r.code, 2) << extra << "\n" << r.out << r.err;
        const bool named = r.err.find("without CUDA") != std::string::npos ||
                           r.err.find("no GPU is visible") != std::string::npos ||
                           r.err.find("needs a GPU") != std::string::npos;
        EXPECT_TRUE(named) << extra << "\n" << r.err;
        EXPECT_TRUE(nothing_recorded()) << extra;
    }
}

} // namespace

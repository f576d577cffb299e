#pragma once
// The fixture of the model check tests (model_check_e2e_test.cpp, model_output_e2e_test.cpp):
// the modules and npy data that tests/cli/model_check_modules.py writes with the real PyTorch
// and numpy, recipes beside them, and the kakuren binary on a temporary workspace.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace kakuren::testing {

class ModelModules : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        s_dir = new TempDir();
        // The modules with the PyTorch of kakuren's LibTorch, the npy data with Debian's numpy
        // (the PyPI flavour's .venv has no numpy). A failure here fails every test of the suite.
        const std::string script = std::string(" '") + KAKUREN_SOURCE_DIR +
                                   "/tests/cli/model_check_modules.py' " +
                                   quoted(s_dir->path().string());
        const std::string modules = KAKUREN_TORCH_PYTHON + script + " modules";
        const std::string npy = KAKUREN_PYTHON3 + script + " npy";
        s_setup = std::system(modules.c_str()) == 0 ? (std::system(npy.c_str()) == 0 ? "" : npy)
                                                    : modules;
    }
    void SetUp() override {
        ASSERT_TRUE(s_setup.empty()) << "writing the test's modules and data failed: " << s_setup;
    }
    static void TearDownTestSuite() {
        delete s_dir;
        s_dir = nullptr;
    }

    /// 28x28 synthetic images of 10 classes (or `data`, a [data] section's lines) for the
    /// module `module` with `model` lines added to [model]; 2 epochs of 512 samples.
    static std::filesystem::path recipe(const std::string& name, const std::string& module,
                                        const std::string& model = "",
                                        const std::string& data = "") {
        const std::filesystem::path file = s_dir->path() / (name + ".toml");
        std::ofstream(file) << "[run]\nname = \"" << name << "\"\nthreads = 1\n\n[data]\n"
                            << (data.empty() ? "dataset = \"synthetic\"\nsynthetic_train = 512\n"
                                               "synthetic_test = 128\nsynthetic_classes = 10\n"
                                               "synthetic_size = 28\n"
                                             : data)
                            << "batch_size = 64\n\n[model]\nkind = \"torchscript\"\npath = \""
                            << module << "\"\n"
                            << model << "\n[schedule]\nepochs = 2\nwarmup_epochs = 0\n"
                            << "milestones = []\n";
        return file;
    }

    /// kakuren ARGS on a workspace in this test's folder (none for recipe commands).
    Output kakuren(const std::string& args) {
        const std::filesystem::path ws = m_tmp.path() / "ws";
        std::filesystem::create_directories(ws);
        // recipe check has no workspace.
        const bool recipe_command = args.starts_with("recipe ");
        return run_shell("'" KAKUREN_BIN "' " + args +
                             (recipe_command ? "" : " --workspace " + quoted(ws.string())),
                         m_tmp.path());
    }

    /// No database and no run folder: nothing was recorded.
    [[nodiscard]] bool nothing_recorded() const {
        const std::filesystem::path ws = m_tmp.path() / "ws";
        return !std::filesystem::exists(ws / "kakuren.db") &&
               (!std::filesystem::exists(ws / "runs") || std::filesystem::is_empty(ws / "runs"));
    }

    static std::string module_path(const std::string& name) {
        return (s_dir->path() / name).string();
    }

    /// The number of lines of `text` (a last line without '\n' counts).
    static int lines(const std::string& text) {
        int n = 0;
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);) {
            ++n;
        }
        return n;
    }

    static inline TempDir* s_dir = nullptr;
    static inline std::string s_setup; ///< the command that failed writing the files, if one did
    TempDir m_tmp;
};

} // namespace kakuren::testing

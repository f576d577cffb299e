// The built training module (libkakuren_train.so) through its one exported function and the
// loader (trainer/module.hpp): the version handshake, and results, problems and errors crossing
// as typed values.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "trainer/module.hpp"
#include "trainer/module_layout.hpp"
#include "util/error.hpp"

namespace {

using namespace kakuren;
using trainer::k_module_abi_version;

/// The module's table function, from a dlopen of the built module (kept open).
trainer::ModuleTableFn table_function() {
    static void* handle = dlopen(KAKUREN_TRAIN_MODULE_FILE, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        ADD_FAILURE() << "cannot load " KAKUREN_TRAIN_MODULE_FILE ": " << dlerror();
        return nullptr;
    }
    return reinterpret_cast<trainer::ModuleTableFn>(dlsym(handle, trainer::k_module_table_symbol));
}

/// The loader reads the module that KAKUREN_TRAIN_MODULE names (the test is not beside it).
void use_built_module() {
    ::setenv("KAKUREN_TRAIN_MODULE", KAKUREN_TRAIN_MODULE_FILE, /*overwrite=*/1);
}

} // namespace

TEST(ModuleTable, TheModuleGivesItsTableOnlyToACallerOfItsVersion) {
    const trainer::ModuleTableFn table_fn = table_function();
    ASSERT_NE(table_fn, nullptr) << "the module exports " << trainer::k_module_table_symbol;
    const trainer::ModuleTable* table = table_fn(k_module_abi_version);
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->version, k_module_abi_version);
    EXPECT_EQ(table->fingerprint, trainer::module_layout_fingerprint());
    EXPECT_NE(table->train, nullptr);
    EXPECT_NE(table->write_standin, nullptr);
    EXPECT_EQ(table_fn(k_module_abi_version + 1), nullptr) << "a caller of a newer version";
    EXPECT_EQ(table_fn(k_module_abi_version - 1), nullptr) << "a caller of an older version";
    EXPECT_EQ(table_fn(1), nullptr) << "version 1 had no table";
}

TEST(ModuleTable, DataProblemsCrossAsStructsWithTheirKeys) {
    use_built_module();
    const kakuren::testing::TempDir dir("kakuren-module-table");
    trainer::Config config;
    config.data.dataset = "npy";
    config.data.train_path = (dir / "no-train").string();
    config.data.test_path = (dir / "no-test").string();
    const std::vector<trainer::DataProblem> problems = trainer::check_data_via_module(config);
    ASSERT_EQ(problems.size(), 2U);
    EXPECT_EQ(problems[0].key, "data.train");
    EXPECT_NE(problems[0].message.find(config.data.train_path), std::string::npos)
        << problems[0].message;
    EXPECT_EQ(problems[1].key, "data.test");
    EXPECT_NE(problems[1].message.find(config.data.test_path), std::string::npos)
        << problems[1].message;
    for (const trainer::DataProblem& problem : problems) {
        EXPECT_EQ(problem.message.find('\n'), std::string::npos) << "one line: " << problem.message;
    }
}

TEST(ModuleTable, FailuresCrossWithTheirKindAndMessage) {
    use_built_module();
    trainer::SynthConfig synth;
    synth.kind = "no-such-kind";
    try {
        trainer::write_standin_via_module(synth);
        ADD_FAILURE() << "write_standin accepted kind no-such-kind";
    } catch (const UsageError& e) {
        EXPECT_NE(std::string(e.what()).find("no-such-kind"), std::string::npos) << e.what();
    }
    const kakuren::testing::TempDir dir("kakuren-module-table");
    const std::string missing = (dir / "nothing-here").string();
    try {
        trainer::data_command_via_module("inspect", {missing, "text"});
        ADD_FAILURE() << "inspect of a missing path succeeded";
    } catch (const UsageError& e) {
        ADD_FAILURE() << "a missing path is a runtime failure, not a usage error: " << e.what();
    } catch (const RuntimeFailure& e) {
        EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    }
    EXPECT_THROW(trainer::data_command_via_module("frobnicate", {}), UsageError);
}

TEST(ModuleTable, ResultsCrossAsValues) {
    use_built_module();
    const kakuren::testing::TempDir dir("kakuren-module-table");
    trainer::SynthConfig synth;
    synth.kind = "cosmoflow";
    synth.train = 2;
    synth.validation = 1;
    synth.size = 4;
    synth.out = (dir / "standin").string();
    const trainer::SynthResult result = trainer::write_standin_via_module(synth);
    // 3 samples of data + label files, and each split's two lists.
    EXPECT_EQ(result.files, 10);
    EXPECT_GT(result.bytes, 3 * 4 * 4 * 4 * 4 * 2) << "three int16 [4, 4, 4, 4] samples at least";
    trainer::Config synthetic;
    synthetic.data.dataset = "synthetic";
    synthetic.data.synthetic_train = 64;
    synthetic.data.synthetic_test = 16;
    synthetic.model.kind = "mlp";
    EXPECT_TRUE(trainer::check_model_fit_via_module(synthetic).empty())
        << "the MLP fits the synthetic blobs";
}

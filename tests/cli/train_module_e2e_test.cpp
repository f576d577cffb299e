// KAKUREN_TRAIN_MODULE (a developer setting) naming a library that is not kakuren's training
// module: refused with a clear error, exit 1, before anything is recorded (issue 23 #14).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using kakuren::testing::quoted;

namespace {

kakuren::testing::Output kakuren_with_module(const std::string& module, const std::string& args,
                                             const fs::path& scratch) {
    return kakuren::testing::run_shell("cd '" KAKUREN_SOURCE_DIR "' && KAKUREN_TRAIN_MODULE=" +
                                           quoted(module) + " '" KAKUREN_BIN "' " + args,
                                       scratch);
}

} // namespace

TEST(TrainModule, AForeignLibraryIsRefusedBeforeAnythingIsRecorded) {
    const kakuren::testing::TempDir dir("kakuren-module");
    const fs::path ws = dir / "ws";
    const auto r = kakuren_with_module(
        KAKUREN_FOREIGN_MODULE,
        "run recipes/synthetic_tiny.toml --quiet --workspace " + quoted(ws.string()), dir.path());
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find(std::string("kakuren: error: ") + KAKUREN_FOREIGN_MODULE +
                         " is not a kakuren training module"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("KAKUREN_TRAIN_MODULE, a setting for kakuren's developers: unset it"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(ws / "kakuren.db")) << "nothing recorded";
    EXPECT_FALSE(fs::exists(ws / "runs"));
}

TEST(TrainModule, ASystemLibraryIsRefusedToo) {
    // A real library of the system (zlib, which kakuren itself links): loads, but is no module.
    const kakuren::testing::TempDir dir("kakuren-module");
    const auto r =
        kakuren_with_module(KAKUREN_ZLIB_LIBRARY, "data inspect " + quoted(dir.path()), dir.path());
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find(" is not a kakuren training module"), std::string::npos) << r.err;
}

TEST(TrainModule, AModuleOfOtherSourcesIsRefusedAsStale) {
    const kakuren::testing::TempDir dir("kakuren-module");
    const auto r =
        kakuren_with_module(KAKUREN_STALE_MODULE, "data inspect " + quoted(dir.path()), dir.path());
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find(std::string("kakuren: error: the training module ") +
                         KAKUREN_STALE_MODULE +
                         " does not match this kakuren binary (built from other sources)"),
              std::string::npos)
        << r.err;
}

/// kakuren data inspect with KAKUREN_TRAIN_MODULE=module: refused as a module of other sources.
void expect_refused_as_stale(const std::string& module) {
    const kakuren::testing::TempDir dir("kakuren-module");
    const auto r = kakuren_with_module(module, "data inspect " + quoted(dir.path()), dir.path());
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("kakuren: error: the training module " + module +
                         " does not match this kakuren binary (built from other sources); it is "
                         "named by KAKUREN_TRAIN_MODULE"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.out, "") << "nothing inspected";
}

TEST(TrainModule, AModuleOfAnotherAbiVersionIsRefusedAsStale) {
    // Its table function gives this binary's version no table.
    expect_refused_as_stale(KAKUREN_NEXT_VERSION_MODULE);
}

TEST(TrainModule, AModuleOfTheSameVersionWithAnotherLayoutIsRefusedAsStale) {
    // Its table has this version but another layout fingerprint (a change nobody versioned);
    // its entries are null, so a module that got this far would crash the test.
    expect_refused_as_stale(KAKUREN_OTHER_LAYOUT_MODULE);
}

TEST(TrainModule, AMissingFileNamesTheSetting) {
    const kakuren::testing::TempDir dir("kakuren-module");
    const std::string missing = (dir / "no-such-module.so").string();
    const auto r = kakuren_with_module(missing, "data inspect " + quoted(dir.path()), dir.path());
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("cannot load the training module " + missing), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("KAKUREN_TRAIN_MODULE"), std::string::npos) << r.err;
}

TEST(TrainModule, TheHelpDocumentsTheSetting) {
    const kakuren::testing::TempDir dir("kakuren-module");
    const auto r = kakuren::testing::run_shell("'" KAKUREN_BIN "' --help", dir.path());
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("KAKUREN_TRAIN_MODULE=FILE"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("For kakuren's developers only"), std::string::npos) << r.out;
}

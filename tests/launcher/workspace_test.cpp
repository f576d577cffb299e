#include "launcher/workspace.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>

#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "util/error.hpp"

using kakuren::launcher::new_run_id;
using kakuren::launcher::resolve_workspace;

TEST(Workspace, FlagWinsOverEnvironmentAndCurrentFolder) {
    setenv("KAKUREN_WORKSPACE", "/tmp/from-env", 1);
    const auto ws = resolve_workspace("/tmp/from-flag/");
    EXPECT_EQ(ws.root, "/tmp/from-flag");
    EXPECT_EQ(ws.db_file, "/tmp/from-flag/kakuren.db");
    EXPECT_EQ(ws.run_dir("abc"), "/tmp/from-flag/runs/abc");
}

TEST(Workspace, EnvironmentWinsOverCurrentFolder) {
    setenv("KAKUREN_WORKSPACE", "/tmp/from-env", 1);
    EXPECT_EQ(resolve_workspace("").root, "/tmp/from-env");
    unsetenv("KAKUREN_WORKSPACE");
    EXPECT_EQ(resolve_workspace("").root, std::filesystem::current_path());
}

TEST(Workspace, RelativeFlagBecomesAbsolute) {
    unsetenv("KAKUREN_WORKSPACE");
    EXPECT_EQ(resolve_workspace("sub/dir").root, std::filesystem::current_path() / "sub/dir");
}

TEST(RunId, HasNameTimeAndSuffixAndIsSanitised) {
    const std::string id = new_run_id("fashion mnist/cnn");
    EXPECT_TRUE(std::regex_match(id, std::regex(R"(fashion_mnist_cnn-\d{8}-\d{6}-[0-9a-f]{4})")))
        << id;
    EXPECT_TRUE(std::regex_match(new_run_id("-x"), std::regex(R"(r-x-\d{8}-\d{6}-[0-9a-f]{4})")));
}

TEST(RunId, TwoIdsInOneSecondDiffer) {
    // 16 bits of suffix: two draws collide with probability 1/65536; three tries make a flaky
    // failure practically impossible while a constant suffix still fails.
    bool differ = false;
    for (int i = 0; i < 3 && !differ; ++i) {
        differ = new_run_id("a") != new_run_id("a");
    }
    EXPECT_TRUE(differ);
}

TEST(Workspace, OnlyAFolderNamedByTheFlagIsCreated) {
    // Before: KAKUREN_WORKSPACE=/nonexistent/x silently created the whole path (as root, too).
    char tmpl[] = "/tmp/kakuren-ws-XXXXXX";
    const std::filesystem::path base = mkdtemp(tmpl);
    setenv("KAKUREN_WORKSPACE", (base / "typo/x").c_str(), 1);
    const auto from_env = resolve_workspace("");
    EXPECT_EQ(from_env.source, kakuren::launcher::Workspace::Source::env);
    try {
        kakuren::launcher::ensure_workspace(from_env);
        FAIL() << "created";
    } catch (const kakuren::UsageError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "workspace " + (base / "typo/x").string() +
                      " (from $KAKUREN_WORKSPACE) does not exist: create it (mkdir -p), or name "
                      "it with --workspace to have kakuren create it");
    }
    EXPECT_FALSE(std::filesystem::exists(base / "typo"));
    unsetenv("KAKUREN_WORKSPACE");

    const auto named = resolve_workspace((base / "new/ws").string());
    EXPECT_EQ(named.source, kakuren::launcher::Workspace::Source::flag);
    testing::internal::CaptureStderr();
    kakuren::launcher::ensure_workspace(named);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "kakuren: created workspace " +
                                                          (base / "new/ws").string() +
                                                          " (named by --workspace)\n");
    EXPECT_TRUE(std::filesystem::is_directory(base / "new/ws"));

    std::ofstream(base / "file") << "x";
    EXPECT_THROW(kakuren::launcher::ensure_workspace(resolve_workspace((base / "file").string())),
                 kakuren::UsageError);
    std::filesystem::remove_all(base);
}

TEST(Workspace, ABlankNameIsRefused) {
    // Before: a workspace named " " was created.
    EXPECT_THROW(resolve_workspace(" "), kakuren::UsageError);
    setenv("KAKUREN_WORKSPACE", "  ", 1);
    EXPECT_THROW(resolve_workspace(""), kakuren::UsageError);
    unsetenv("KAKUREN_WORKSPACE");
}

TEST(Workspace, AnEmptyEnvironmentValueIsRefused) {
    // Before (issue 23, #13): KAKUREN_WORKSPACE="" silently meant the current folder.
    setenv("KAKUREN_WORKSPACE", "", 1);
    try {
        resolve_workspace("");
        FAIL() << "accepted";
    } catch (const kakuren::UsageError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "KAKUREN_WORKSPACE='' is empty; set it to a folder or unset it");
    }
    unsetenv("KAKUREN_WORKSPACE");
}

TEST(Workspace, GarbageInTheRememberedListIsSkipped) {
    // Before (issue 23, #11): a 5000-character line made every lookup of a run fail with "File
    // name too long" (exit 1) instead of looking in the other workspaces.
    const kakuren::testing::TempDir state("kakuren-state");
    setenv("XDG_STATE_HOME", state.path().c_str(), 1);
    std::ofstream(state / "afile") << "x";
    const std::filesystem::path missing = state / "moved-away";
    kakuren::testing::write_file(state / "kakuren/workspaces",
                                 "/tmp/" + std::string(5000, 'a') + "\n" + "relative/ws\n" +
                                     std::string("/tmp/nul\0byte\n", 14) + "/" +
                                     std::string(300, 'b') + "/ws\n" +
                                     (state / "afile/ws").string() + "\n" + missing.string() +
                                     "\n" + state.path().string() + "\n");
    const auto known = kakuren::launcher::remembered_workspaces();
    ASSERT_EQ(known.size(), 2U);
    EXPECT_EQ(known[0].root, state.path()); // most recent first
    EXPECT_EQ(known[1].root, missing);      // a workspace may be gone: skipped at lookup
    // remember_workspace still appends after the garbage.
    kakuren::launcher::remember_workspace(resolve_workspace((state / "new").string()));
    EXPECT_EQ(kakuren::launcher::remembered_workspaces().at(0).root, state / "new");
    unsetenv("XDG_STATE_HOME");
}

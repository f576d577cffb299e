// Recipe error messages as data: tests/recipes/errors/<case>.toml beside <case>.expected, the exact
// messages a user sees (one per line), and optionally <case>.set, one --set override per line.
// KAKUREN_UPDATE_GOLDEN=1 rewrites the .expected files from the actual output (review the diff).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "recipes/recipe.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;
using kakuren::recipes::RecipeError;

namespace {

const fs::path k_source_dir = KAKUREN_SOURCE_DIR;
const fs::path k_cases = "tests/recipes/errors";

std::string read_text(const fs::path& p) {
    return kakuren::testing::slurp(p);
}

std::vector<std::string> read_lines(const fs::path& p) {
    std::vector<std::string> lines;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) {
            lines.push_back(line);
        }
    }
    return lines;
}

/// Runs the tests from the source tree so that messages name tests/recipes/errors/<case>.toml.
class InSourceDir {
  public:
    InSourceDir() : m_previous(fs::current_path()) { fs::current_path(k_source_dir); }
    ~InSourceDir() { fs::current_path(m_previous); }
    InSourceDir(const InSourceDir&) = delete;
    InSourceDir& operator=(const InSourceDir&) = delete;

  private:
    fs::path m_previous;
};

/// Every message of loading the case, each followed by a newline; "" when it loads.
std::string actual_messages(const fs::path& recipe, const std::vector<std::string>& overrides) {
    try {
        kakuren::recipes::load(recipe, overrides);
    } catch (const RecipeError& e) {
        std::string out;
        for (const auto& m : e.messages()) {
            out += m + "\n";
        }
        return out;
    }
    return "";
}

} // namespace

TEST(RecipeErrors, EveryCaseGivesItsExpectedMessages) {
    InSourceDir in_source_dir;
    const bool update = std::getenv("KAKUREN_UPDATE_GOLDEN") != nullptr;
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(k_cases)) {
        if (entry.path().extension() == ".toml") {
            names.push_back(entry.path().stem().string());
        }
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
        SCOPED_TRACE("case " + name);
        const fs::path recipe = k_cases / (name + ".toml");
        const fs::path expected_file = k_cases / (name + ".expected");
        const fs::path set_file = k_cases / (name + ".set");
        const auto overrides =
            fs::exists(set_file) ? read_lines(set_file) : std::vector<std::string>{};
        const std::string actual = actual_messages(recipe, overrides);
        EXPECT_FALSE(actual.empty()) << recipe << " loaded without an error";
        if (update) {
            std::ofstream(expected_file, std::ios::binary) << actual;
            continue;
        }
        if (!fs::exists(expected_file)) {
            ADD_FAILURE() << expected_file << " is missing; actual:\n" << actual;
            continue;
        }
        EXPECT_EQ(read_text(expected_file), actual);
    }
}

TEST(RecipeErrors, TheRequiredCasesExist) {
    for (const char* name :
         {"out_of_range", "unknown_key_suggestion", "unknown_section", "wrong_type_string_for_int",
          "float_for_int", "bad_enum", "broken_toml", "missing_data_file", "several_errors_at_once",
          "warmup_not_less_than_epochs", "milestones_not_increasing",
          "nesterov_without_momentum"}) {
        EXPECT_TRUE(fs::exists(k_source_dir / k_cases / (std::string(name) + ".toml"))) << name;
        EXPECT_TRUE(fs::exists(k_source_dir / k_cases / (std::string(name) + ".expected"))) << name;
    }
}

TEST(RecipeErrors, SeveralErrorsAreAllReportedInFileOrder) {
    InSourceDir in_source_dir;
    try {
        kakuren::recipes::load(k_cases / "several_errors_at_once.toml");
        FAIL() << "loaded";
    } catch (const RecipeError& e) {
        ASSERT_GE(e.messages().size(), 3U);
        std::vector<int> lines;
        for (const auto& m : e.messages()) {
            // "tests/recipes/errors/several_errors_at_once.toml:<line>:<col>: error: ..."
            const auto first = m.find(':');
            lines.push_back(std::stoi(m.substr(first + 1)));
        }
        EXPECT_TRUE(std::is_sorted(lines.begin(), lines.end()));
    }
}

TEST(RecipeErrors, WhatJoinsTheMessagesWithNewlines) {
    const RecipeError e({"a: error: one", "b: error: two"});
    EXPECT_STREQ("a: error: one\nb: error: two", e.what());
    EXPECT_EQ(2U, e.messages().size());
}

TEST(RecipeErrors, AnUnreadableFileSaysWhy) {
    InSourceDir in_source_dir;
    try {
        kakuren::recipes::load("tests/recipes/errors/no_such_recipe.toml");
        FAIL() << "loaded";
    } catch (const RecipeError& e) {
        EXPECT_EQ(std::vector<std::string>{"tests/recipes/errors/no_such_recipe.toml: error: "
                                           "cannot read recipe: No such file or directory"},
                  e.messages());
    }
}

TEST(RecipeErrors, NonRegularAndOversizedFilesAreRefusedWithoutReading) {
    // Before: /dev/zero was read without bound and a FIFO without a writer blocked forever.
    try {
        kakuren::recipes::load("/dev/zero");
        FAIL() << "loaded";
    } catch (const RecipeError& e) {
        EXPECT_EQ(std::vector<std::string>{"/dev/zero: error: cannot read recipe: it is not a "
                                           "regular file; give a regular file"},
                  e.messages());
    }
    char tmpl[] = "/tmp/kakuren-recipe-XXXXXX";
    const fs::path dir = mkdtemp(tmpl);
    const fs::path fifo = dir / "fifo.toml";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    EXPECT_THROW(kakuren::recipes::load(fifo), RecipeError);
    const fs::path big = dir / "big.toml";
    {
        std::ofstream out(big);
        out << "# " << std::string(kakuren::recipes::k_max_recipe_bytes, 'x') << "\n";
    }
    try {
        kakuren::recipes::load(big);
        FAIL() << "loaded";
    } catch (const RecipeError& e) {
        ASSERT_EQ(e.messages().size(), 1U);
        EXPECT_NE(e.messages()[0].find("more than the limit of 1048576 bytes"), std::string::npos)
            << e.messages()[0];
    }
    fs::remove_all(dir);
}

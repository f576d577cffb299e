#pragma once
// The fixture of the data end-to-end tests (data_e2e_test.cpp, data_check_e2e_test.cpp,
// science_files_e2e_test.cpp): the real kakuren binary run in a temporary folder.
#include <string>

#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

class DataE2E : public ::testing::Test {
  protected:
    /// Runs `kakuren ARGS --workspace m_dir/ws` in m_dir (the shell's words: quote them).
    kakuren::testing::Output kakuren(const std::string& args);
    /// Runs `kakuren ARGS` in m_dir, without a workspace.
    kakuren::testing::Output plain(const std::string& args);
    kakuren::testing::TempDir m_dir{"kakuren-data-e2e"};
};

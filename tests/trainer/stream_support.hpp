#pragma once
// What the streaming source tests (stream_test.cpp, stream_sources_test.cpp,
// stream_bad_data_test.cpp) share: running numpy / h5py / Pillow scripts, and the message of a
// refusal.
#include <filesystem>
#include <string>

#include "support/errors.hpp"
#include "util/error.hpp"

namespace kakuren::trainer::stream_support {

/// Runs a Python script with numpy / h5py in `dir` (the script's working folder): writes it as
/// dir/make.py after an import line (numpy as np, h5py, gzip, os, sys), runs it with
/// KAKUREN_PYTHON_WITH_NUMPY and fails the test (ASSERT) if it does not exit 0.
void python(const std::filesystem::path& dir, const std::string& script);

using kakuren::testing::error_of;

} // namespace kakuren::trainer::stream_support

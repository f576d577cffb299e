#include "stream_support.hpp"

#include <fstream>

#include <gtest/gtest.h>

#include "support/process.hpp"

namespace kakuren::trainer::stream_support {

namespace fs = std::filesystem;

void python(const fs::path& dir, const std::string& script) {
    {
        std::ofstream out(dir / "make.py");
        out << "import numpy as np\nimport h5py, gzip, os, sys\n" << script;
    }
    const auto r = kakuren::testing::run(
        {{KAKUREN_PYTHON_WITH_NUMPY, (dir / "make.py").string()}, {}, dir}, dir);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
}

} // namespace kakuren::trainer::stream_support

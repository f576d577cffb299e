#pragma once
// Headless Chromium for the HTML report's e2e tests (header-only test helper): the page's DOM
// after load, or a screenshot.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "support/files.hpp"

namespace kakuren::report::testing {

/// Runs headless Chromium on file with a fresh profile under scratch; `what` is --dump-dom or
/// --screenshot=PNG. Returns its stdout; a failure to run is a test failure with its log.
inline std::string chromium(const std::filesystem::path& scratch, const std::filesystem::path& file,
                            const std::string& what, const std::string& window = "1280,1400") {
    const std::filesystem::path profile =
        scratch / ("chromium-profile" + std::to_string(what.size()));
    std::filesystem::create_directories(profile);
    const std::filesystem::path out = scratch / "chromium.out";
    const std::string cmd =
        "timeout 120 chromium --headless --no-sandbox --disable-gpu "
        "--disable-background-networking --disable-component-update --disable-sync "
        "--no-first-run --user-data-dir='" +
        profile.string() + "' --window-size=" + window + " " + what + " 'file://" + file.string() +
        "' >'" + out.string() + "' 2>'" + (scratch / "chromium.log").string() + "'";
    const int status = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "chromium failed (scripts/setup.sh installs it):\n"
        << kakuren::testing::slurp(scratch / "chromium.log");
    return kakuren::testing::slurp(out);
}

} // namespace kakuren::report::testing

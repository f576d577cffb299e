#include "data_e2e_support.hpp"

using kakuren::testing::quoted;

kakuren::testing::Output DataE2E::kakuren(const std::string& args) {
    return kakuren::testing::run_shell("cd " + quoted(m_dir.path().string()) +
                                           " && '" KAKUREN_BIN "' " + args + " --workspace " +
                                           quoted((m_dir / "ws").string()),
                                       m_dir.path());
}
kakuren::testing::Output DataE2E::plain(const std::string& args) {
    return kakuren::testing::run_shell(
        "cd " + quoted(m_dir.path().string()) + " && '" KAKUREN_BIN "' " + args, m_dir.path());
}

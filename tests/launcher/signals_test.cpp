#include "launcher/signals.hpp"

#include <gtest/gtest.h>

#include <csignal>

TEST(Signals, SigtermSetsTheStopFlagAndIsRemembered) {
    kakuren::launcher::install_stop_handlers();
    EXPECT_FALSE(kakuren::launcher::stop_flag().load());
    std::raise(SIGTERM); // the process survives: the handler only sets the flag
    EXPECT_TRUE(kakuren::launcher::stop_flag().load());
    EXPECT_EQ(kakuren::launcher::stop_signal(), SIGTERM);
}

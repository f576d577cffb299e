#include "launcher/signals.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

TEST(Signals, SigtermSetsTheStopFlagAndIsRemembered) {
    kakuren::launcher::install_stop_handlers();
    EXPECT_FALSE(kakuren::launcher::stop_flag().load());
    std::raise(SIGTERM); // the process survives: the handler only sets the flag
    EXPECT_TRUE(kakuren::launcher::stop_flag().load());
    EXPECT_EQ(kakuren::launcher::stop_signal(), SIGTERM);
}

TEST(Signals, SighupStopsAtACheckpointLikeSigterm) {
    kakuren::launcher::install_stop_handlers();
    std::raise(SIGHUP); // before: the default action killed the process (a closed terminal)
    EXPECT_TRUE(kakuren::launcher::stop_flag().load());
    EXPECT_EQ(kakuren::launcher::stop_signal(), SIGHUP);
}

TEST(Signals, ClosedPipeOnlyFailsTheWrite) {
    kakuren::launcher::install_process_signals();
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    close(fds[0]);
    EXPECT_EQ(write(fds[1], "x", 1), -1); // before: SIGPIPE killed the process (exit 141)
    EXPECT_EQ(errno, EPIPE);
    close(fds[1]);
    // Caught, not ignored: an ignored SIGPIPE would be inherited by the programs kakuren
    // starts (exec resets a handler, never SIG_IGN).
    struct sigaction now {};
    sigaction(SIGPIPE, nullptr, &now);
    EXPECT_NE(now.sa_handler, SIG_IGN);
    EXPECT_NE(now.sa_handler, SIG_DFL);
}

TEST(SignalsDeathTest, SigbusFromAMappedFileSaysWhatHappened) {
    // A mapping whose file shrank: touching it raises SIGBUS, as SQLite's -shm mapping does when
    // the file cannot be extended. Before: the process died silently (exit 135).
    EXPECT_EXIT(
        {
            kakuren::launcher::install_process_signals();
            char name[] = "/tmp/kakuren-sigbus-XXXXXX";
            const int fd = mkstemp(name);
            unlink(name);
            if (fd < 0 || ftruncate(fd, 4096) != 0)
                std::_Exit(9);
            auto* p = static_cast<volatile char*>(
                mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
            if (ftruncate(fd, 0) != 0)
                std::_Exit(9);
            p[0] = 1;
            std::_Exit(0);
        },
        ::testing::ExitedWithCode(1), "SIGBUS: a memory-mapped file could not be accessed");
}

// util/fd.hpp: the one owner of a raw descriptor closes it exactly once, moves hand it over.
#include "util/fd.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace kakuren::util {
namespace {

bool is_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1;
}

int open_null() {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    return fd;
}

TEST(Fd, ClosesWhatItOwnsWhenDestroyed) {
    int raw = -1;
    {
        const Fd fd(open_null());
        raw = fd.get();
        EXPECT_TRUE(is_open(raw));
    }
    EXPECT_FALSE(is_open(raw));
    EXPECT_EQ(errno, EBADF);
}

TEST(Fd, AMoveHandsTheDescriptorOverAndAssignmentClosesTheOldOne) {
    Fd a(open_null());
    const int first = a.get();
    Fd b(std::move(a));
    EXPECT_EQ(a.get(), -1); // NOLINT(bugprone-use-after-move): the moved-from state is the test
    EXPECT_EQ(b.get(), first);
    Fd c(open_null());
    const int second = c.get();
    c = std::move(b);
    EXPECT_FALSE(is_open(second));
    EXPECT_EQ(c.get(), first);
    EXPECT_TRUE(is_open(first));
}

TEST(Fd, CloseReportsTheResultOnceAndLeavesNothingToClose) {
    Fd fd(open_null());
    const int raw = fd.get();
    EXPECT_EQ(fd.close(), 0);
    EXPECT_EQ(fd.get(), -1);
    EXPECT_FALSE(is_open(raw));
    EXPECT_EQ(Fd().get(), -1); // default: owns nothing, destroying it closes nothing
}

} // namespace
} // namespace kakuren::util

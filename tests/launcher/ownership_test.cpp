// Who owns a run: the lock in its folder decides on its host, the heartbeat too elsewhere.
#include "launcher/ownership.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace fs = std::filesystem;
using kakuren::db::OwnerProbe;
using kakuren::launcher::owner_alive;

namespace {

class RunFolder : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/kakuren-owner-XXXXXX";
        m_dir = mkdtemp(tmpl);
    }
    void TearDown() override { fs::remove_all(m_dir); }

    OwnerProbe probe(const std::string& host, std::int64_t heartbeat_ms = 0) const {
        OwnerProbe p;
        p.run_id = "r1";
        p.run_dir = m_dir.string();
        p.attempt = 1;
        p.host = host;
        p.pid = 1; // what a run in a PID namespace records: says nothing
        p.pid_start_ticks = 12345;
        p.heartbeat_ms = heartbeat_ms;
        return p;
    }

    fs::path m_dir;
};

} // namespace

TEST_F(RunFolder, TheLockDecidesOnItsHost) {
    const std::string here = kakuren::util::hostname();
    {
        kakuren::util::FileLock owner =
            kakuren::launcher::claim_run(m_dir, "r1", "attempt 1, pid 1 on " + here);
        EXPECT_TRUE(owner_alive(probe(here))) << "PID 1 with other start ticks, yet alive";
        try {
            kakuren::launcher::claim_run(m_dir, "r1", "attempt 1, pid 1 on " + here);
            FAIL() << "a second owner";
        } catch (const kakuren::launcher::RunBusy& e) {
            EXPECT_NE(std::string(e.what()).find("run r1 is owned by another kakuren process "
                                                 "(attempt 1, pid 1 on " +
                                                 here),
                      std::string::npos)
                << e.what();
        }
    }
    EXPECT_FALSE(owner_alive(probe(here))) << "lock free: provably gone";
}

TEST_F(RunFolder, AnotherHostNeedsAFreeLockAndAStaleHeartbeat) {
    const std::int64_t now = kakuren::util::now_ms();
    {
        kakuren::util::FileLock owner = kakuren::launcher::claim_run(m_dir, "r1", "x");
        EXPECT_TRUE(owner_alive(probe("elsewhere", 0)));
    }
    // Its folder may not be shared with that host: a free lock alone proves nothing there.
    EXPECT_TRUE(owner_alive(probe("elsewhere", now)));
    EXPECT_FALSE(owner_alive(
        probe("elsewhere", now - (kakuren::launcher::k_heartbeat_stale_s + 1) * 1000LL)));
    EXPECT_FALSE(owner_alive(probe("elsewhere", 0))) << "never beat";
}

TEST_F(RunFolder, WithoutALockFileThePidDecidesOnItsHostOnly) {
    // An attempt of a kakuren from before the lock.
    OwnerProbe self = probe(kakuren::util::hostname());
    self.pid = getpid();
    self.pid_start_ticks = kakuren::util::process_start_ticks(getpid());
    EXPECT_TRUE(owner_alive(self));
    self.pid_start_ticks += 1; // a reused pid
    EXPECT_FALSE(owner_alive(self));
    EXPECT_TRUE(owner_alive(probe("elsewhere"))) << "not ours to judge";
}

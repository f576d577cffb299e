#include "util/system.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <thread>

#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "util/error.hpp"
#include "util/list_file.hpp"
#include "util/npy.hpp"

namespace fs = std::filesystem;
using namespace kakuren::util;

namespace {

using kakuren::testing::TempDir;

std::string pattern_bytes(int n) {
    std::string s;
    for (int i = 0; i < n; ++i)
        s.push_back(static_cast<char>(i % 251));
    return s;
}

/// Waits until /proc says pid is a zombie (an exited, unreaped child).
bool wait_for_zombie(pid_t pid) {
    bool gone = false;
    const bool zombie = kakuren::testing::wait_until([&] {
        try {
            const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
            const auto paren = stat.rfind(')');
            return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
        } catch (const kakuren::RuntimeFailure&) {
            gone = true;
            return true;
        }
    });
    return zombie && !gone;
}

} // namespace

TEST(Sha256, FipsVectors) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(
        sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjk"
                   "lmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PaddingBoundaries) {
    // Lengths around the 55/56/64-byte padding edges (expected values from Python's hashlib).
    EXPECT_EQ(sha256_hex(pattern_bytes(55)),
              "463eb28e72f82e0a96c0a4cc53690c571281131f672aa229e0d45ae59b598b59");
    EXPECT_EQ(sha256_hex(pattern_bytes(56)),
              "da2ae4d6b36748f2a318f23e7ab1dfdf45acdc9d049bd80e59de82a60895f562");
    EXPECT_EQ(sha256_hex(pattern_bytes(63)),
              "29af2686fd53374a36b0846694cc342177e428d1647515f078784d69cdb9e488");
    EXPECT_EQ(sha256_hex(pattern_bytes(64)),
              "fdeab9acf3710362bd2658cdc9a29e8f9c757fcf9811603a8c447cd1d9151108");
    EXPECT_EQ(sha256_hex(pattern_bytes(65)),
              "4bfd2c8b6f1eec7a2afeb48b934ee4b2694182027e6d0fc075074f2fabb31781");
    EXPECT_EQ(sha256_hex(pattern_bytes(119)),
              "da18797ed7c3a777f0847f429724a2d8cd5138e6ed2895c3fa1a6d39d18f7ec6");
    EXPECT_EQ(sha256_hex(pattern_bytes(120)),
              "f52b23db1fbb6ded89ef42a23ce0c8922c45f25c50b568a93bf1c075420bbb7c");
}

TEST(AtomicWrite, ReplacesContentAndLeavesNoTemporaryFile) {
    TempDir dir;
    const fs::path path = dir.path() / "manifest.json";
    atomic_write(path, "first");
    EXPECT_EQ(read_file(path), "first");
    atomic_write(path, std::string("second\0binary", 13));
    EXPECT_EQ(read_file(path), std::string("second\0binary", 13));
    atomic_write(path, "");
    EXPECT_EQ(read_file(path), "");
    int entries = 0;
    for (const auto& entry : fs::directory_iterator(dir.path())) {
        ++entries;
        EXPECT_EQ(entry.path().filename(), "manifest.json");
    }
    EXPECT_EQ(entries, 1);
}

TEST(AtomicWrite, FailureThrowsRuntimeFailureNamingThePath) {
    TempDir dir;
    const fs::path path = dir.path() / "missing" / "folder" / "file.txt";
    try {
        atomic_write(path, "data");
        FAIL() << "expected RuntimeFailure";
    } catch (const kakuren::RuntimeFailure& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("cannot write " + path.string() + ": "), std::string::npos)
            << message;
        EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
    }
    EXPECT_FALSE(fs::exists(dir.path() / "missing"));
}

TEST(AtomicWrite, FailedRenameRemovesTheTemporaryFile) {
    TempDir dir;
    // The target is a non-empty folder: rename() of a file over it fails.
    const fs::path path = dir.path() / "target";
    fs::create_directories(path / "inside");
    EXPECT_THROW(atomic_write(path, "data"), kakuren::RuntimeFailure);
    int entries = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path()))
        ++entries;
    EXPECT_EQ(entries, 1); // only "target"
}

TEST(AtomicWrite, WritesToADeviceInsteadOfReplacingIt) {
    // Before: a temporary file was renamed over /dev/null (as root, /dev/null became a file).
    // A FIFO stands in for the device (no root needed): it must still be a FIFO afterwards.
    TempDir dir;
    const fs::path fifo = dir.path() / "pipe";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    std::string got;
    std::thread reader([&] { got = read_file(fifo); });
    atomic_write(fifo, "through the pipe");
    reader.join();
    EXPECT_EQ(got, "through the pipe");
    EXPECT_TRUE(fs::is_fifo(fs::symlink_status(fifo)));
    atomic_write("/dev/null", "gone");
    EXPECT_TRUE(fs::is_character_file(fs::symlink_status("/dev/null")));
}

TEST(AtomicWrite, WritesThroughASymlinkAndKeepsIt) {
    TempDir dir;
    const fs::path real = dir.path() / "real.txt", link = dir.path() / "link.txt";
    atomic_write(real, "old");
    fs::create_symlink(real, link);
    atomic_write(link, "new");
    EXPECT_TRUE(fs::is_symlink(fs::symlink_status(link)));
    EXPECT_EQ(read_file(real), "new");
    fs::remove(real); // a dangling link is refused, not replaced
    EXPECT_THROW(atomic_write(link, "x"), kakuren::RuntimeFailure);
    EXPECT_TRUE(fs::is_symlink(fs::symlink_status(link)));
}

TEST(AtomicWrite, KeepsTheModeOfTheFileItReplaces) {
    TempDir dir;
    const fs::path path = dir.path() / "secret.html";
    atomic_write(path, "v1");
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
    atomic_write(path, "v2");
    EXPECT_EQ(fs::status(path).permissions() & fs::perms::mask,
              fs::perms::owner_read | fs::perms::owner_write);
    const mode_t old = umask(027);
    const fs::path fresh = dir.path() / "fresh.txt";
    atomic_write(fresh, "x");
    umask(old);
    EXPECT_EQ(static_cast<unsigned>(fs::status(fresh).permissions() & fs::perms::mask), 0640U);
}

TEST(AtomicWrite, APlantedTemporaryNameIsNeverFollowed) {
    // Before: <target>.tmp.<pid> was opened with O_CREAT|O_TRUNC; a symlink planted under that
    // name made the write truncate the link's victim.
    TempDir dir;
    const fs::path victim = dir.path() / "victim", target = dir.path() / "out.txt";
    atomic_write(victim, "precious");
    fs::create_symlink(victim, target.string() + ".tmp." + std::to_string(getpid()));
    for (int i = 0; i < 10; ++i)
        fs::create_symlink(victim, dir.path() / (".out.txt.tmp-" + std::to_string(i)));
    atomic_write(target, "report");
    EXPECT_EQ(read_file(victim), "precious");
    EXPECT_EQ(read_file(target), "report");
}

TEST(ReadRegularFile, RefusesDevicesFifosFoldersAndLargeFiles) {
    TempDir dir;
    const auto message = [](const fs::path& p, std::int64_t limit) {
        try {
            read_regular_file(p, limit, "recipe");
        } catch (const kakuren::RuntimeFailure& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(message("/dev/zero", 100),
              "cannot read recipe /dev/zero: it is not a regular file; give a regular file");
    const fs::path fifo = dir.path() / "fifo"; // no writer: must not block
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    EXPECT_NE(message(fifo, 100).find("it is not a regular file"), std::string::npos);
    EXPECT_NE(message(dir.path(), 100).find("it is a folder"), std::string::npos);
    const fs::path big = dir.path() / "big.toml";
    atomic_write(big, std::string(101, 'x'));
    EXPECT_EQ(message(big, 100), "cannot read recipe " + big.string() +
                                     ": it has 101 bytes, more than the limit of 100 bytes");
    EXPECT_EQ(read_regular_file(big, 101, "recipe"), std::string(101, 'x'));
}

// Probe finding #3: a FIFO named as a data file (or as a file list) hung the reader in open().
TEST(OpenRegularFile, RefusesFifosDevicesAndFoldersWithoutBlocking) {
    TempDir dir;
    const auto message = [](const auto& read) {
        try {
            read();
        } catch (const kakuren::RuntimeFailure& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    const fs::path fifo = dir.path() / "x1.npy"; // no writer: an open without O_NONBLOCK waits
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    EXPECT_EQ(
        message([&] { open_regular_file(fifo, fifo.string() + " (sample 1)"); }),
        "cannot read " + fifo.string() +
            " (sample 1): it is a FIFO, not a regular file; data files must be regular files");
    EXPECT_EQ(message([&] { read_npy_header(fifo); }),
              "cannot read " + fifo.string() +
                  ": it is a FIFO, not a regular file; data files must be regular files");
    EXPECT_NE(message([&] { read_list_file(fifo); }).find("it is not a regular file"),
              std::string::npos);
    EXPECT_EQ(message([] { open_regular_file("/dev/zero"); }),
              "cannot read /dev/zero: it is a character device, not a regular file; data files "
              "must be regular files");
    EXPECT_NE(message([&] { open_regular_file(dir.path()); }).find("it is a folder"),
              std::string::npos);
    EXPECT_NE(message([&] {
                  open_regular_file(dir.path() / "none");
              }).find("none: No such file or directory"),
              std::string::npos);
    const fs::path file = dir.path() / "x0.npy";
    atomic_write(file, "abc");
    const Fd fd = open_regular_file(file);
    char buf[4] = {};
    EXPECT_EQ(::read(fd.get(), buf, sizeof buf), 3); // an ordinary, blocking descriptor
    EXPECT_EQ(fcntl(fd.get(), F_GETFL) & O_NONBLOCK, 0);
}

TEST(FileLock, OneHolderAtATimeAndTheKernelReleasesIt) {
    TempDir dir;
    const fs::path file = dir.path() / "owner.lock";
    EXPECT_EQ(FileLock::held(file), std::nullopt) << "no file yet";
    {
        std::optional<FileLock> first = FileLock::try_acquire(file);
        ASSERT_TRUE(first);
        EXPECT_EQ(FileLock::held(file), std::optional<bool>(true));
        EXPECT_FALSE(FileLock::try_acquire(file)) << "a second holder, even in this process";
    }
    EXPECT_EQ(FileLock::held(file), std::optional<bool>(false));
    // A child that dies by SIGKILL while holding it: released without any cleanup code.
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t child = fork();
    if (child == 0) {
        auto lock = FileLock::try_acquire(file);
        const char c = lock ? 'y' : 'n';
        (void)!write(ready[1], &c, 1);
        pause();
        _exit(0);
    }
    char c = 0;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    EXPECT_EQ(c, 'y');
    EXPECT_EQ(FileLock::held(file), std::optional<bool>(true));
    EXPECT_FALSE(FileLock::try_acquire(file));
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    EXPECT_EQ(FileLock::held(file), std::optional<bool>(false));
    EXPECT_TRUE(FileLock::try_acquire(file));
}

TEST(FileLock, AHolderNoticesItsFileWasDeletedOrReplaced) {
    // The kernel locks the file, not its name: after `rm owner.lock` a second process locks a
    // new file at the same name (issue 23 #4). names() is how the first one notices.
    TempDir dir;
    const fs::path file = dir.path() / "owner.lock";
    std::optional<FileLock> first = FileLock::try_acquire(file);
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->names(file));
    fs::remove(file);
    EXPECT_FALSE(first->names(file)) << "deleted";
    std::optional<FileLock> second = FileLock::try_acquire(file);
    ASSERT_TRUE(second) << "a new file at the name is free to lock";
    EXPECT_TRUE(second->names(file));
    EXPECT_FALSE(first->names(file)) << "the name holds another file now";
    // Replaced by a rename: the same for a third holder.
    atomic_write(dir.path() / "other", "");
    fs::rename(dir.path() / "other", file);
    EXPECT_FALSE(second->names(file));
}

TEST(FileId, ChangesWhenTheFileIsReplaced) {
    TempDir dir;
    const fs::path path = dir.path() / "kakuren.db";
    atomic_write(path, "a");
    const auto before = file_id(path);
    ASSERT_TRUE(before);
    EXPECT_EQ(file_id(path), before);
    atomic_write(path, "b"); // renamed over: another inode
    EXPECT_NE(file_id(path), before);
    fs::remove(path);
    EXPECT_EQ(file_id(path), std::nullopt);
}

TEST(ReadFile, MissingFileThrowsRuntimeFailure) {
    TempDir dir;
    const fs::path path = dir.path() / "absent.txt";
    try {
        read_file(path);
        FAIL() << "expected RuntimeFailure";
    } catch (const kakuren::RuntimeFailure& e) {
        EXPECT_EQ(std::string(e.what()),
                  "cannot read " + path.string() + ": No such file or directory");
    }
}

TEST(Process, CurrentProcessIsAlive) {
    const std::int64_t self = getpid();
    const std::int64_t ticks = process_start_ticks(self);
    EXPECT_GT(ticks, 0);
    EXPECT_TRUE(process_alive(self, 0));
    EXPECT_TRUE(process_alive(self, ticks));
    // Same pid, other start time: a reused pid is not our process.
    EXPECT_FALSE(process_alive(self, ticks + 1));
    EXPECT_FALSE(process_alive(0, 0));
    EXPECT_FALSE(process_alive(-1, 0));
}

TEST(Process, ZombieAndReapedChildAreNotAlive) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0)
        _exit(0);
    ASSERT_TRUE(wait_for_zombie(child));
    EXPECT_FALSE(process_alive(child, 0)) << "kill(pid, 0) succeeds on a zombie";
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_FALSE(process_alive(child, 0));
    EXPECT_EQ(process_start_ticks(child), 0);
}

TEST(Process, StartTicksSurviveSpacesAndParenthesesInTheName) {
    int to_parent[2];
    ASSERT_EQ(pipe(to_parent), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        prctl(PR_SET_NAME, "a) b (c) d", 0, 0, 0);
        const char ready = 'r';
        (void)!write(to_parent[1], &ready, 1);
        pause();
        _exit(0);
    }
    close(to_parent[1]);
    const std::int64_t before = process_start_ticks(child);
    char ready = 0;
    ASSERT_EQ(read(to_parent[0], &ready, 1), 1);
    close(to_parent[0]);
    const std::string comm = read_file("/proc/" + std::to_string(child) + "/comm");
    EXPECT_EQ(comm, "a) b (c) d\n");
    const std::int64_t after = process_start_ticks(child);
    EXPECT_GT(after, 0);
    EXPECT_EQ(after, before);
    EXPECT_TRUE(process_alive(child, after));
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
}

TEST(AvailableCpus, PrefersAPositiveSlurmCpusPerTask) {
    const char* old = std::getenv("SLURM_CPUS_PER_TASK");
    const std::string saved = old ? old : "";
    setenv("SLURM_CPUS_PER_TASK", "3", 1);
    EXPECT_EQ(available_cpus(), 3);
    unsetenv("SLURM_CPUS_PER_TASK");
    const int affinity = available_cpus();
    EXPECT_GE(affinity, 1);
    for (const char* bad : {"0", "-2", "abc", "4x", ""}) {
        setenv("SLURM_CPUS_PER_TASK", bad, 1);
        EXPECT_EQ(available_cpus(), affinity) << "SLURM_CPUS_PER_TASK=" << bad;
    }
    if (old)
        setenv("SLURM_CPUS_PER_TASK", saved.c_str(), 1);
    else
        unsetenv("SLURM_CPUS_PER_TASK");
}

TEST(Clock, Iso8601UtcWithMilliseconds) {
    const std::string now = iso8601_utc_now();
    EXPECT_TRUE(std::regex_match(now, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)")))
        << now;
    EXPECT_GT(now_ms(), 1'700'000'000'000);
}

TEST(Host, ShortName) {
    const std::string host = hostname();
    EXPECT_FALSE(host.empty());
    EXPECT_EQ(host.find('.'), std::string::npos);
}

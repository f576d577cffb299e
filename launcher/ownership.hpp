#pragma once
// One run, one owner. The process that trains a run holds an exclusive lock on
// runs/<id>/.owner.lock for its whole life (util::FileLock: the kernel releases it however the
// process ends, and neither PID reuse nor a PID namespace can fake it), and beats a heartbeat
// in the database for commands on other hosts. A running attempt is declared crashed only when
// its owner is provably gone: on its host, the lock is free; elsewhere, the lock is free and the
// heartbeat is stale.
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "db/store.hpp"
#include "util/system.hpp"

namespace kakuren::launcher {

inline constexpr int k_heartbeat_interval_s = 30;
/// A heartbeat older than this (10 missed beats) counts as stale on other hosts.
inline constexpr int k_heartbeat_stale_s = 300;

/// The lock file of a run folder.
std::filesystem::path owner_lock_file(const std::filesystem::path& run_dir);

/// Another process owns the run (exit code 1; the message names it and what to do).
class RunBusy : public RuntimeFailure {
  public:
    using RuntimeFailure::RuntimeFailure;
};

/// This process owned the run but its lock file was deleted or replaced under it: another
/// process may own the run now (exit code 1; nothing more is written).
class OwnershipLost : public RuntimeFailure {
  public:
    using RuntimeFailure::RuntimeFailure;
};

/// Makes this process the run's owner until the returned lock is destroyed (keep it for the
/// whole attempt). Waits up to wait_s for a previous owner to let go (a requeued job whose old
/// node's lock is still held on a shared file system), checking once a second; throws RunBusy
/// describing `holder` (e.g. "attempt 2, pid 123 on node1") when it does not.
util::FileLock claim_run(const std::filesystem::path& run_dir, const std::string& run_id,
                         const std::string& holder, double wait_s = 0);

/// Whether owner (claim_run's lock for run_dir) is still the lock at the run's lock file. The
/// kernel keeps a lock on the file, not on its name: after `rm .owner.lock` a second process
/// can lock a new file there (its liveness check by pid is fooled by a PID namespace), so an
/// owner checks this before it records anything.
bool still_owner(const util::FileLock& owner, const std::filesystem::path& run_dir);
/// Throws OwnershipLost (naming the run and what happened) unless still_owner().
void check_still_owner(const util::FileLock& owner, const std::filesystem::path& run_dir,
                       const std::string& run_id);

/// Whether a running attempt's owner may still live (db::Store::reap_dead_runs). With a lock
/// file: held = alive; free = gone on this host, and on another host once the heartbeat is
/// stale (its folder may not be shared). Without one (an attempt of an older kakuren): the
/// pid and its start time on this host; other hosts are not judged.
bool owner_alive(const db::OwnerProbe& probe);
/// Why owner_alive said no, for the record.
std::string owner_gone_reason(const db::OwnerProbe& probe);

/// Marks the runs whose owner is provably gone as crashed (every command that opens a
/// workspace calls it); returns their ids.
std::vector<std::string> reap_dead_runs(db::Store& store);

/// Records the owner's heartbeat every k_heartbeat_interval_s through its own connection to
/// the database (opened here, never created: without the file there is no heartbeat), from a
/// thread, until destroyed. Failures are skipped (the next beat retries).
class Heartbeat {
  public:
    Heartbeat(const std::filesystem::path& db_file, std::string run_id, int attempt);
    Heartbeat(const Heartbeat&) = delete;
    Heartbeat& operator=(const Heartbeat&) = delete;
    ~Heartbeat();

  private:
    void loop();

    std::optional<db::Store> m_store; ///< its own connection, used only by the thread
    std::string m_run_id;
    int m_attempt;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_stop = false;
    std::thread m_thread;
};

} // namespace kakuren::launcher

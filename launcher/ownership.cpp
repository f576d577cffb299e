#include "launcher/ownership.hpp"

#include <unistd.h>

#include <chrono>

namespace kakuren::launcher {

std::filesystem::path owner_lock_file(const std::filesystem::path& run_dir) {
    return run_dir / ".owner.lock";
}

util::FileLock claim_run(const std::filesystem::path& run_dir, const std::string& run_id,
                         const std::string& holder, double wait_s) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(std::max(0.0, wait_s));
    for (;;) {
        if (std::optional<util::FileLock> lock =
                util::FileLock::try_acquire(owner_lock_file(run_dir)))
            return std::move(*lock);
        if (std::chrono::steady_clock::now() >= deadline)
            break;
        std::this_thread::sleep_for(std::chrono::seconds(1)); // a lease on a shared file system
    }
    throw RunBusy("run " + run_id + " is owned by another kakuren process (" + holder +
                  ", holding " + owner_lock_file(run_dir).string() +
                  "): one run has one trainer. Wait for it to end, or stop it (kill -TERM "
                  "stops it at a checkpoint) and then resume the run");
}

bool still_owner(const util::FileLock& owner, const std::filesystem::path& run_dir) {
    return owner.names(owner_lock_file(run_dir));
}

void check_still_owner(const util::FileLock& owner, const std::filesystem::path& run_dir,
                       const std::string& run_id) {
    if (still_owner(owner, run_dir))
        return;
    throw OwnershipLost("run " + run_id + ": its lock file " + owner_lock_file(run_dir).string() +
                        " was deleted or replaced while this process (pid " +
                        std::to_string(::getpid()) +
                        ") owned the run, so another kakuren process may own it now; this one "
                        "stops without writing anything more. See `kakuren show " +
                        run_id + "`; never delete the lock file of a live run");
}

namespace {

bool heartbeat_stale(const db::OwnerProbe& p) {
    return p.heartbeat_ms == 0 ||
           util::now_ms() - p.heartbeat_ms > std::int64_t{k_heartbeat_stale_s} * 1000;
}

} // namespace

bool owner_alive(const db::OwnerProbe& p) {
    const bool here = p.host == util::hostname();
    const std::optional<bool> held =
        p.run_dir.empty() ? std::nullopt : util::FileLock::held(owner_lock_file(p.run_dir));
    if (held) {
        if (*held)
            return true;
        return !here && !heartbeat_stale(p);
    }
    // No lock file: an attempt started by a kakuren before locks (or its folder is gone).
    return !here || util::process_alive(p.pid, p.pid_start_ticks);
}

std::string owner_gone_reason(const db::OwnerProbe& p) {
    return "process " + std::to_string(p.pid) + " on " + p.host +
           " ended without recording an end (killed or crashed)";
}

std::vector<std::string> reap_dead_runs(db::Store& store) {
    return store.reap_dead_runs(&owner_alive, &owner_gone_reason);
}

Heartbeat::Heartbeat(const std::filesystem::path& db_file, std::string run_id, int attempt)
    : m_run_id(std::move(run_id)), m_attempt(attempt) {
    try {
        m_store.emplace(db::Store::open(db_file, false));
    } catch (const db::DbError&) {
        return; // the trainer's own checks report a missing database
    }
    m_thread = std::thread([this] { loop(); });
}

Heartbeat::~Heartbeat() {
    {
        const std::lock_guard<std::mutex> lock(m_mutex);
        m_stop = true;
    }
    m_wake.notify_all();
    if (m_thread.joinable()) {
        m_thread.join();
    }
}

void Heartbeat::loop() {
    std::unique_lock<std::mutex> lock(m_mutex);
    while (!m_stop) {
        lock.unlock();
        try {
            // Never through a new file at the same path: a deleted database is not recreated.
            m_store->check_same_file();
            m_store->heartbeat(m_run_id, m_attempt);
        } catch (const std::exception&) {
            // Busy for long, or gone: the next beat retries; the trainer reports a lost file.
        }
        lock.lock();
        m_wake.wait_for(lock, std::chrono::seconds(k_heartbeat_interval_s),
                        [this] { return m_stop; });
    }
}

} // namespace kakuren::launcher

// The attempts table: starting and ending attempts, heartbeats, and marking the runs whose owner
// vanished as crashed.
#include <sqlite3.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "db/run_paths.hpp"
#include "db/sql.hpp"
#include "db/store.hpp"
#include "util/system.hpp"

namespace kakuren::db {

using sql::Statement;
using sql::Transaction;

int Store::begin_attempt(const std::string& run_id, const std::string& host, std::int64_t pid,
                         std::int64_t pid_start_ticks) {
    return begin_attempt(run_id, host, pid, pid_start_ticks, AttemptPlace{});
}

int Store::begin_attempt(const std::string& run_id, const std::string& host, std::int64_t pid,
                         std::int64_t pid_start_ticks, const AttemptPlace& place) {
    const std::string what = "cannot start an attempt of run " + run_id;
    Transaction tx(m_db.get(), m_file, what);
    {
        Statement exists(m_db.get(), m_file, "SELECT 1 FROM runs WHERE id = ?1", what);
        exists.bind(1, run_id);
        if (!exists.step())
            throw DbError("database " + m_file.string() + ": no run with id " + run_id);
    }
    int attempt = 1;
    {
        Statement s(m_db.get(), m_file,
                    "SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE run_id = ?1", what);
        s.bind(1, run_id);
        if (s.step())
            attempt = s.int32(0);
    }
    const std::string now = util::iso8601_utc_now();
    {
        Statement s(m_db.get(), m_file,
                    "INSERT INTO attempts (run_id, attempt, host, pid, pid_start_ticks, "
                    "started_at, status, job_id, world_size, nodes) VALUES (?1, ?2, ?3, ?4, ?5, "
                    "?6, 'running', NULLIF(?7, ''), ?8, NULLIF(?9, ''))",
                    what);
        s.bind(1, run_id).bind(2, attempt).bind(3, host).bind(4, pid).bind(5, pid_start_ticks);
        s.bind(6, now).bind(7, place.job_id).bind(8, place.world_size).bind(9, place.nodes);
        s.run();
    }
    {
        // A resumed run is running again: its previous end no longer applies.
        Statement s(m_db.get(), m_file,
                    "UPDATE runs SET status = 'running', started_at = COALESCE(started_at, ?2), "
                    "ended_at = NULL, reason = NULL WHERE id = ?1",
                    what);
        s.bind(1, run_id).bind(2, now);
        s.run();
    }
    tx.commit();
    return attempt;
}

void Store::end_attempt(const std::string& run_id, int attempt, const std::string& status,
                        const std::string& reason) {
    const RunStatus run_status = run_status_from_string(status);
    if (!is_final_status(run_status))
        throw DbError("cannot end attempt " + std::to_string(attempt) + " of run " + run_id +
                      " with status '" + status +
                      "'; expected succeeded, finished, failed, interrupted or crashed");
    const std::string what = "cannot end attempt " + std::to_string(attempt) + " of run " + run_id;
    Transaction tx(m_db.get(), m_file, what);
    const std::string now = util::iso8601_utc_now();
    {
        Statement s(m_db.get(), m_file,
                    "UPDATE attempts SET ended_at = ?3, status = ?4, reason = ?5 "
                    "WHERE run_id = ?1 AND attempt = ?2",
                    what);
        s.bind(1, run_id).bind(2, attempt).bind(3, now).bind(4, status).bind_or_null(5, reason);
        s.run();
        if (sqlite3_changes(m_db.get()) != 1)
            throw DbError("database " + m_file.string() + ": run " + run_id + " has no attempt " +
                          std::to_string(attempt));
    }
    {
        Statement s(m_db.get(), m_file,
                    "UPDATE runs SET status = ?2, ended_at = ?3, reason = ?4 WHERE id = ?1", what);
        s.bind(1, run_id).bind(2, status).bind(3, now).bind_or_null(4, reason);
        s.run();
    }
    tx.commit();
}

std::vector<AttemptRow> Store::attempts(const std::string& run_id) const {
    Statement s(m_db.get(), m_file,
                "SELECT run_id, attempt, host, pid, pid_start_ticks, started_at, ended_at, "
                "status, reason, job_id, world_size, nodes, heartbeat_ms FROM attempts "
                "WHERE run_id = ?1 ORDER BY attempt",
                "cannot list the attempts of run " + run_id);
    s.bind(1, run_id);
    std::vector<AttemptRow> rows;
    while (s.step()) {
        AttemptRow a;
        a.run_id = s.text(0);
        a.attempt = s.int32(1);
        a.host = s.text(2);
        a.pid = s.int64(3);
        a.pid_start_ticks = s.int64(4);
        a.started_at = s.text(5);
        a.ended_at = s.text(6);
        a.status = s.text(7);
        a.reason = s.text(8);
        a.job_id = s.text(9);
        a.world_size = s.int32(10);
        a.nodes = s.text(11);
        a.heartbeat_ms = s.int64(12);
        rows.push_back(std::move(a));
    }
    return rows;
}

std::vector<std::string> Store::reap_dead_runs(const std::string& host,
                                               bool (*is_alive)(std::int64_t, std::int64_t)) {
    if (is_alive == nullptr)
        is_alive = &util::process_alive;
    return reap_dead_runs(
        [&](const OwnerProbe& p) { return p.host != host || is_alive(p.pid, p.pid_start_ticks); },
        [](const OwnerProbe& p) {
            return "process " + std::to_string(p.pid) + " on " + p.host +
                   " ended without recording an end (killed or crashed)";
        });
}

std::vector<std::string>
Store::reap_dead_runs(const std::function<bool(const OwnerProbe&)>& is_alive,
                      const std::function<std::string(const OwnerProbe&)>& reason_for) {
    std::vector<OwnerProbe> dead;
    {
        Statement s(m_db.get(), m_file,
                    "SELECT a.run_id, r.run_dir, a.attempt, a.host, a.pid, a.pid_start_ticks, "
                    "COALESCE(a.heartbeat_ms, 0) FROM attempts a JOIN runs r ON r.id = a.run_id "
                    "WHERE a.status = 'running' ORDER BY a.run_id, a.attempt",
                    "cannot look for crashed runs");
        while (s.step()) {
            OwnerProbe p;
            p.run_id = s.text(0);
            p.run_dir = resolved_run_dir(m_file, s.text(1), p.run_id);
            p.attempt = s.int32(2);
            p.host = s.text(3);
            p.pid = s.int64(4);
            p.pid_start_ticks = s.int64(5);
            p.heartbeat_ms = s.int64(6);
            if (!is_alive(p))
                dead.push_back(std::move(p));
        }
    }
    std::vector<std::string> reaped;
    if (dead.empty())
        return reaped;
    Transaction tx(m_db.get(), m_file, "cannot mark crashed runs");
    const std::string now = util::iso8601_utc_now();
    for (const OwnerProbe& c : dead) {
        const std::string reason = reason_for(c);
        const std::string what = "cannot mark run " + c.run_id + " as crashed";
        {
            // status = 'running' again: the process may have ended properly meanwhile.
            Statement s(m_db.get(), m_file,
                        "UPDATE attempts SET status = 'crashed', ended_at = ?3, reason = ?4 "
                        "WHERE run_id = ?1 AND attempt = ?2 AND status = 'running'",
                        what);
            s.bind(1, c.run_id).bind(2, c.attempt).bind(3, now).bind(4, reason);
            s.run();
            if (sqlite3_changes(m_db.get()) == 0)
                continue;
        }
        // The run follows only its latest attempt (an older stale attempt says nothing about a
        // newer one that may be running).
        Statement s(m_db.get(), m_file,
                    "UPDATE runs SET status = 'crashed', ended_at = ?3, reason = ?4 "
                    "WHERE id = ?1 AND status = 'running' AND "
                    "?2 = (SELECT MAX(attempt) FROM attempts WHERE run_id = ?1)",
                    what);
        s.bind(1, c.run_id).bind(2, c.attempt).bind(3, now).bind(4, reason);
        s.run();
        if (sqlite3_changes(m_db.get()) == 1)
            reaped.push_back(c.run_id);
    }
    tx.commit();
    return reaped;
}

void Store::heartbeat(const std::string& run_id, int attempt) {
    Statement s(m_db.get(), m_file,
                "UPDATE attempts SET heartbeat_ms = ?3 WHERE run_id = ?1 AND attempt = ?2 AND "
                "status = 'running'",
                "cannot record the heartbeat of run " + run_id);
    s.bind(1, run_id).bind(2, attempt).bind(3, util::now_ms());
    s.run();
}

} // namespace kakuren::db

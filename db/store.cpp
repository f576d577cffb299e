#include "db/store.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <system_error>
#include <utility>

#include "db/run_paths.hpp"
#include "db/schema.hpp"
#include "db/sql.hpp"
#include "util/metrics.hpp"
#include "util/system.hpp"

namespace kakuren::db {

using sql::exec;
using sql::hint_for;
using sql::Statement;
using sql::Transaction;

namespace {

constexpr int k_busy_timeout_ms = 10'000;

bool is_final_status(RunStatus s) {
    return s != RunStatus::created && s != RunStatus::running;
}

constexpr std::string_view k_run_columns =
    "id, name, recipe_path, recipe_text, recipe_hash, strategy, fraction, seed, num_samples, "
    "num_epochs, status, created_at, started_at, ended_at, run_dir, reason, epochs_done, "
    "final_accuracy, best_accuracy, mean_realised_fraction, sweep, "
    // Schema 5: the metric, and the best of a lower-is-better metric (MAE).
    "(SELECT metric FROM runs WHERE runs.id = run_summary.id), "
    "(SELECT MIN(e.test_accuracy) FROM epochs e WHERE e.run_id = run_summary.id "
    "AND typeof(e.test_accuracy) <> 'text')"; // schema 6: finite values only

RunRow read_run(const Statement& s) {
    RunRow r;
    r.id = s.text(0);
    r.name = s.text(1);
    r.recipe_path = s.text(2);
    r.recipe_text = s.text(3);
    r.recipe_hash = s.text(4);
    r.strategy = s.text(5);
    r.fraction = s.real(6);
    r.seed = s.int64(7);
    r.num_samples = s.int64(8);
    r.num_epochs = s.int32(9);
    r.status = run_status_from_string(s.text(10));
    r.created_at = s.text(11);
    r.started_at = s.text(12);
    r.ended_at = s.text(13);
    r.run_dir = s.text(14);
    r.reason = s.text(15);
    r.epochs_done = s.int64(16);
    r.final_accuracy = s.optional_real(17);
    r.best_accuracy = s.optional_real(18);
    r.mean_realised_fraction = s.real(19);
    r.sweep = s.text(20);
    if (const std::string metric = s.text(21); !metric.empty()) {
        r.metric = metric;
    }
    if (util::metrics::lower_is_better(r.metric)) {
        r.best_accuracy = s.optional_real(22);
    }
    return r;
}

constexpr std::string_view k_job_columns =
    "run_id, submission, backend, job_id, host, state, reason, requeues, submitted_at, "
    "ended_at, script";

JobRow read_job(const Statement& s) {
    JobRow j;
    j.run_id = s.text(0);
    j.submission = s.int32(1);
    j.backend = s.text(2);
    j.job_id = s.text(3);
    j.host = s.text(4);
    j.state = s.text(5);
    j.reason = s.text(6);
    j.requeues = s.int32(7);
    j.submitted_at = s.text(8);
    j.ended_at = s.text(9);
    j.script = s.text(10);
    return j;
}

} // namespace

std::string to_string(RunStatus s) {
    switch (s) {
    case RunStatus::created:
        return "created";
    case RunStatus::running:
        return "running";
    case RunStatus::succeeded:
        return "succeeded";
    case RunStatus::finished:
        return "finished";
    case RunStatus::failed:
        return "failed";
    case RunStatus::interrupted:
        return "interrupted";
    case RunStatus::crashed:
        return "crashed";
    }
    return "unknown";
}

RunStatus run_status_from_string(const std::string& s) {
    for (const RunStatus status :
         {RunStatus::created, RunStatus::running, RunStatus::succeeded, RunStatus::finished,
          RunStatus::failed, RunStatus::interrupted, RunStatus::crashed})
        if (to_string(status) == s)
            return status;
    throw DbError("unknown run status '" + s +
                  "'; expected created, running, succeeded, finished, failed, interrupted or "
                  "crashed");
}

void Store::Closer::operator()(sqlite3* db) const {
    sqlite3_close_v2(db);
}

Store::Store(std::unique_ptr<sqlite3, Closer> db, std::filesystem::path file)
    : m_db(std::move(db)), m_file(std::move(file)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

int Store::latest_schema_version() {
    return static_cast<int>(k_migrations.size());
}

Store Store::open(const std::filesystem::path& file, bool create) {
    const std::string name = file.string();
    // The folder is the workspace: created (or refused) by whoever chose it, never here.
    if (file.has_parent_path() && !std::filesystem::is_directory(file.parent_path()))
        throw DbError("database " + name + ": its folder " + file.parent_path().string() +
                      " does not exist (or is not a folder)");
    // A file marked read-only is refused even where the OS would let us write (root): the
    // user said "do not change this", and SQLite would otherwise write to it regardless.
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        (st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) == 0)
        throw DbError("database " + name +
                      ": the file is read-only; kakuren records runs in it: make it writable "
                      "(chmod u+w " +
                      name + ") or use another workspace");

    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(
        name.c_str(), &raw, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), nullptr);
    std::unique_ptr<sqlite3, Closer> db(raw); // closed even when opening failed
    if (rc != SQLITE_OK)
        throw DbError("database " + name + ": cannot open: " +
                      (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)) + hint_for(rc));
    sqlite3_extended_result_codes(db.get(), 1);
    if (sqlite3_db_readonly(db.get(), "main") == 1)
        throw DbError("database " + name +
                      ": opened read-only (no write permission); kakuren records runs in it: "
                      "make the file and its folder writable or use another workspace");
    if (const int busy_rc = sqlite3_busy_timeout(db.get(), k_busy_timeout_ms); busy_rc != SQLITE_OK)
        throw DbError("database " + name +
                      ": cannot set the busy timeout: " + sqlite3_errmsg(db.get()));

    // WAL: readers (kakuren list/show) never block the training process, nor it them.
    exec(db.get(), file, "PRAGMA journal_mode = WAL", "cannot switch to WAL mode");
    exec(db.get(), file, "PRAGMA foreign_keys = ON", "cannot enable foreign keys");
    exec(db.get(), file, "PRAGMA synchronous = NORMAL", "cannot set synchronous mode");

    Store store(std::move(db), file);
    if (::stat(file.c_str(), &st) != 0)
        throw DbError("database " + name + ": vanished while it was opened");
    store.m_dev = static_cast<std::uint64_t>(st.st_dev);
    store.m_ino = static_cast<std::uint64_t>(st.st_ino);
    const int latest = latest_schema_version();
    int version = store.schema_version();
    if (version > latest)
        throw DbError("database " + name + " was written by a newer kakuren (schema version " +
                      std::to_string(version) + "; this kakuren knows up to " +
                      std::to_string(latest) + "): upgrade kakuren, or use another workspace");
    while (version < latest) {
        Transaction tx(store.m_db.get(), store.m_file,
                       "migrating to schema version " + std::to_string(version + 1));
        // Another process may have migrated between our read and the write lock.
        version = store.schema_version();
        if (version >= latest)
            break;
        const std::string what = "migrating to schema version " + std::to_string(version + 1);
        exec(store.m_db.get(), file, k_migrations[static_cast<std::size_t>(version)], what);
        exec(store.m_db.get(), file, "PRAGMA user_version = " + std::to_string(version + 1), what);
        tx.commit();
        ++version;
    }
    return store;
}

int Store::schema_version() const {
    Statement s(m_db.get(), m_file, "PRAGMA user_version", "cannot read the schema version");
    return s.step() ? s.int32(0) : 0;
}

void Store::insert_run(const RunRow& run) {
    Transaction tx(m_db.get(), m_file, "cannot insert run " + run.id);
    {
        Statement exists(m_db.get(), m_file, "SELECT 1 FROM runs WHERE id = ?1",
                         "cannot look up run " + run.id);
        exists.bind(1, run.id);
        if (exists.step())
            throw DbError("database " + m_file.string() + ": a run with id " + run.id +
                          " already exists");
    }
    Statement s(m_db.get(), m_file,
                "INSERT INTO runs (id, name, recipe_path, recipe_text, recipe_hash, strategy, "
                "fraction, seed, num_samples, num_epochs, status, created_at, started_at, "
                "ended_at, run_dir, reason, metric) VALUES "
                "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                "cannot insert run " + run.id);
    const std::string status = to_string(run.status);
    const std::string created_at =
        run.created_at.empty() ? util::iso8601_utc_now() : run.created_at;
    const std::string run_dir = stored_run_dir(m_file, run.run_dir); // bound, so kept alive
    s.bind(1, run.id)
        .bind(2, run.name)
        .bind(3, run.recipe_path)
        .bind(4, run.recipe_text)
        .bind(5, run.recipe_hash)
        .bind(6, run.strategy)
        .bind(7, run.fraction)
        .bind(8, run.seed)
        .bind(9, run.num_samples)
        .bind(10, run.num_epochs)
        .bind(11, status)
        .bind(12, created_at)
        .bind_or_null(13, run.started_at)
        .bind_or_null(14, run.ended_at)
        .bind(15, run_dir)
        .bind_or_null(16, run.reason)
        .bind(17, run.metric);
    s.run();
    tx.commit();
}

void Store::set_run_status(const std::string& run_id, RunStatus status, const std::string& reason) {
    const std::string what = "cannot set the status of run " + run_id;
    Transaction tx(m_db.get(), m_file, what);
    Statement s(m_db.get(), m_file,
                "UPDATE runs SET status = ?2, reason = ?3, "
                "started_at = CASE WHEN ?2 = 'running' THEN COALESCE(started_at, ?4) "
                "ELSE started_at END, "
                "ended_at = CASE WHEN ?5 THEN ?4 ELSE ended_at END "
                "WHERE id = ?1",
                what);
    const std::string status_text = to_string(status);
    const std::string now = util::iso8601_utc_now();
    s.bind(1, run_id)
        .bind(2, status_text)
        .bind_or_null(3, reason)
        .bind(4, now)
        .bind(5, static_cast<int>(is_final_status(status)));
    s.run();
    if (sqlite3_changes(m_db.get()) != 1)
        throw DbError("database " + m_file.string() + ": no run with id " + run_id);
    tx.commit();
}

void Store::set_run_num_samples(const std::string& run_id, std::int64_t num_samples) {
    const std::string what = "cannot set the sample count of run " + run_id;
    Statement s(m_db.get(), m_file, "UPDATE runs SET num_samples = ?2 WHERE id = ?1", what);
    s.bind(1, run_id).bind(2, num_samples);
    s.run();
    if (sqlite3_changes(m_db.get()) != 1)
        throw DbError("database " + m_file.string() + ": no run with id " + run_id);
}

std::optional<RunRow> Store::find_run(const std::string& id_or_prefix) const {
    if (id_or_prefix.empty())
        return std::nullopt;
    const std::string what = "cannot look up run " + id_or_prefix;
    {
        Statement s(m_db.get(), m_file,
                    "SELECT " + std::string(k_run_columns) + " FROM run_summary WHERE id = ?1",
                    what);
        s.bind(1, id_or_prefix);
        if (s.step())
            return with_run_dir(read_run(s));
    }
    // substr/length count characters on both sides; ids are ASCII anyway.
    Statement s(m_db.get(), m_file,
                "SELECT " + std::string(k_run_columns) +
                    " FROM run_summary WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id",
                what);
    s.bind(1, id_or_prefix);
    std::vector<RunRow> matches;
    while (s.step())
        matches.push_back(with_run_dir(read_run(s)));
    if (matches.empty())
        return std::nullopt;
    if (matches.size() == 1)
        return std::move(matches.front());
    std::string listed;
    for (std::size_t i = 0; i < matches.size() && i < 5; ++i)
        listed += (i ? ", " : "") + matches[i].id;
    if (matches.size() > 5)
        listed += " and " + std::to_string(matches.size() - 5) + " more";
    throw AmbiguousRun("run id prefix '" + id_or_prefix + "' is ambiguous: it matches " + listed +
                       "; give more characters of the id");
}

RunRow Store::with_run_dir(RunRow row) const {
    row.run_dir = resolved_run_dir(m_file, row.run_dir, row.id);
    return row;
}

std::vector<RunRow> Store::list_runs() const {
    Statement s(m_db.get(), m_file,
                "SELECT " + std::string(k_run_columns) +
                    " FROM run_summary ORDER BY created_at DESC, id DESC",
                "cannot list runs");
    std::vector<RunRow> runs;
    while (s.step())
        runs.push_back(with_run_dir(read_run(s)));
    return runs;
}

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

bool is_final_job_state(const std::string& state) {
    return state == "completed" || state == "failed" || state == "cancelled";
}

int Store::insert_job(const JobRow& job) {
    const std::string what = "cannot record a job of run " + job.run_id;
    Transaction tx(m_db.get(), m_file, what);
    int submission = job.submission;
    if (submission == 0) {
        Statement s(m_db.get(), m_file,
                    "SELECT COALESCE(MAX(submission), 0) + 1 FROM jobs WHERE run_id = ?1", what);
        s.bind(1, job.run_id);
        if (s.step())
            submission = s.int32(0);
    }
    Statement s(m_db.get(), m_file,
                "INSERT INTO jobs (run_id, submission, backend, job_id, host, state, reason, "
                "requeues, submitted_at, ended_at, script) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                "NULLIF(?7, ''), ?8, ?9, NULLIF(?10, ''), ?11)",
                what);
    s.bind(1, job.run_id).bind(2, submission).bind(3, job.backend).bind(4, job.job_id);
    // bind keeps pointers to the text: the values must outlive the statement's run.
    const std::string state = job.state.empty() ? std::string("pending") : job.state;
    const std::string submitted_at =
        job.submitted_at.empty() ? util::iso8601_utc_now() : job.submitted_at;
    s.bind(5, job.host).bind(6, state);
    s.bind(7, job.reason).bind(8, job.requeues);
    s.bind(9, submitted_at);
    s.bind(10, job.ended_at).bind(11, job.script);
    s.run();
    tx.commit();
    return submission;
}

void Store::set_job_id(const std::string& run_id, int submission, const std::string& job_id) {
    Statement s(m_db.get(), m_file,
                "UPDATE jobs SET job_id = ?3 WHERE run_id = ?1 AND submission = ?2",
                "cannot record the job id of run " + run_id);
    s.bind(1, run_id).bind(2, submission).bind(3, job_id);
    s.run();
}

bool Store::set_job_state(const std::string& run_id, int submission, const std::string& state,
                          const std::string& reason) {
    Statement s(m_db.get(), m_file,
                "UPDATE jobs SET state = ?3, reason = CASE WHEN ?3 = 'completed' AND ?4 = '' THEN "
                "NULL ELSE COALESCE(NULLIF(?4, ''), reason) END, "
                "ended_at = CASE WHEN ?3 IN ('completed', 'failed', 'cancelled') THEN ?5 "
                "ELSE NULL END WHERE run_id = ?1 AND submission = ?2 AND state NOT IN "
                "('completed', 'failed', 'cancelled') AND (state != ?3 OR ?4 != '')",
                "cannot record the state of a job of run " + run_id);
    const std::string now = util::iso8601_utc_now();
    s.bind(1, run_id).bind(2, submission).bind(3, state).bind(4, reason);
    s.bind(5, now);
    s.run();
    return sqlite3_changes(m_db.get()) > 0;
}

bool Store::restart_job(const std::string& run_id, int submission) {
    Statement s(m_db.get(), m_file,
                "UPDATE jobs SET state = 'running', ended_at = NULL WHERE run_id = ?1 AND "
                "submission = ?2 AND state != 'cancelled'",
                "cannot record the restart of a job of run " + run_id);
    s.bind(1, run_id).bind(2, submission);
    s.run();
    return sqlite3_changes(m_db.get()) > 0;
}

void Store::count_requeue(const std::string& run_id, int submission, const std::string& reason) {
    Statement s(m_db.get(), m_file,
                "UPDATE jobs SET state = 'requeued', requeues = requeues + 1, reason = ?3 "
                "WHERE run_id = ?1 AND submission = ?2",
                "cannot record a requeue of run " + run_id);
    s.bind(1, run_id).bind(2, submission).bind(3, reason);
    s.run();
}

std::vector<JobRow> Store::jobs(const std::string& run_id) const {
    Statement s(m_db.get(), m_file,
                "SELECT " + std::string(k_job_columns) +
                    " FROM jobs WHERE run_id = ?1 ORDER BY submission",
                "cannot list the jobs of run " + run_id);
    s.bind(1, run_id);
    std::vector<JobRow> rows;
    while (s.step())
        rows.push_back(read_job(s));
    return rows;
}

std::vector<JobRow> Store::latest_jobs() const {
    Statement s(m_db.get(), m_file,
                "SELECT " + std::string(k_job_columns) +
                    " FROM jobs j WHERE submission = (SELECT MAX(submission) FROM jobs k "
                    "WHERE k.run_id = j.run_id) ORDER BY run_id",
                "cannot list jobs");
    std::vector<JobRow> rows;
    while (s.step())
        rows.push_back(read_job(s));
    return rows;
}

void Store::set_run_sweep(const std::string& run_id, const std::string& sweep) {
    Statement s(m_db.get(), m_file, "UPDATE runs SET sweep = NULLIF(?2, '') WHERE id = ?1",
                "cannot record the sweep of run " + run_id);
    s.bind(1, run_id).bind(2, sweep);
    s.run();
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

void Store::check_same_file() const {
    struct stat st {};
    const bool present = ::stat(m_file.c_str(), &st) == 0;
    if (present && static_cast<std::uint64_t>(st.st_dev) == m_dev &&
        static_cast<std::uint64_t>(st.st_ino) == m_ino)
        return;
    throw DbReplaced("the database " + m_file.string() + " was " +
                     (present ? "replaced by another file" : "deleted") +
                     " while this process used it: nothing more is recorded (it would be lost). "
                     "Put the database back (or keep the new one) and continue the run with "
                     "kakuren resume, which starts from the newest checkpoint that database "
                     "records");
}

void Store::check_integrity() const {
    std::string problems;
    try {
        Statement s(m_db.get(), m_file, "PRAGMA quick_check(5)", "cannot check the database");
        while (s.step()) {
            const std::string line = s.text(0);
            if (line != "ok")
                problems += (problems.empty() ? "" : "; ") + line;
        }
    } catch (const DbError&) {
        problems = sqlite3_errmsg(m_db.get());
    }
    if (!problems.empty())
        throw DbError("database " + m_file.string() + " is damaged (" + problems +
                      "): restore it from a backup, or recover what SQLite can with "
                      "`sqlite3 " +
                      m_file.string() + " .recover | sqlite3 recovered.db`");
}

void Store::update_run_recipe(const std::string& run_id, const std::string& recipe_text,
                              const std::string& recipe_hash, int num_epochs) {
    const std::string what = "cannot update the recipe of run " + run_id;
    Statement s(m_db.get(), m_file,
                "UPDATE runs SET recipe_text = ?2, recipe_hash = ?3, num_epochs = ?4 WHERE id = ?1",
                what);
    s.bind(1, run_id).bind(2, recipe_text).bind(3, recipe_hash).bind(4, num_epochs);
    s.run();
    if (sqlite3_changes(m_db.get()) != 1)
        throw DbError("database " + m_file.string() + ": no run with id " + run_id);
}

} // namespace kakuren::db

// The jobs table: the scheduler jobs submitted for a run, their states and requeues.
#include <sqlite3.h>

#include <string>
#include <vector>

#include "db/sql.hpp"
#include "db/store.hpp"
#include "util/system.hpp"

namespace kakuren::db {

using sql::Statement;
using sql::Transaction;

namespace {

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

} // namespace kakuren::db

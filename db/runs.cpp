// The runs table: run status names, inserting, finding and listing runs, their status, sweep and
// recipe.
#include <sqlite3.h>

#include <string>
#include <utility>
#include <vector>

#include "db/run_paths.hpp"
#include "db/sql.hpp"
#include "db/store.hpp"
#include "util/metrics.hpp"
#include "util/system.hpp"

namespace kakuren::db {

using sql::Statement;
using sql::Transaction;

namespace {

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

bool is_final_status(RunStatus s) {
    return s != RunStatus::created && s != RunStatus::running;
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

void Store::set_run_sweep(const std::string& run_id, const std::string& sweep) {
    Statement s(m_db.get(), m_file, "UPDATE runs SET sweep = NULLIF(?2, '') WHERE id = ?1",
                "cannot record the sweep of run " + run_id);
    s.bind(1, run_id).bind(2, sweep);
    s.run();
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

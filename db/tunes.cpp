// kakuren tune's records (db/tunes.hpp).
#include "db/tunes.hpp"

#include <sstream>

#include "db/sql.hpp"
#include "util/strings.hpp"
#include "util/system.hpp"

namespace kakuren::db {
namespace {

constexpr const char* k_tune_columns = "id, recipe_path, recipe_text, budget, budget_epochs, "
                                       "budget_s, eta, rank_by, status, created_at, ended_at";

TuneRow tune_from(const sql::Statement& s) {
    TuneRow t;
    t.id = s.text(0);
    t.recipe_path = s.text(1);
    t.recipe_text = s.text(2);
    t.budget = s.text(3);
    t.budget_epochs = s.int32(4);
    t.budget_s = s.real(5);
    t.eta = s.int32(6);
    t.rank_by = s.text(7);
    t.status = s.text(8);
    t.created_at = s.text(9);
    t.ended_at = s.text(10);
    return t;
}

} // namespace

void insert_tune(Store& store, const TuneRow& tune, const std::vector<TuneTrialRow>& trials) {
    sql::Transaction tx(store.handle(), store.file(), "cannot record tune " + tune.id);
    const std::string created = tune.created_at.empty() ? util::iso8601_utc_now() : tune.created_at;
    sql::Statement s(store.handle(), store.file(),
                     std::string("INSERT INTO tunes (") + k_tune_columns +
                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL)",
                     "cannot record tune " + tune.id);
    s.bind(1, tune.id).bind(2, tune.recipe_path).bind(3, tune.recipe_text).bind(4, tune.budget);
    s.bind(5, tune.budget_epochs).bind(6, tune.budget_s).bind(7, tune.eta).bind(8, tune.rank_by);
    s.bind(9, tune.status).bind(10, created);
    s.run();
    for (const TuneTrialRow& t : trials) {
        const std::string overrides = util::join(t.overrides, "\n");
        sql::Statement ts(store.handle(), store.file(),
                          "INSERT INTO tune_trials (tune_id, candidate, label, overrides, run_id) "
                          "VALUES (?1, ?2, ?3, ?4, NULLIF(?5, ''))",
                          "cannot record the trials of tune " + tune.id);
        ts.bind(1, tune.id).bind(2, t.candidate).bind(3, t.label).bind(4, overrides);
        ts.bind(5, t.run_id);
        ts.run();
    }
    tx.commit();
}

std::optional<TuneRow> find_tune(const Store& store, const std::string& id_or_prefix) {
    if (id_or_prefix.empty()) {
        return std::nullopt;
    }
    sql::Statement s(store.handle(), store.file(),
                     std::string("SELECT ") + k_tune_columns +
                         " FROM tunes WHERE id = ?1 OR substr(id, 1, length(?1)) = ?1 "
                         "ORDER BY id = ?1 DESC, id LIMIT 6",
                     "cannot look up tune " + id_or_prefix);
    s.bind(1, id_or_prefix);
    std::vector<TuneRow> found;
    while (s.step()) {
        found.push_back(tune_from(s));
    }
    if (found.empty()) {
        return std::nullopt;
    }
    if (found.front().id == id_or_prefix || found.size() == 1) {
        return found.front();
    }
    std::string list;
    for (const TuneRow& t : found) {
        list += (list.empty() ? "" : ", ") + t.id;
    }
    throw AmbiguousRun("tune id prefix '" + id_or_prefix + "' matches several tunes: " + list +
                       "; give more of the id");
}

std::vector<TuneRow> list_tunes(const Store& store) {
    sql::Statement s(store.handle(), store.file(),
                     std::string("SELECT ") + k_tune_columns +
                         " FROM tunes ORDER BY created_at, id",
                     "cannot list the tunes");
    std::vector<TuneRow> out;
    while (s.step()) {
        out.push_back(tune_from(s));
    }
    return out;
}

std::vector<TuneTrialRow> tune_trials(const Store& store, const std::string& tune_id) {
    sql::Statement s(store.handle(), store.file(),
                     "SELECT candidate, label, overrides, run_id FROM tune_trials "
                     "WHERE tune_id = ?1 ORDER BY candidate",
                     "cannot read the trials of tune " + tune_id);
    s.bind(1, tune_id);
    std::vector<TuneTrialRow> out;
    while (s.step()) {
        out.push_back({s.int32(0), s.text(1), util::split_nonempty(s.text(2), '\n'), s.text(3)});
    }
    return out;
}

void set_trial_run(Store& store, const std::string& tune_id, int candidate,
                   const std::string& run_id) {
    sql::Statement s(store.handle(), store.file(),
                     "UPDATE tune_trials SET run_id = ?3 WHERE tune_id = ?1 AND candidate = ?2",
                     "cannot record the run of tune " + tune_id + "'s candidate " +
                         std::to_string(candidate));
    s.bind(1, tune_id).bind(2, candidate).bind(3, run_id);
    s.run();
}

std::vector<TuneRoundRow> tune_rounds(const Store& store, const std::string& tune_id) {
    sql::Statement s(store.handle(), store.file(),
                     "SELECT round, epochs, survivors FROM tune_rounds WHERE tune_id = ?1 "
                     "ORDER BY round",
                     "cannot read the rounds of tune " + tune_id);
    s.bind(1, tune_id);
    std::vector<TuneRoundRow> out;
    while (s.step()) {
        TuneRoundRow r{s.int32(0), s.int32(1), {}};
        for (const std::string& c : util::split_nonempty(s.text(2), ',')) {
            r.survivors.push_back(std::stoi(c));
        }
        out.push_back(std::move(r));
    }
    return out;
}

void insert_tune_round(Store& store, const std::string& tune_id, const TuneRoundRow& round) {
    std::string survivors;
    for (const int c : round.survivors) {
        survivors += (survivors.empty() ? "" : ",") + std::to_string(c);
    }
    sql::Statement s(store.handle(), store.file(),
                     "INSERT INTO tune_rounds (tune_id, round, epochs, survivors) "
                     "VALUES (?1, ?2, ?3, ?4)",
                     "cannot record round " + std::to_string(round.round) + " of tune " + tune_id);
    s.bind(1, tune_id).bind(2, round.round).bind(3, round.epochs).bind(4, survivors);
    s.run();
}

void set_tune_status(Store& store, const std::string& tune_id, const std::string& status) {
    const bool final = status != "running";
    sql::Statement s(store.handle(), store.file(),
                     "UPDATE tunes SET status = ?2, ended_at = ?3 WHERE id = ?1",
                     "cannot record the status of tune " + tune_id);
    const std::string now = util::iso8601_utc_now();
    s.bind(1, tune_id).bind(2, status);
    if (final) {
        s.bind(3, now);
    } else {
        s.bind_or_null(3, std::string());
    }
    s.run();
}

} // namespace kakuren::db

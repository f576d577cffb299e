#pragma once
// The records of `kakuren tune` (schema v6): a tune, its trials (one run per candidate) and its
// rounds of successive halving. Free functions on the Store (its own tables are its members).
#include <optional>
#include <string>
#include <vector>

#include "db/store.hpp"

namespace kakuren::db {

struct TuneRow {
    std::string id;
    std::string recipe_path; ///< absolute
    std::string recipe_text; ///< resolved, with the tune's --set applied
    std::string budget;      ///< as given: "24" or "2h"
    int budget_epochs = 0;   ///< 0 for a duration budget
    double budget_s = 0;     ///< 0 for an epoch budget
    int eta = 2;
    std::string rank_by = "time";     ///< time | work
    std::string status = "running";   ///< running | done | failed
    std::string created_at, ended_at; ///< ISO 8601 UTC; ended_at empty while running
};

struct TuneTrialRow {
    int candidate = 0;
    std::string label;
    std::vector<std::string> overrides; ///< "hiding.key=value"
    std::string run_id;                 ///< empty until created
};

struct TuneRoundRow {
    int round = 1;
    int epochs = 0;
    std::vector<int> survivors; ///< candidate numbers, best first
};

/// Records a new tune and its trials in one transaction (created_at empty = now). Throws DbError
/// when the id exists.
void insert_tune(Store& store, const TuneRow& tune, const std::vector<TuneTrialRow>& trials);
/// The tune with this exact id, else the one whose id starts with it; nullopt if none. Throws
/// AmbiguousRun when the prefix names several.
std::optional<TuneRow> find_tune(const Store& store, const std::string& id_or_prefix);
/// Every tune of the workspace, oldest first.
std::vector<TuneRow> list_tunes(const Store& store);
std::vector<TuneTrialRow> tune_trials(const Store& store, const std::string& tune_id);
/// Records the run that trains a candidate.
void set_trial_run(Store& store, const std::string& tune_id, int candidate,
                   const std::string& run_id);
std::vector<TuneRoundRow> tune_rounds(const Store& store, const std::string& tune_id);
/// Records a decided round (its survivors and epochs). Throws DbError when it exists.
void insert_tune_round(Store& store, const std::string& tune_id, const TuneRoundRow& round);
/// Sets the tune's status; done / failed also set ended_at.
void set_tune_status(Store& store, const std::string& tune_id, const std::string& status);

} // namespace kakuren::db

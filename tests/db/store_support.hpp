#pragma once
// What store_test.cpp and store_file_test.cpp share: rows and per-sample state to record, and
// the message of a refusal.
#include <cstdint>
#include <string>
#include <utility>

#include "db/store.hpp"
#include "support/errors.hpp"

namespace kakuren::db::store_support {

/// A run row (support/db_rows.hpp's run_row) with this id, created at `created_at`.
RunRow make_run(const std::string& id, const std::string& created_at = "2026-11-26T15:07:22.123Z");

/// An epoch row of run `run_id` with `hidden` of 10 samples hidden and fixed timings.
EpochRow make_epoch(const std::string& run_id, int epoch, double test_accuracy,
                    std::int64_t hidden);

/// The per-sample statistics of `n` samples (loss i / 4, every other one correct).
util::SampleStats make_state(std::int64_t n);

/// The message of the DbError that `f` throws, or "(no error)" when it throws none.
template <class F> std::string error_of(F&& f) {
    return testing::error_of<DbError>(std::forward<F>(f));
}

} // namespace kakuren::db::store_support

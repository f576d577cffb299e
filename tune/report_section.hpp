#pragma once
// kakuren report's section on tunes (report/tune_section.hpp), filled from the tune records:
// tune/ computes the projections, the ranking and the verdict, report/ draws them.
#include <vector>

#include "db/store.hpp"
#include "report/report.hpp"
#include "report/tune_section.hpp"
#include "tune/tune.hpp"

namespace kakuren::tune {

/// One tune's section: its ranked table, verdict, curves and rounds (which candidates each
/// round trained and which of them it dropped).
report::TuneSection section_of(const Outcome& outcome);

/// The sections of a report: every tune of the workspace when all, else the tunes whose trials
/// are among the report's selected runs (a trial's runs.sweep is its tune's id); oldest first.
/// A tune that cannot be evaluated (its stored recipe no longer parses) gets a section whose
/// heading says why, with no table. Throws DbError when the store cannot be read.
std::vector<report::TuneSection> report_sections(const db::Store& store,
                                                 const report::Report& report, bool all);

} // namespace kakuren::tune

#pragma once
// The report's output formats. Each takes a built Report and returns the whole text.
#include <string>

#include "report/report.hpp"
#include "util/json.hpp"

namespace kakuren::report {

/// Version of the JSON layout (docs/reports.md); raised when a field changes meaning or goes
/// away, not when one is added.
/// 2: `groups` lists every configuration with a completed run (1 seed included), each with its
/// headline `card`; in 1 only configurations with 2 or more seeds.
inline constexpr int k_json_version = 2;

/// Human-readable text: runs, time split, comparisons, seed groups, log checks; per-epoch detail
/// when the report covers at most k_detail_runs runs.
std::string render_table(const Report& report);
inline constexpr std::size_t k_detail_runs = 4;

/// The report as JSON (the layout documented in docs/reports.md).
util::Json to_json(const Report& report);
std::string render_json(const Report& report); ///< to_json, indented

/// One CSV row per run (header first); with --samples, one row per sample instead.
std::string render_csv(const Report& report);

/// One self-contained HTML page: tables and inline SVG plots, no network access needed.
std::string render_html(const Report& report);

} // namespace kakuren::report

#pragma once
// Selection of the runs a report covers (part of build_report, exposed for tests).
#include <vector>

#include "report/report.hpp"

namespace kakuren::report {

/// The runs request names, in the order named (a glob's and --all's oldest first); with nothing
/// named, the newest run. all: store.list_runs() (newest first). Throws UsageError for a
/// reference or glob that matches nothing, or an empty workspace.
std::vector<db::RunRow> select_runs(const db::Store& store, const Request& request,
                                    const std::vector<db::RunRow>& all);

} // namespace kakuren::report

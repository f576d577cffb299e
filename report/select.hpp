#pragma once
// Selection of the runs a report covers and of their baselines (parts of build_report).
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "report/report.hpp"

namespace kakuren::report {

/// The runs request names, in the order named (a glob's and --all's oldest first); with nothing
/// named, the newest run. all: store.list_runs() (newest first). Throws UsageError for a
/// reference or glob that matches nothing, or an empty workspace.
std::vector<db::RunRow> select_runs(const db::Store& store, const Request& request,
                                    const std::vector<db::RunRow>& all);

/// The baseline of each selected run: request.baseline for every run, else per hiding run the
/// strategy=none run of the same recipe apart from [hiding] (same seed, then completed, then the
/// newest wins). built: the selected runs' reports by id. Throws UsageError for a --baseline
/// that matches nothing.
struct Baselines {
    std::vector<std::pair<std::string, std::string>> pairs; ///< (run, baseline), in run order
    std::set<std::string> automatic;                        ///< runs whose baseline was found
    std::vector<std::string> notes; ///< runs without a baseline, a suspicious --baseline
};
Baselines find_baselines(const db::Store& store, const Request& request,
                         const std::vector<db::RunRow>& selected,
                         const std::map<std::string, RunReport>& built,
                         const std::vector<db::RunRow>& all);

} // namespace kakuren::report

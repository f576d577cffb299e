// Which runs a report covers: named ones, a glob over names, --all, else the newest.
#include "report/select.hpp"

#include <fnmatch.h>

#include <ranges>
#include <set>

namespace kakuren::report {

std::vector<db::RunRow> select_runs(const db::Store& store, const Request& request,
                                    const std::vector<db::RunRow>& all) {
    std::vector<db::RunRow> selected;
    std::set<std::string> chosen;
    auto choose = [&](const db::RunRow& r) {
        if (chosen.insert(r.id).second) {
            selected.push_back(r);
        }
    };
    for (const std::string& ref : request.runs) {
        const std::optional<db::RunRow> r = store.find_run(ref);
        if (!r) {
            throw UsageError("no run matches '" + ref + "'; 'kakuren runs' lists them");
        }
        choose(*r);
    }
    if (!request.name_pattern.empty()) {
        bool any = false;
        for (const db::RunRow& r : std::views::reverse(all)) { // oldest first
            if (fnmatch(request.name_pattern.c_str(), r.name.c_str(), 0) == 0 ||
                fnmatch(request.name_pattern.c_str(), r.id.c_str(), 0) == 0 ||
                (!r.sweep.empty() &&
                 fnmatch(request.name_pattern.c_str(), r.sweep.c_str(), 0) == 0)) {
                choose(r);
                any = true;
            }
        }
        if (!any) {
            throw UsageError("no run name matches '" + request.name_pattern +
                             "'; 'kakuren runs' lists them");
        }
    }
    if (request.all) {
        for (const db::RunRow& r : std::views::reverse(all)) {
            choose(r);
        }
    }
    if (request.runs.empty() && request.name_pattern.empty() && !request.all) {
        if (all.empty()) {
            throw UsageError("no runs in the workspace " + request.workspace +
                             "; 'kakuren run RECIPE' records one");
        }
        choose(all.front()); // nothing named: the newest run
    }

    return selected;
}

} // namespace kakuren::report

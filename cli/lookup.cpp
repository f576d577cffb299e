#include "cli/lookup.hpp"

#include <filesystem>

#include "launcher/ownership.hpp"
#include "util/error.hpp"
#include "util/system.hpp"

namespace kakuren::cli {

db::Store open_store(const launcher::Workspace& ws) {
    if (!std::filesystem::exists(ws.db_file)) {
        throw UsageError("no kakuren database in " + ws.root.string() +
                         ": give the workspace of the run with --workspace DIR or "
                         "$KAKUREN_WORKSPACE");
    }
    db::Store store = db::Store::open(ws.db_file);
    launcher::reap_dead_runs(store);
    return store;
}

db::RunRow require_run(const db::Store& store, const std::string& ref) {
    std::optional<db::RunRow> run = store.find_run(ref);
    if (!run) {
        throw UsageError("no run matches '" + ref + "'; 'kakuren runs' lists them");
    }
    return *run;
}

Located locate_run(const std::string& workspace_flag, const std::string& ref) {
    const launcher::Workspace first = launcher::resolve_workspace(workspace_flag);
    std::vector<launcher::Workspace> candidates{first};
    if (workspace_flag.empty()) {
        for (const launcher::Workspace& ws : launcher::remembered_workspaces()) {
            if (ws.root != first.root) {
                candidates.push_back(ws);
            }
        }
    }
    std::string looked;
    for (const launcher::Workspace& ws : candidates) {
        looked += (looked.empty() ? "" : ", ") + ws.root.string();
        if (!std::filesystem::exists(ws.db_file)) {
            continue;
        }
        db::Store store = db::Store::open(ws.db_file);
        launcher::reap_dead_runs(store);
        if (std::optional<db::RunRow> run = store.find_run(ref)) {
            return Located{ws, std::move(store), std::move(*run)};
        }
    }
    throw UsageError("no run matches '" + ref + "' in " + looked +
                     "; 'kakuren runs' lists a workspace's runs");
}

} // namespace kakuren::cli

#pragma once
// Finding a workspace's store and a run in it, shared by the commands that take a run id.
#include <optional>
#include <string>

#include "db/store.hpp"
#include "launcher/workspace.hpp"

namespace kakuren::cli {

/// Opens the workspace's store; UsageError when it has none. Marks runs whose process vanished
/// on this host as crashed first.
db::Store open_store(const launcher::Workspace& ws);

/// The run matching an id or unique prefix; UsageError when none does.
db::RunRow require_run(const db::Store& store, const std::string& ref);

/// A run found from any folder: in the given workspace (--workspace, $KAKUREN_WORKSPACE, the
/// current folder) first, then in the remembered ones (launcher::remember_workspace).
struct Located {
    launcher::Workspace ws;
    db::Store store;
    db::RunRow run;
};
/// Throws UsageError naming where it looked when no workspace has the run.
Located locate_run(const std::string& workspace_flag, const std::string& ref);

} // namespace kakuren::cli

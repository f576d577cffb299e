#pragma once
// Where a workspace keeps its records: the database and one folder per run.
#include <filesystem>
#include <string>
#include <vector>

namespace kakuren::launcher {

struct Workspace {
    std::filesystem::path root;     ///< absolute
    std::filesystem::path db_file;  ///< root/kakuren.db
    std::filesystem::path runs_dir; ///< root/runs
    /// Where root came from: --workspace (flag), $KAKUREN_WORKSPACE (env), the current folder.
    enum class Source { flag, env, cwd } source = Source::cwd;
    std::filesystem::path run_dir(const std::string& run_id) const { return runs_dir / run_id; }
};

/// Resolves the workspace: the --workspace value if non-empty, else $KAKUREN_WORKSPACE if set,
/// else the current directory. Does not create anything. Throws UsageError for a blank name
/// (" "), and for a $KAKUREN_WORKSPACE that is set but empty or blank. (An empty --workspace is
/// refused by the command line, cli/app.cpp: here it means the flag was not given.)
Workspace resolve_workspace(const std::string& flag_value);

/// Makes sure the workspace folder exists before a command records in it: a missing folder is
/// created (with its parents) only when --workspace named it, with a note on stderr; one named
/// by $KAKUREN_WORKSPACE must exist (a typo there would silently scatter runs). Throws
/// UsageError for that, and for a path that is not a folder.
void ensure_workspace(const Workspace& ws);

/// Adds the workspace to the user's list of workspaces ($XDG_STATE_HOME/kakuren/workspaces,
/// else ~/.local/state/kakuren/workspaces), so that commands given a run id find it from any
/// folder. Best effort: a list that cannot be written is skipped silently.
void remember_workspace(const Workspace& ws);

/// The remembered workspaces, most recently added first, without duplicates. Lines that name no
/// workspace that can be looked in (not absolute, a name too long, a file on the way) are
/// skipped: the list is best effort, and a damaged one must not stop a command.
std::vector<Workspace> remembered_workspaces();

/// A new run id: "<name>-<yyyymmdd>-<hhmmss>-<4 hex>" (name sanitised to [A-Za-z0-9_.-]).
std::string new_run_id(const std::string& name);

} // namespace kakuren::launcher

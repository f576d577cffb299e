#pragma once
// Running a program (the kakuren binary, a shell command) from a test, its output in files.
#include <sys/resource.h>
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kakuren::testing {

/// What ran: exit code (128 + signal when killed), stdout and stderr.
struct Output {
    int code = -1;
    std::string out, err;
};

/// A program to start.
struct Command {
    std::vector<std::string> argv;         ///< argv[0] is the program's path
    std::vector<std::string> env;          ///< NAME=value added to this process's environment
    std::filesystem::path cwd;             ///< empty: this process's
    std::optional<rlim_t> file_size_limit; ///< RLIMIT_FSIZE in bytes, with SIGXFSZ ignored
};

/// Starts the command with stdin from /dev/null and stdout / stderr into the two files
/// (truncated); returns its pid. Throws std::runtime_error when it cannot fork.
pid_t start(const Command& command, const std::filesystem::path& out_file,
            const std::filesystem::path& err_file);

/// Waits for a child started by start(); its exit code, or 128 + the signal that killed it.
int wait_exit(pid_t pid);

/// Runs the command to its end; the output files are written into scratch_dir.
Output run(const Command& command, const std::filesystem::path& scratch_dir);

/// Runs a /bin/sh command line to its end (quoting is the caller's); the output files are
/// written into scratch_dir.
Output run_shell(const std::string& command_line, const std::filesystem::path& scratch_dir);

/// The command line word for text in single quotes (for run_shell).
std::string quoted(const std::string& text);

} // namespace kakuren::testing

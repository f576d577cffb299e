#include "support/process.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "support/files.hpp"

extern char** environ;

namespace kakuren::testing {

namespace fs = std::filesystem;

pid_t start(const Command& command, const fs::path& out_file, const fs::path& err_file) {
    // Everything the child needs is prepared before the fork (no allocation after it).
    std::vector<std::string> argv = command.argv;
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (std::string& arg : argv) {
        args.push_back(arg.data());
    }
    args.push_back(nullptr);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry = *e;
        const std::string name = entry.substr(0, entry.find('=') + 1);
        bool replaced = false;
        for (const std::string& added : command.env) {
            replaced = replaced || added.starts_with(name);
        }
        if (!replaced) {
            env.push_back(entry);
        }
    }
    env.insert(env.end(), command.env.begin(), command.env.end());
    std::vector<char*> envp;
    envp.reserve(env.size() + 1);
    for (std::string& e : env) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);
    const std::string cwd = command.cwd.string();
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::runtime_error(std::string("cannot fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
            ::_exit(126);
        }
        const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int in = ::open("/dev/null", O_RDONLY);
        if (out < 0 || err < 0 || in < 0) {
            ::_exit(126);
        }
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::dup2(in, 0);
        if (command.file_size_limit) {
            std::signal(SIGXFSZ, SIG_IGN);
            const rlimit limit{*command.file_size_limit, *command.file_size_limit};
            ::setrlimit(RLIMIT_FSIZE, &limit);
        }
        ::execve(args[0], args.data(), envp.data());
        ::_exit(127);
    }
    return pid;
}

int wait_exit(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Output run(const Command& command, const fs::path& scratch_dir) {
    const fs::path out = scratch_dir / "stdout.txt", err = scratch_dir / "stderr.txt";
    Output o;
    o.code = wait_exit(start(command, out, err));
    o.out = slurp(out);
    o.err = slurp(err);
    return o;
}

Output run_shell(const std::string& command_line, const fs::path& scratch_dir) {
    return run(Command{{"/bin/sh", "-c", command_line}, {}, {}, {}}, scratch_dir);
}

std::string quoted(const std::string& text) {
    std::string word = "'";
    for (const char c : text) {
        word += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return word + "'";
}

} // namespace kakuren::testing

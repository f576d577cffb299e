#include "launcher/job_script.hpp"

#include <sstream>

#include "util/assert.hpp"

namespace kakuren::launcher {

std::string shell_quote(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

namespace {

std::string time_text(int minutes) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%d-%02d:%02d:00", minutes / 1440, (minutes / 60) % 24,
                  minutes % 60);
    return buffer;
}

/// One #SBATCH line; the option and value as one quoted word when the value needs it.
void directive(std::ostringstream& out, const std::string& option, const std::string& value) {
    const std::string word = value.empty() ? option : option + "=" + value;
    const bool plain = word.find_first_of(" \t\n'\"$`\\;&|<>()*?[]!#~") == std::string::npos;
    out << "#SBATCH " << (plain ? word : shell_quote(word)) << "\n";
}

/// What run.threads means for this request, said where the user reads the request.
void threads_comment(std::ostringstream& out, const ScriptSpec& spec) {
    if (spec.threads > 0) {
        out << "# run.threads = " << spec.threads << ": each rank runs " << spec.threads
            << " threads on its " << spec.cpus_per_task << " CPUs.\n";
    } else if (spec.cpus_per_task > 0) {
        out << "# run.threads = 0: each rank runs one thread per CPU of its task ("
            << spec.cpus_per_task << ", SLURM_CPUS_PER_TASK).\n";
    } else {
        out << "# run.threads = 0 and no slurm.cpus_per_task: each rank runs one thread per CPU\n"
            << "# the job gets on its node, shared by its ranks there (SLURM_CPUS_ON_NODE /\n"
            << "# SLURM_NTASKS_PER_NODE). Ask for more with slurm.cpus_per_task or\n"
            << "# slurm.extra = \"--exclusive\" (whole nodes).\n";
    }
}

/// The #SBATCH lines: resources, the requeue signal, the array and slurm.extra's options.
void sbatch_directives(std::ostringstream& out, const ScriptSpec& spec, bool array) {
    directive(out, "--job-name", spec.job_name);
    directive(out, "--nodes", std::to_string(spec.nodes));
    directive(out, "--ntasks-per-node", std::to_string(spec.ntasks_per_node));
    if (spec.cpus_per_task > 0) {
        directive(out, "--cpus-per-task", std::to_string(spec.cpus_per_task));
    }
    if (spec.gpus_per_node > 0) {
        directive(out, "--gpus-per-node", std::to_string(spec.gpus_per_node));
    }
    if (!spec.partition.empty()) {
        directive(out, "--partition", spec.partition);
    }
    if (!spec.account.empty()) {
        directive(out, "--account", spec.account);
    }
    if (!spec.qos.empty()) {
        directive(out, "--qos", spec.qos);
    }
    if (!spec.constraint.empty()) {
        directive(out, "--constraint", spec.constraint);
    }
    if (!spec.memory.empty()) {
        directive(out, "--mem", spec.memory);
    }
    if (spec.time_limit_min > 0) {
        directive(out, "--time", time_text(spec.time_limit_min));
    }
    if (spec.signal_grace_s > 0) {
        directive(out, "--signal", "B:USR1@" + std::to_string(spec.signal_grace_s));
    }
    if (array) {
        directive(out, "--array",
                  "0-" + std::to_string(spec.run_ids.size() - 1) +
                      (spec.array_parallel > 0 ? "%" + std::to_string(spec.array_parallel) : ""));
    }
    directive(out, "--requeue", "");
    directive(out, "--open-mode", "append");
    directive(out, "--output", spec.output);
    std::istringstream extra(spec.extra);
    for (std::string word; extra >> word;) {
        const std::size_t eq = word.find('=');
        directive(out, word.substr(0, eq), eq == std::string::npos ? "" : word.substr(eq + 1));
    }
}

/// Sets run_id and run_dir: the one run, or the array task's run picked by a case.
void run_selection(std::ostringstream& out, const ScriptSpec& spec, bool array) {
    if (array) {
        out << "case \"${SLURM_ARRAY_TASK_ID:-}\" in\n";
        for (std::size_t i = 0; i < spec.run_ids.size(); ++i) {
            out << "    " << i << ") run_id=" << shell_quote(spec.run_ids[i])
                << " run_dir=" << shell_quote(spec.run_dirs[i]) << " ;;\n";
        }
        out << "    *) echo \"kakuren: array task '${SLURM_ARRAY_TASK_ID:-}' has no run\" >&2; "
               "exit 2 ;;\n"
            << "esac\n";
    } else {
        out << "run_id=" << shell_quote(spec.run_ids.front()) << "\n"
            << "run_dir=" << shell_quote(spec.run_dirs.front()) << "\n";
    }
}

/// The recipe's slurm.setup lines, verbatim, with set -u off around them.
void setup_lines(std::ostringstream& out, const ScriptSpec& spec) {
    if (!spec.setup.empty()) {
        // set +u: module and activate scripts often read unset variables.
        out << "\n# slurm.setup, as written in the recipe (your shell, run before the ranks):\n"
            << "set +u\n";
        for (const std::string& line : spec.setup) {
            out << line << "\n";
        }
        out << "set -u\n\n";
    }
}

/// Starts the ranks (srun under Slurm, --local-ranks outside), passes signals on to them and
/// exits with their exit code.
void rank_launch(std::ostringstream& out, const ScriptSpec& spec) {
    out << "mkdir -p \"$run_dir/logs\"\n"
        << "echo \"$(date -u +%FT%TZ) kakuren job ${SLURM_JOB_ID:-local} (restart "
           "${SLURM_RESTART_COUNT:-0}) on $(hostname): run $run_id\"\n"
        << "\n"
        << "# The warning signal (--signal=B:USR1) and TERM reach only this shell: pass them on.\n"
        << "# The ranks agree on a step, checkpoint there, and the job requeues itself.\n"
        << "child=0\n"
        << "forward() { if [ \"$child\" -gt 0 ]; then kill -s \"$1\" \"$child\" 2>/dev/null; fi; "
           "}\n"
        << "trap 'forward USR1' USR1\n"
        << "trap 'forward TERM' TERM\n"
        << "trap 'forward INT' INT\n"
        << "if [ -n \"${SLURM_JOB_ID:-}\" ]; then\n"
        << "    srun --kill-on-bad-exit=1 --output=\"$run_dir/logs/rank-%t.log\" "
           "--open-mode=append \"$kakuren\" job \"$run_id\" &\n"
        << "else\n"
        << R"(    "$kakuren" job "$run_id" --local-ranks )" << spec.nodes * spec.ntasks_per_node
        << " &\n"
        << "fi\n"
        << "child=$!\n"
        << "status=0\n"
        << "while true; do\n"
        << "    wait \"$child\"\n"
        << "    status=$?\n"
        << "    kill -0 \"$child\" 2>/dev/null || break  # a trapped signal ended the wait\n"
        << "done\n"
        << "wait \"$child\" 2>/dev/null; status=$?  # the child's own exit code\n"
        << "echo \"$(date -u +%FT%TZ) kakuren job ranks ended with exit code $status\"\n"
        << "exit \"$status\"\n";
}

} // namespace

std::string job_script(const ScriptSpec& spec) {
    KAKUREN_ASSERT(!spec.run_ids.empty() && spec.run_ids.size() == spec.run_dirs.size(),
                   "job_script: one run folder per run id is needed");
    const bool array = spec.run_ids.size() > 1;
    std::ostringstream out;
    out << "#!/bin/bash\n"
        << "# kakuren job script, written by kakuren submit. Edit the recipe, not this file.\n"
        << "# Slurm may run it several times (requeue): each time the run continues from its\n"
        << "# newest checkpoint as a new attempt of the same run.\n";
    sbatch_directives(out, spec, array);

    threads_comment(out, spec);
    out << "\nset -u\n"
        << "export KAKUREN_WORKSPACE=" << shell_quote(spec.workspace) << "\n"
        << "kakuren=" << shell_quote(spec.kakuren) << "\n";
    run_selection(out, spec, array);
    setup_lines(out, spec);
    rank_launch(out, spec);
    return out.str();
}

} // namespace kakuren::launcher

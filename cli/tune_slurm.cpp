#include "cli/tune_slurm.hpp"

#include <algorithm>
#include <chrono>
#include <ostream>
#include <sstream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/config_map.hpp"
#include "cli/tune_parallel.hpp"
#include "cli/tune_runner.hpp"
#include "launcher/backend.hpp"
#include "launcher/job_script.hpp"
#include "launcher/signals.hpp"
#include "recipes/recipe.hpp"
#include "util/system.hpp"

namespace kakuren::cli {
namespace {

namespace fs = std::filesystem;

// The recipe's Slurm request for one candidate: one process on one node.
launcher::ScriptSpec array_spec(const db::TuneRow& tune, const launcher::Workspace& ws,
                                const std::vector<int>& candidates, int parallel) {
    const recipes::Recipe recipe = recipes::parse(tune.recipe_text, tune.recipe_path);
    launcher::ScriptSpec spec = script_spec(recipe);
    spec.nodes = 1;
    spec.ntasks_per_node = 1;
    for (const int c : candidates) {
        spec.run_ids.push_back(tune.id + "-candidate-" + std::to_string(c));
        spec.run_dirs.push_back((ws.root / "tunes" / tune.id).string());
    }
    spec.workspace = ws.root.string();
    spec.kakuren = kakuren_binary();
    spec.job_name = "kakuren-tune";
    spec.array_parallel = parallel > 1 ? parallel : 0;
    spec.output = (ws.root / "tunes" / tune.id / "slurm-%A_%a.out").string();
    return spec;
}

struct Ended {
    std::string state; ///< completed | failed | cancelled | "forgotten" (Slurm no longer knows it)
    int exit_code = 0;
};

bool active(const std::optional<launcher::JobView>& view) {
    return view &&
           (view->state == "pending" || view->state == "running" || view->state == "requeued");
}

// The round's job ids, kept beside its script: a tune stopped while its array still runs finds
// them on --resume and waits for that array instead of starting the candidates twice.
fs::path jobs_file(const launcher::Workspace& ws, const std::string& tune_id, int until) {
    return ws.root / "tunes" / tune_id / ("round-" + std::to_string(until) + ".jobs");
}

std::vector<std::string> recorded_jobs(const fs::path& file) {
    std::vector<std::string> ids;
    std::error_code ec;
    if (fs::exists(file, ec)) {
        std::istringstream in(util::read_file(file));
        for (std::string id; in >> id;) {
            ids.push_back(id);
        }
    }
    return ids;
}

// Whether the candidate's run has trained to epoch `until` (for a task Slurm has forgotten).
bool reached(const db::Store& store, const std::string& tune_id, int candidate, int until) {
    for (const db::TuneTrialRow& t : db::tune_trials(store, tune_id)) {
        if (t.candidate == candidate && !t.run_id.empty()) {
            const std::optional<db::RunRow> run = store.find_run(t.run_id);
            return run && run->epochs_done >= until;
        }
    }
    return false;
}

// Waits until every task has ended (Slurm forgot it, or it is completed, failed or cancelled);
// on a stop signal cancels them first and throws TuneInterrupted.
std::vector<Ended> wait_for(launcher::Backend& slurm, const std::vector<std::string>& ids) {
    std::vector<Ended> ended(ids.size());
    bool cancelled = false;
    for (std::size_t running = ids.size(); running > 0;) {
        if (!cancelled && launcher::stop_flag().load()) {
            for (const std::string& id : ids) {
                slurm.cancel(id); // SIGTERM: the candidates stop with a checkpoint
            }
            cancelled = true;
        }
        running = 0;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const std::optional<launcher::JobView> view = slurm.query(ids[i]);
            if (active(view)) {
                ++running;
            } else {
                ended[i] = view ? Ended{view->state, view->exit_code} : Ended{"forgotten", 0};
            }
        }
        if (running > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(500)); // polls the controller
        }
    }
    if (cancelled) {
        throw TuneInterrupted("signal " + std::to_string(launcher::stop_signal()) +
                              ": the round's Slurm jobs were cancelled (their candidates stop "
                              "with a checkpoint)");
    }
    return ended;
}

} // namespace

std::string tune_array_script(const launcher::ScriptSpec& spec, const launcher::Workspace& ws,
                              const std::string& tune_id, const std::vector<int>& candidates,
                              int until) {
    std::string list;
    for (const int c : candidates) {
        list += (list.empty() ? "" : " ") + std::to_string(c);
    }
    const fs::path dir = ws.root / "tunes" / tune_id;
    std::string setup; // slurm.setup (module load, source .../activate), verbatim, set -u off
    if (!spec.setup.empty()) {
        setup = "set +u\n";
        for (const std::string& line : spec.setup) {
            setup += line + "\n";
        }
        setup += "set -u\n";
    }
    return "#!/bin/bash\n"
           "# kakuren tune " +
           tune_id + ": the round to epoch " + std::to_string(until) +
           ", one array task per candidate\n"
           "# (task i trains candidates[i]; its output goes to candidate-C.log beside this "
           "script).\n"
           "set -euo pipefail\n" +
           setup + "candidates=(" + list +
           ")\n"
           "c=${candidates[${SLURM_ARRAY_TASK_ID:-0}]}\n"
           "exec " +
           launcher::shell_quote(spec.kakuren) + " tune --resume " +
           launcher::shell_quote(tune_id) + " --trial \"$c\" --until " + std::to_string(until) +
           " --workspace " + launcher::shell_quote(ws.root.string()) + " >>" +
           launcher::shell_quote((dir / "candidate-").string()) + "\"$c\".log 2>&1\n";
}

std::vector<std::string> SlurmRoundRunner::submit(launcher::Backend& slurm, const db::TuneRow& tune,
                                                  const std::vector<int>& candidates, int until) {
    launcher::SubmitRequest request;
    request.spec = array_spec(tune, m_ws, candidates, m_parallel);
    request.script_file =
        m_ws.root / "tunes" / tune.id / ("round-" + std::to_string(until) + ".sh");
    request.work_dir = m_ws.root.string();
    fs::create_directories(request.script_file.parent_path());
    util::atomic_write(request.script_file,
                       tune_array_script(request.spec, m_ws, tune.id, candidates, until));
    std::vector<std::string> ids = slurm.submit(request);
    std::string listed;
    for (const std::string& id : ids) {
        listed += id + "\n";
    }
    util::atomic_write(jobs_file(m_ws, tune.id, until), listed);
    m_progress << "round to epoch " << until << ": " << candidates.size()
               << " candidate(s) as Slurm job " << ids.front().substr(0, ids.front().find('_'))
               << std::endl;
    return ids;
}

void SlurmRoundRunner::train(const db::TuneRow& tune, const std::vector<int>& candidates,
                             int until) {
    launcher::install_stop_handlers();
    if (const int sig = launcher::stop_signal(); sig != 0) {
        throw TuneInterrupted("signal " + std::to_string(sig) +
                              " before the round's candidates were submitted");
    }
    const std::unique_ptr<launcher::Backend> slurm = launcher::make_backend("slurm");
    // A tune stopped while this round's array ran: wait for that array, then train what it left.
    const std::vector<std::string> earlier = recorded_jobs(jobs_file(m_ws, tune.id, until));
    if (std::any_of(earlier.begin(), earlier.end(),
                    [&](const std::string& id) { return active(slurm->query(id)); })) {
        m_progress << "round to epoch " << until << ": waiting for Slurm job "
                   << earlier.front().substr(0, earlier.front().find('_'))
                   << ", submitted before this tune was stopped" << std::endl;
        wait_for(*slurm, earlier);
    }
    const std::vector<std::string> ids = submit(*slurm, tune, candidates, until);
    const std::vector<Ended> ended = wait_for(*slurm, ids);
    std::string failed;
    bool interrupted = false;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const int c = candidates[i];
        if (ended[i].state == "completed" ||
            (ended[i].state == "forgotten" && reached(m_store, tune.id, c, until))) {
            continue;
        }
        interrupted = interrupted || ended[i].exit_code == k_exit_interrupted;
        failed += (failed.empty() ? "" : "; ") + std::string("candidate ") + std::to_string(c) +
                  " (Slurm job " + ids[i] + ") ended " + ended[i].state + " with exit code " +
                  std::to_string(ended[i].exit_code) +
                  " (its log: " + candidate_log(m_ws, tune.id, c).string() + ")";
    }
    throw_if_failed(tune.id, failed, interrupted);
}

} // namespace kakuren::cli

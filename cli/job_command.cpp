// `kakuren job RUN`: what a submitted run's batch script starts. Each rank finds its place
// (SLURM_* under srun, KAKUREN_* from the local backend), rank 0 takes the run over as a new
// attempt (from its newest valid checkpoint when there is one: a requeued job continues the
// same run), every rank trains, and rank 0 alone records. A stop by signal (the time-limit
// warning, a preemption) checkpoints and requeues the job while slurm.max_requeues allows.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>

#include "cli/command_line.hpp"
#include "cli/commands.hpp"
#include "cli/lookup.hpp"
#include "cli/session.hpp"
#include "launcher/backend.hpp"
#include "launcher/local_ranks.hpp"
#include "launcher/placement.hpp"
#include "launcher/signals.hpp"
#include "launcher/staging.hpp"
#include "slurm/client.hpp"
#include "util/strings.hpp"
#include "util/system.hpp"

namespace kakuren::cli {
namespace {

/// The local backend's launcher: n ranks of the run on this machine (launcher/local_ranks).
int launch_local_ranks(const CommonOptions& common, const std::string& run_ref, int n) {
    Located found = locate_run(common.workspace, run_ref);
    const char* job_env = std::getenv("KAKUREN_JOB_ID");
    launcher::LocalRanks spec;
    spec.ranks = n;
    spec.run_id = found.run.id;
    spec.workspace = found.ws.root;
    spec.logs = found.ws.run_dir(found.run.id) / "logs";
    spec.job_id = job_env != nullptr ? job_env : std::to_string(getpid());
    return launcher::run_local_ranks(spec);
}

/// Rank 0, after the ranks stopped: the job's record, and a requeue when the stop came from
/// Slurm (the time-limit warning, a preemption) and requeues remain.
void finish_job(db::Store& store, const db::RunRow& run, const db::JobRow& job,
                const launcher::Placement& place, int max_requeues, int code) {
    if (code == k_exit_ok || code == k_exit_target_missed) {
        store.set_job_state(run.id, job.submission, "completed");
        return;
    }
    if (code == k_exit_diverged) {
        store.set_job_state(run.id, job.submission, "failed",
                            "the training loss was not finite (run.stop_on_nan); kakuren show " +
                                run.id + " says where");
        return;
    }
    if (code != k_exit_interrupted) {
        return;
    }
    std::optional<db::JobRow> now;
    for (const db::JobRow& j : store.jobs(run.id)) {
        if (j.submission == job.submission) {
            now = j;
        }
    }
    if (now && now->state == "cancelled") {
        std::cout << "job " << job.job_id << " was cancelled: not requeued" << std::endl;
        return;
    }
    const int sig = launcher::stop_signal();
    const std::string why = "stopped by signal " + std::to_string(sig) + " (" +
                            (sig == SIGUSR1 ? "time limit near" : strsignal(sig)) +
                            ") at a checkpoint";
    if (place.backend == "slurm" && place.slurm_job_id != 0 && now &&
        now->requeues < max_requeues) {
        const int n = now->requeues + 1;
        store.count_requeue(run.id, job.submission,
                            why + "; requeued (" + std::to_string(n) + " of " +
                                std::to_string(max_requeues) + ")");
        std::cout << why << ": requeueing Slurm job " << place.slurm_job_id << " (" << n << " of "
                  << max_requeues << ")" << std::endl;
        const std::string id = std::to_string(place.slurm_job_id);
        std::unique_ptr<launcher::Backend> slurm = launcher::make_backend("slurm");
        try {
            slurm->requeue(id);
        } catch (const std::exception& e) {
            // A preemption (PreemptMode=REQUEUE): Slurm requeues the job itself and may refuse
            // a second request; the job is queued either way.
            const std::optional<launcher::JobView> view = slurm->query(id);
            if (view && (view->state == "requeued" || view->state == "pending")) {
                std::cout << "Slurm requeues job " << id << " itself (preemption)" << std::endl;
                return;
            }
            store.set_job_state(run.id, job.submission, "failed",
                                why + "; the requeue failed: " + e.what() + "; kakuren resume " +
                                    run.id + " continues it");
            throw;
        }
        return;
    }
    store.set_job_state(
        run.id, job.submission, "failed",
        why + "; no requeues left (slurm.max_requeues = " + std::to_string(max_requeues) +
            "): kakuren resume " + run.id + " continues it");
}

/// The continuation's training config for this rank: its place among the ranks, the collectives
/// and the threads it may use.
trainer::Config rank_config(const Continuation& c, const launcher::Placement& place) {
    trainer::Config config = c.config;
    config.dist.rank = place.rank;
    config.dist.world = place.world;
    config.dist.local_rank = place.local_rank;
    config.dist.master_addr = place.master_addr;
    config.dist.master_port = place.master_port;
    config.dist.timeout_s = c.recipe.launcher.collective_timeout_s;
    config.dist.bucket_mb = c.recipe.launcher.bucket_mb;
    config.dist.num_nodes = place.num_nodes;
    config.dist.accelerators_per_node = c.recipe.slurm.gpus_per_node;
    if (place.backend == "local" && c.recipe.run.threads == 0) {
        // Ranks on one machine share its CPUs.
        config.threads = std::max(1, util::available_cpus() / place.world);
    } else if (place.backend == "slurm" && c.recipe.run.threads == 0 && place.cpus > 0) {
        config.threads = place.cpus; // what the job asked for (the job script says how)
    }
    return config;
}

/// The trainer's stage hook for data.stage = node-local: copies the data set's files to this
/// node's local disk (launcher/staging.hpp) and points the data config at the copies.
std::function<std::int64_t(trainer::DataConfig&)>
node_local_stage(const std::string& who, int local_rank, double timeout_s) {
    return [who, local_rank, timeout_s](trainer::DataConfig& data) {
        const std::filesystem::path base = launcher::node_local_base(launcher::environment());
        launcher::StageResult staged;
        if (data.dataset == "npy" || data.dataset == "hdf5" || data.dataset == "images") {
            // Every file of both splits (see stage_splits: every rank reads every sample
            // over a run).
            launcher::StagedSplits splits = launcher::stage_splits(data.train_path, data.test_path,
                                                                   base, local_rank, timeout_s);
            data.train_path = splits.train;
            data.test_path = splits.test;
            staged = std::move(splits.stage);
        } else {
            staged = launcher::stage_files(
                {data.train_images, data.train_labels, data.test_images, data.test_labels}, base,
                local_rank, timeout_s);
            data.train_images = staged.files[0];
            data.train_labels = staged.files[1];
            data.test_images = staged.files[2];
            data.test_labels = staged.files[3];
        }
        std::cout << who << ": data staged in " << staged.dir.string() << " (" << staged.bytes
                  << " bytes, " << (staged.copied ? "copied" : "found there") << ", "
                  << staged.seconds << " s, " << staged.files.size() << " files)" << std::endl;
        return staged.bytes;
    };
}

// One rank of a job: its place, its name in messages, and the job (submission) that started it.
struct RankJob {
    launcher::Placement place;
    std::string who;
    bool rank0 = false;
    std::optional<db::JobRow> job; ///< the newest submission of the run
};

// True (after saying why) when the run is already done or its job was cancelled.
bool nothing_to_do(db::Store& store, const db::RunRow& run, const RankJob& r) {
    if (run.status == db::RunStatus::succeeded || run.status == db::RunStatus::finished) {
        std::cout << r.who << ": run " << run.id << " already " << db::to_string(run.status)
                  << "; nothing to do" << std::endl;
        if (r.rank0 && r.job) {
            store.set_job_state(run.id, r.job->submission, "completed");
        }
        return true;
    }
    if (r.job && r.job->state == "cancelled") {
        std::cout << r.who << ": job " << r.job->job_id << " of run " << run.id
                  << " was cancelled; not starting" << std::endl;
        return true;
    }
    return false;
}

// Rank 0 takes the run over as a new attempt, the other ranks follow its plan.
Continuation continue_run(Located& found, const RankJob& r) {
    const launcher::Placement& place = r.place;
    ResumeOptions none;
    Continuation c =
        r.rank0
            ? take_over(found.ws, found.store, found.run, none,
                        db::AttemptPlace{place.job_id, place.world, util::join(place.nodes, ",")})
            : plan_continuation(found.ws, found.store, found.run, none, place.world);
    if (r.rank0 && r.job) {
        // also after a requeue or a failure record
        found.store.restart_job(found.run.id, r.job->submission);
    }
    std::cout << r.who << ": run " << found.run.id
              << (r.rank0 ? " attempt " + std::to_string(c.attempt) : "") << " from " << c.from
              << "; rendezvous " << place.master_addr << ":" << place.master_port << std::endl;
    return c;
}

// Trains this rank's attempt; rank 0 records the job's end (or failure) afterwards.
int train_rank(Located& found, const Continuation& c, const trainer::Config& config,
               const RankJob& r) {
    db::Store& store = found.store;
    const db::RunRow& run = found.run;
    Attempt session;
    session.ws = &found.ws;
    session.store = &store;
    session.run_id = run.id;
    session.attempt = c.attempt;
    session.config = config;
    session.recipe_text = c.resolved;
    session.resume = c.chosen ? &*c.chosen : nullptr;
    session.quiet = false;
    session.record = r.rank0;
    session.owner = c.owner ? &*c.owner : nullptr;
    int code = k_exit_failure;
    try {
        code = run_attempt(session);
    } catch (const std::exception& e) {
        if (r.rank0 && r.job) {
            store.set_job_state(run.id, r.job->submission, "failed",
                                std::string(e.what()) + " (" + r.who + ")");
        }
        throw;
    }
    if (r.rank0 && r.job) {
        finish_job(store, run, *r.job, r.place, c.recipe.slurm.max_requeues, code);
    }
    return code;
}

int run_rank(const CommonOptions& common, const std::string& run_ref) {
    RankJob r;
    r.place = launcher::placement_from(launcher::environment(), &slurm::expand_hostlist);
    Located found = locate_run(common.workspace, run_ref);
    r.rank0 = r.place.rank == 0;
    r.who = "rank " + std::to_string(r.place.rank) + "/" + std::to_string(r.place.world) + " on " +
            util::hostname();
    for (const db::JobRow& j : found.store.jobs(found.run.id)) {
        r.job = j; // the newest submission started this script
    }
    if (nothing_to_do(found.store, found.run, r)) {
        return k_exit_ok;
    }

    const Continuation c = continue_run(found, r);
    trainer::Config config = rank_config(c, r.place);
    std::cout << r.who << ": " << config.threads << " intra-op threads" << std::endl;
    if (c.recipe.data.stage == "node-local" && config.data.dataset != "synthetic") {
        // The trainer calls this inside its init phase (staging_start / staging_stop records)
        // and loads the data from the copies.
        config.stage =
            node_local_stage(r.who, r.place.local_rank, c.recipe.launcher.collective_timeout_s);
    }
    return train_rank(found, c, config, r);
}

} // namespace

int job_command(const CommonOptions& common, const std::string& run_ref, int local_ranks) {
    if (local_ranks > 0 && std::getenv("KAKUREN_RANK") == nullptr) {
        return launch_local_ranks(common, run_ref, local_ranks);
    }
    return run_rank(common, run_ref);
}

void register_job(CLI::App& app, CommonOptions& common, Commands& commands) {
    struct Args {
        std::string run_ref;
        int local_ranks = 0;
    };
    const auto state = std::make_shared<Args>();
    auto& [run_ref, local_ranks] = *state;
    CLI::App* job = app.add_subcommand(
        "job", "Internal: one rank of a submitted run (started by its batch script)");
    job->group(""); // not listed in --help
    job->add_option("run", run_ref, "Run id")->required();
    job->add_option("--local-ranks", local_ranks,
                    "Start this many ranks on this machine and wait for them (local backend)")
        ->check(CLI::NonNegativeNumber);
    add_common(job, common, false);
    commands.push_back({job, [&common, state] {
                            return job_command(common, state->run_ref, state->local_ranks);
                        }});
}

} // namespace kakuren::cli

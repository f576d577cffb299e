#include "launcher/job_state.hpp"

#include <utility>

#include "util/system.hpp"

namespace kakuren::launcher {

launcher::Backend* Backends::get(const std::string& name) {
    if (m_failed[name]) {
        return nullptr;
    }
    auto it = m_backends.find(name);
    if (it != m_backends.end()) {
        return it->second.get();
    }
    try {
        auto backend = launcher::make_backend(name);
        return (m_backends[name] = std::move(backend)).get();
    } catch (const std::exception& e) {
        m_failed[name] = true;
        m_note = std::string(e.what()) + "; job states are from the database only";
        return nullptr;
    }
}

namespace {

/// The job's new state and reason from what its backend shows (view: nullopt when the backend
/// no longer knows it, or when reused: the id names another job now); "" when unchanged.
std::pair<std::string, std::string> change_of(const db::JobRow& job,
                                              const std::optional<launcher::JobView>& view,
                                              bool run_done, bool reused) {
    std::string state, reason;
    if (!view) {
        if (run_done) {
            state = "completed";
        } else {
            state = "failed";
            reason = job.backend == "local"
                         ? "the local job (pid " + job.job_id + " on " + job.host +
                               ") ended without finishing the run"
                         : "Slurm job " + job.job_id + " ended without finishing the run (" +
                               (reused ? "Slurm gives its id to another job now: its "
                                         "controller's state was reset"
                                       : "Slurm no longer knows it") +
                               ")";
        }
    } else if (view->state == "completed" || view->state == "failed" ||
               view->state == "cancelled") {
        state = run_done ? "completed" : view->state == "completed" ? "failed" : view->state;
        reason = view->reason.empty() && !run_done
                     ? "Slurm job " + job.job_id + " ended (exit code " +
                           std::to_string(view->exit_code) + ") without finishing the run"
                     : view->reason;
    } else if (view->state == "running" && job.state == "pending") {
        state = "running";
    } else if (view->state == "requeued" && job.state != "requeued") {
        state = "requeued";
        reason = view->reason;
    }
    return {state, reason};
}

// What reconcile knows of one run while it brings the row of the run's latest job up to date.
struct JobCheck {
    db::Store& store;
    const db::RunRow& run;
    const db::JobRow& job;
    std::vector<db::AttemptRow> attempts;
    bool attempt_running = false;
};

// Counts a requeue of a Slurm job its ranks recorded as failed when Slurm shows it queued again
// (or restarted); false when Slurm shows no such thing.
bool record_slurm_requeue(const JobCheck& c, const std::optional<launcher::JobView>& view) {
    // Running is a restart only when Slurm counted one more restart than the database: right
    // after the ranks recorded a node's failure, Slurm may still show the first run as running
    // (it declares the node down seconds later, then requeues).
    const bool restarted = view && view->state == "running" && view->restarts > c.job.requeues;
    if (!view || !(view->state == "requeued" || view->state == "pending" || restarted)) {
        return false;
    }
    c.store.count_requeue(c.run.id, c.job.submission, "Slurm requeued it after: " + c.job.reason);
    if (view->state == "running") {
        c.store.restart_job(c.run.id, c.job.submission);
    }
    return true;
}

// Ends the attempt still marked running of a job already in a final state.
void end_attempt_of_ended_job(const JobCheck& c, const std::optional<launcher::JobView>& view) {
    // E.g. cancelled: the ranks were killed before they could end their attempt.
    if (c.attempt_running && (!view || view->state != "running")) {
        c.store.end_attempt(c.run.id, c.attempts.back().attempt,
                            c.job.state == "cancelled" ? "interrupted" : "crashed",
                            c.job.reason.empty() ? "its job ended" : c.job.reason);
    }
}

// Records the job's new state and reason, and what follows from it for the run and its attempts.
void apply_change(const JobCheck& c, const std::string& state, const std::string& reason) {
    if (state == "requeued") {
        c.store.count_requeue(c.run.id, c.job.submission, reason);
        if (c.attempt_running) {
            c.store.end_attempt(c.run.id, c.attempts.back().attempt, "crashed", reason);
        }
    } else {
        c.store.set_job_state(c.run.id, c.job.submission, state, reason);
    }
    if (state == "failed" && c.run.status == db::RunStatus::created) {
        // Its job ended before any rank began an attempt: the run failed (kakuren resume
        // submits it again).
        c.store.set_run_status(c.run.id, db::RunStatus::failed, reason);
    }
    if (db::is_final_job_state(state)) {
        for (const db::AttemptRow& a : c.store.attempts(c.run.id)) {
            if (a.status == "running") {
                c.store.end_attempt(c.run.id, a.attempt, "crashed",
                                    reason.empty() ? "its job ended" : reason);
            }
        }
    }
}

} // namespace

std::optional<db::JobRow> reconcile(db::Store& store, const db::RunRow& run, Backends& backends) {
    std::vector<db::JobRow> jobs = store.jobs(run.id);
    if (jobs.empty()) {
        return std::nullopt;
    }
    db::JobRow job = jobs.back();
    const bool run_done =
        run.status == db::RunStatus::succeeded || run.status == db::RunStatus::finished;
    if (job.job_id.empty() || (job.backend == "local" && job.host != util::hostname())) {
        return job; // not submitted yet; or a local job only its own host can see
    }
    JobCheck c{store, run, job, store.attempts(run.id)};
    c.attempt_running = !c.attempts.empty() && c.attempts.back().status == "running";
    // A failed Slurm job may be back in the queue: Slurm requeues a job whose node failed
    // after its ranks recorded the failure.
    const bool maybe_requeued = job.state == "failed" && job.backend == "slurm";
    if (db::is_final_job_state(job.state) && !c.attempt_running && !maybe_requeued) {
        return job;
    }
    launcher::Backend* backend = backends.get(job.backend);
    if (backend == nullptr) {
        return job;
    }
    std::optional<launcher::JobView> view = backend->query(job.job_id);
    // The id alone does not name our job: a controller whose state was wiped gives ids again
    // from 1, to another workspace's or run's job. Such a job is not ours: ours is gone.
    const bool reused = view && !launcher::job_is_runs(*view, job.job_id, run.id, run.sweep);
    if (reused) {
        view.reset();
    }
    if (maybe_requeued && record_slurm_requeue(c, view)) {
        return store.jobs(run.id).back();
    }
    if (db::is_final_job_state(job.state)) {
        end_attempt_of_ended_job(c, view);
        return job;
    }
    const auto [state, reason] = change_of(job, view, run_done, reused);
    if (state.empty()) {
        return job;
    }
    apply_change(c, state, reason);
    return store.jobs(run.id).back();
}

std::string display_state(const db::RunRow& run, const std::optional<db::JobRow>& job) {
    if (job && (job->state == "cancelled" || job->state == "pending" || job->state == "requeued")) {
        return job->state;
    }
    switch (run.status) {
    case db::RunStatus::created:
        return !job ? "created" : job->state == "failed" ? "failed" : "pending";
    case db::RunStatus::running:
        return "running";
    case db::RunStatus::succeeded:
    case db::RunStatus::finished:
        return "completed";
    case db::RunStatus::failed:
        return "failed";
    case db::RunStatus::interrupted:
        return "interrupted";
    case db::RunStatus::crashed:
        return job && job->state == "failed" ? "failed" : "crashed";
    }
    return "unknown";
}

} // namespace kakuren::launcher

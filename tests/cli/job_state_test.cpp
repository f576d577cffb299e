// launcher/job_state: a run's jobs and attempts brought up to date from its backend, with a fake
// backend that answers what Slurm would (the real path runs in submit_e2e_test.py).
#include "launcher/job_state.hpp"
#include "support/db_rows.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace fs = std::filesystem;
using namespace kakuren;

namespace {

class FakeSlurm final : public launcher::Backend {
  public:
    std::optional<launcher::JobView> answer;
    int queries = 0;
    std::string name() const override { return "slurm"; }
    std::vector<std::string> submit(const launcher::SubmitRequest&) override { return {}; }
    std::optional<launcher::JobView> query(const std::string&) override {
        ++queries;
        return answer;
    }
    void cancel(const std::string&) override {}
    bool requeue(const std::string&) override { return true; }
    void start_now(const std::string&) override {}
};

struct Fixture {
    Fixture() {
        store.emplace(db::Store::open(root / "kakuren.db"));
        db::RunRow r = kakuren::testing::run_row("run");
        r.run_dir = (root / "runs/run").string();
        store->insert_run(r);
        submission = store->insert_job(kakuren::testing::job_row("run", "42"));
        auto fake_ptr = std::make_unique<FakeSlurm>();
        fake = fake_ptr.get();
        backends.set("slurm", std::move(fake_ptr));
    }
    void start_attempt() {
        store->begin_attempt("run", "n1", 999999, 1, db::AttemptPlace{"42", 2, "n1,n2"});
        store->set_job_state("run", submission, "running");
    }
    db::RunRow run() const { return *store->find_run("run"); }

    kakuren::testing::TempDir dir{"kakuren-jobstate"};
    const fs::path& root = dir.path();
    std::optional<db::Store> store;
    int submission = 0;
    FakeSlurm* fake = nullptr;
    launcher::Backends backends;
};

} // namespace

TEST(JobState, AJobSlurmForgotWithoutAFinishedRunFailsAndItsAttemptCrashed) {
    Fixture f;
    f.start_attempt();
    f.fake->answer = std::nullopt; // MinJobAge passed: Slurm no longer knows job 42
    const auto job = launcher::reconcile(*f.store, f.run(), f.backends);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->state, "failed");
    EXPECT_NE(job->reason.find("no longer knows"), std::string::npos) << job->reason;
    EXPECT_EQ(f.store->attempts("run").back().status, "crashed");
    EXPECT_EQ(launcher::display_state(f.run(), job), "failed");
    EXPECT_EQ(launcher::reconcile(*f.store, f.run(), f.backends)->state, "failed");
}

TEST(JobState, AFailedJobSlurmPutBackInTheQueueIsRequeued) {
    Fixture f;
    f.start_attempt();
    f.store->end_attempt("run", 1, "failed", "rank 0 of 2: communication ... failed");
    f.store->set_job_state("run", f.submission, "failed", "rank 0 of 2: communication failed");
    f.fake->answer = launcher::JobView{"requeued", "", "", 0}; // its node failed: requeued
    const auto job = launcher::reconcile(*f.store, f.run(), f.backends);
    EXPECT_EQ(job->state, "requeued");
    EXPECT_EQ(job->requeues, 1);
    EXPECT_NE(job->reason.find("communication failed"), std::string::npos) << job->reason;
    EXPECT_EQ(launcher::display_state(f.run(), job), "requeued");
}

TEST(JobState, AFailedJobSlurmStillRunsIsNotTakenForARestartUntilSlurmCountsOne) {
    Fixture f;
    f.start_attempt();
    f.store->end_attempt("run", 1, "failed", "rank 0 of 2: communication ... failed");
    f.store->set_job_state("run", f.submission, "failed", "rank 0 of 2: communication failed");
    // The ranks gave up before Slurm declared the node down: the first run still shows.
    launcher::JobView first{"running", "", "n[1-2]", 0};
    f.fake->answer = first;
    auto job = launcher::reconcile(*f.store, f.run(), f.backends);
    EXPECT_EQ(job->state, "failed");
    EXPECT_EQ(job->requeues, 0);
    // Slurm requeued it and started it again: restart 1.
    launcher::JobView again = first;
    again.restarts = 1;
    f.fake->answer = again;
    job = launcher::reconcile(*f.store, f.run(), f.backends);
    EXPECT_EQ(job->state, "running");
    EXPECT_EQ(job->requeues, 1);
}

TEST(JobState, ACompletedJobIsReadFromTheRecordAlone) {
    Fixture f;
    f.start_attempt();
    f.store->end_attempt("run", 1, "finished");
    f.store->set_job_state("run", f.submission, "completed");
    EXPECT_EQ(launcher::reconcile(*f.store, f.run(), f.backends)->state, "completed");
    EXPECT_EQ(f.fake->queries, 0);
}

TEST(JobState, AFinishedRunStaysCompletedWhateverSlurmSays) {
    Fixture f;
    f.start_attempt();
    f.store->end_attempt("run", 1, "finished");
    f.fake->answer = launcher::JobView{"failed", "Slurm job 42 failed", "n1", 1};
    const auto job = launcher::reconcile(*f.store, f.run(), f.backends);
    EXPECT_EQ(job->state, "completed");
    EXPECT_EQ(launcher::display_state(f.run(), job), "completed");
}

TEST(JobState, PreemptedOrRequeuedIsNeverFinished) {
    Fixture f;
    f.start_attempt();
    f.fake->answer = launcher::JobView{"requeued", "Slurm requeued job 42", "", 0};
    const auto job = launcher::reconcile(*f.store, f.run(), f.backends);
    EXPECT_EQ(job->state, "requeued");
    EXPECT_EQ(job->requeues, 1);
    EXPECT_FALSE(db::is_final_job_state(job->state));
    EXPECT_EQ(f.store->attempts("run").back().status, "crashed");
    EXPECT_EQ(launcher::display_state(f.run(), job), "requeued");
}

TEST(JobState, ACancelledJobsKilledAttemptEndsInterrupted) {
    Fixture f;
    f.start_attempt();
    f.store->set_job_state("run", f.submission, "cancelled", "cancelled by kakuren cancel");
    f.fake->answer = launcher::JobView{"running", "", "n1", 0}; // ranks still checkpointing
    launcher::reconcile(*f.store, f.run(), f.backends);
    EXPECT_EQ(f.store->attempts("run").back().status, "running");
    f.fake->answer = std::nullopt; // gone
    const auto job = launcher::reconcile(*f.store, f.run(), f.backends);
    EXPECT_EQ(job->state, "cancelled");
    EXPECT_EQ(f.store->attempts("run").back().status, "interrupted");
    EXPECT_EQ(launcher::display_state(f.run(), job), "cancelled");
}

TEST(JobState, APendingJobThatStartedIsRunning) {
    Fixture f;
    f.fake->answer = launcher::JobView{"running", "", "n1", 0};
    EXPECT_EQ(launcher::display_state(f.run(), f.store->jobs("run").back()), "pending");
    const auto job = launcher::reconcile(*f.store, f.run(), f.backends);
    EXPECT_EQ(job->state, "running");
}

TEST(JobMark, NamesTheRunOrTheSweepAndIsFoundAfterARecipesComment) {
    EXPECT_EQ(launcher::job_mark({"r1"}, ""), "kakuren-run=r1");
    EXPECT_EQ(launcher::job_mark({"r1", "r2"}, "sweep-r1"), "kakuren-sweep=sweep-r1");
    EXPECT_EQ(launcher::mark_in("kakuren-run=r1"), "kakuren-run=r1");
    EXPECT_EQ(launcher::mark_in("nightly tests kakuren-sweep=sweep-r1"), "kakuren-sweep=sweep-r1");
    EXPECT_EQ(launcher::mark_in("a comment of someone else"), "");
    EXPECT_EQ(launcher::mark_in(""), "");
}

TEST(JobState, AJobIdSlurmGaveToAnotherRunIsNotThisRunsJob) {
    // Before (issue 23 #18): a controller whose state was wiped numbered jobs from 1 again; the
    // run's job 42 was read from whatever job had id 42 now (another workspace's requeued run),
    // so the run showed that job's state, and a cancel would have cancelled that job.
    Fixture f;
    f.start_attempt();
    launcher::JobView other{"running", "", "n1", 0};
    other.name = "kakuren-fmnist-cnn";
    other.mark = "kakuren-run=another-run";
    f.fake->answer = other;
    const auto job = launcher::reconcile(*f.store, f.run(), f.backends);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->state, "failed");
    EXPECT_NE(job->reason.find("Slurm job 42 ended without finishing the run (Slurm gives its id "
                               "to another job now"),
              std::string::npos)
        << job->reason;
    EXPECT_EQ(f.store->attempts("run").back().status, "crashed");
    EXPECT_EQ(launcher::display_state(f.run(), job), "failed");
}

TEST(JobState, AJobWithThisRunsMarkOrAnOlderKakurenJobIsStillRead) {
    Fixture f;
    f.start_attempt();
    launcher::JobView ours{"requeued", "Slurm requeued job 42", "", 0};
    ours.name = "kakuren-fmnist-cnn";
    ours.mark = "kakuren-run=run";
    f.fake->answer = ours;
    EXPECT_EQ(launcher::reconcile(*f.store, f.run(), f.backends)->state, "requeued");

    Fixture older; // a job submitted before marks: its kakuren name is all there is
    older.start_attempt();
    launcher::JobView unmarked{"requeued", "Slurm requeued job 42", "", 0};
    unmarked.name = "kakuren-fmnist-cnn";
    older.fake->answer = unmarked;
    EXPECT_EQ(launcher::reconcile(*older.store, older.run(), older.backends)->state, "requeued");
}

TEST(JobState, AnUnmarkedJobThatKakurenDidNotSubmitIsNotThisRunsJob) {
    Fixture f;
    f.start_attempt();
    launcher::JobView someone{"running", "", "n1", 0};
    someone.name = "bash"; // `sbatch --wrap` of a user, given the reused id 42
    f.fake->answer = someone;
    EXPECT_EQ(launcher::reconcile(*f.store, f.run(), f.backends)->state, "failed");
}

TEST(JobState, AnArrayTaskIsKnownByItsSweep) {
    launcher::JobView task{"running", "", "n1", 0};
    task.name = "kakuren-fmnist-cnn";
    task.mark = "kakuren-sweep=sweep-a";
    EXPECT_TRUE(launcher::job_is_runs(task, "42_1", "b", "sweep-a"));
    EXPECT_FALSE(launcher::job_is_runs(task, "42_1", "b", "sweep-b"));
    EXPECT_FALSE(launcher::job_is_runs(task, "42", "b", "sweep-a")) << "a single job names its run";
}

TEST(JobState, ARunWhoseJobIdWasReusedBeforeItStartedFailsToo) {
    Fixture f; // submitted, never started: the run is still "created"
    launcher::JobView other{"running", "", "n1", 0};
    other.mark = "kakuren-run=another-run";
    f.fake->answer = other;
    const auto job = launcher::reconcile(*f.store, f.run(), f.backends);
    EXPECT_EQ(job->state, "failed");
    EXPECT_EQ(f.run().status, db::RunStatus::failed);
    EXPECT_EQ(launcher::display_state(f.run(), job), "failed");
    // Asked again (as kakuren cancel does after kakuren status): the failed job of a run that
    // never had an attempt is read without ending an attempt that does not exist (it crashed).
    EXPECT_EQ(launcher::reconcile(*f.store, f.run(), f.backends)->state, "failed");
    EXPECT_TRUE(f.store->attempts("run").empty());
}

// Table jobs and the scheduler fields of attempts (schema v3): what kakuren submit, the job's
// ranks, kakuren status and kakuren cancel record.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "db/store.hpp"

#include "support/db_rows.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace kakuren::db;

namespace {

struct Workspace {
    kakuren::testing::TempDir dir{"kakuren-jobs"};
    const fs::path& root = dir.path();
};

using kakuren::testing::job_row;
using kakuren::testing::run_row;

} // namespace

TEST(JobsStore, SubmissionsAreNumberedPerRunAndStartPending) {
    Workspace ws;
    Store store = Store::open(ws.root / "kakuren.db");
    store.insert_run(run_row("a"));
    store.insert_run(run_row("b"));
    EXPECT_EQ(store.insert_job(job_row("a", "11")), 1);
    EXPECT_EQ(store.insert_job(job_row("a", "12")), 2);
    EXPECT_EQ(store.insert_job(job_row("b", "13")), 1);
    const auto jobs = store.jobs("a");
    ASSERT_EQ(jobs.size(), 2U);
    EXPECT_EQ(jobs[0].job_id, "11");
    EXPECT_EQ(jobs[1].job_id, "12");
    EXPECT_EQ(jobs[1].state, "pending");
    EXPECT_EQ(jobs[1].backend, "slurm");
    EXPECT_FALSE(jobs[1].submitted_at.empty());
    EXPECT_TRUE(jobs[1].ended_at.empty());

    const auto latest = store.latest_jobs();
    ASSERT_EQ(latest.size(), 2U);
    EXPECT_EQ(latest[0].run_id, "a");
    EXPECT_EQ(latest[0].job_id, "12");
    EXPECT_EQ(latest[1].job_id, "13");
}

TEST(JobsStore, FinalStateIsNotUndoneByALateReport) {
    Workspace ws;
    Store store = Store::open(ws.root / "kakuren.db");
    store.insert_run(run_row("a"));
    const int n = store.insert_job(job_row("a", "7"));
    EXPECT_TRUE(store.set_job_state("a", n, "running"));
    EXPECT_FALSE(store.set_job_state("a", n, "running")); // nothing changed
    EXPECT_TRUE(store.set_job_state("a", n, "cancelled", "cancelled by kakuren cancel"));
    EXPECT_FALSE(store.set_job_state("a", n, "failed", "NODE_FAIL"));
    const auto job = store.jobs("a").at(0);
    EXPECT_EQ(job.state, "cancelled");
    EXPECT_EQ(job.reason, "cancelled by kakuren cancel");
    EXPECT_FALSE(job.ended_at.empty());
    EXPECT_TRUE(is_final_job_state(job.state));
    EXPECT_FALSE(is_final_job_state("requeued"));
    EXPECT_FALSE(is_final_job_state("pending"));
}

TEST(JobsStore, RequeuesAreCountedAndTheJobRunsAgain) {
    Workspace ws;
    Store store = Store::open(ws.root / "kakuren.db");
    store.insert_run(run_row("a"));
    const int n = store.insert_job(job_row("a", "7"));
    store.set_job_state("a", n, "running");
    store.count_requeue("a", n, "time limit near: checkpointed");
    store.count_requeue("a", n, "time limit near: checkpointed");
    EXPECT_EQ(store.jobs("a").at(0).requeues, 2);
    EXPECT_EQ(store.jobs("a").at(0).state, "requeued");
    EXPECT_TRUE(store.set_job_state("a", n, "running"));
    EXPECT_TRUE(store.jobs("a").at(0).ended_at.empty());
    store.set_job_id("a", n, "7_1");
    EXPECT_EQ(store.jobs("a").at(0).job_id, "7_1");
}

TEST(JobsStore, AttemptsRecordTheirJobRanksAndNodes) {
    Workspace ws;
    Store store = Store::open(ws.root / "kakuren.db");
    store.insert_run(run_row("a"));
    store.begin_attempt("a", "n1", 100, 5, AttemptPlace{"7", 2, "n1,n2"});
    store.end_attempt("a", 1, "interrupted", "requeued");
    store.begin_attempt("a", "n1", 101, 6);
    const auto attempts = store.attempts("a");
    ASSERT_EQ(attempts.size(), 2U);
    EXPECT_EQ(attempts[0].job_id, "7");
    EXPECT_EQ(attempts[0].world_size, 2);
    EXPECT_EQ(attempts[0].nodes, "n1,n2");
    EXPECT_EQ(attempts[1].job_id, "");
    EXPECT_EQ(attempts[1].world_size, 1);
}

TEST(JobsStore, SweepGroupsRuns) {
    Workspace ws;
    Store store = Store::open(ws.root / "kakuren.db");
    store.insert_run(run_row("a"));
    store.insert_run(run_row("b"));
    store.set_run_sweep("a", "sweep-1");
    EXPECT_EQ(store.find_run("a")->sweep, "sweep-1");
    EXPECT_EQ(store.find_run("b")->sweep, "");
}

TEST(JobsStore, UnknownBackendOrStateIsRefused) {
    Workspace ws;
    Store store = Store::open(ws.root / "kakuren.db");
    store.insert_run(run_row("a"));
    JobRow bad = job_row("a", "1");
    bad.backend = "kubernetes";
    EXPECT_THROW(store.insert_job(bad), DbError);
    const int n = store.insert_job(job_row("a", "1"));
    EXPECT_THROW(store.set_job_state("a", n, "exploded"), DbError);
}

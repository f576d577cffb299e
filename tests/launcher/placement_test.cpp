#include "launcher/placement.hpp"

#include <gtest/gtest.h>

#include "util/error.hpp"

using kakuren::launcher::Placement;
using kakuren::launcher::placement_from;
using kakuren::launcher::port_for_job;

namespace {

std::vector<std::string> fake_expand(const std::string& list) {
    if (list == "n[1-2]") {
        return {"n1", "n2"};
    }
    return {list};
}

} // namespace

TEST(Placement, NoSchedulerIsOneRank) {
    const Placement p = placement_from({{"HOME", "/root"}}, fake_expand);
    EXPECT_EQ(p.backend, "none");
    EXPECT_EQ(p.rank, 0);
    EXPECT_EQ(p.world, 1);
}

TEST(Placement, SlurmTaskOfATwoNodeJob) {
    const Placement p = placement_from({{"SLURM_JOB_ID", "4321"},
                                        {"SLURM_STEP_ID", "0"},
                                        {"SLURM_PROCID", "1"},
                                        {"SLURM_NTASKS", "2"},
                                        {"SLURM_LOCALID", "0"},
                                        {"SLURM_JOB_NODELIST", "n[1-2]"},
                                        {"SLURM_JOB_NUM_NODES", "2"},
                                        {"SLURM_RESTART_COUNT", "1"}},
                                       fake_expand);
    EXPECT_EQ(p.backend, "slurm");
    EXPECT_EQ(p.rank, 1);
    EXPECT_EQ(p.world, 2);
    EXPECT_EQ(p.local_rank, 0);
    EXPECT_EQ(p.num_nodes, 2);
    EXPECT_EQ(p.master_addr, "n1");
    EXPECT_EQ(p.master_port, port_for_job(4321));
    EXPECT_EQ(p.job_id, "4321");
    EXPECT_EQ(p.slurm_job_id, 4321U);
    EXPECT_EQ(p.restart_count, 1);
    EXPECT_EQ(p.nodes, (std::vector<std::string>{"n1", "n2"}));
}

// run.threads = 0 under Slurm: the rank's CPUs are what the job asked for.
TEST(Placement, SlurmRankCpusFollowWhatTheJobAskedFor) {
    const std::map<std::string, std::string> base = {{"SLURM_JOB_ID", "7"},
                                                     {"SLURM_STEP_ID", "0"},
                                                     {"SLURM_NTASKS", "4"},
                                                     {"SLURM_PROCID", "3"},
                                                     {"SLURM_JOB_NODELIST", "n1"}};
    auto with = [&](std::map<std::string, std::string> more) {
        more.insert(base.begin(), base.end());
        return placement_from(more, fake_expand).cpus;
    };
    // --cpus-per-task=6 asked: each rank its task's 6 CPUs.
    EXPECT_EQ(6, with({{"SLURM_CPUS_PER_TASK", "6"}, {"SLURM_CPUS_ON_NODE", "48"}}));
    // No --cpus-per-task (run.threads = 0, slurm.cpus_per_task = 0), a whole 48-CPU node for
    // 4 ranks (--exclusive): 12 each.
    EXPECT_EQ(12, with({{"SLURM_CPUS_ON_NODE", "48"}, {"SLURM_NTASKS_PER_NODE", "4"}}));
    // 2 CPUs for 4 ranks: never 0.
    EXPECT_EQ(1, with({{"SLURM_CPUS_ON_NODE", "2"}, {"SLURM_NTASKS_PER_NODE", "4"}}));
    EXPECT_EQ(0, with({}));
    EXPECT_EQ(0, placement_from({{"HOME", "/root"}}, fake_expand).cpus);
    EXPECT_THROW(with({{"SLURM_CPUS_PER_TASK", "many"}}), kakuren::UsageError);
}

TEST(Placement, ArrayTaskIsNamedByArrayAndTask) {
    const Placement p = placement_from({{"SLURM_JOB_ID", "101"},
                                        {"SLURM_STEP_ID", "0"},
                                        {"SLURM_ARRAY_JOB_ID", "100"},
                                        {"SLURM_ARRAY_TASK_ID", "1"},
                                        {"SLURM_NTASKS", "1"},
                                        {"SLURM_PROCID", "0"},
                                        {"SLURM_JOB_NODELIST", "n1"}},
                                       fake_expand);
    EXPECT_EQ(p.job_id, "100_1");
    EXPECT_EQ(p.slurm_job_id, 101U); // the task's own job id, for requeue
}

TEST(Placement, LocalBackendVariables) {
    const Placement p = placement_from({{"KAKUREN_RANK", "1"},
                                        {"KAKUREN_WORLD", "2"},
                                        {"KAKUREN_MASTER_ADDR", "127.0.0.1"},
                                        {"KAKUREN_MASTER_PORT", "40000"},
                                        {"KAKUREN_JOB_ID", "777"},
                                        {"SLURM_JOB_ID", "9"}},
                                       fake_expand);
    EXPECT_EQ(p.backend, "local");
    EXPECT_EQ(p.rank, 1);
    EXPECT_EQ(p.world, 2);
    EXPECT_EQ(p.master_port, 40000);
    EXPECT_EQ(p.job_id, "777");
}

TEST(Placement, MalformedVariablesAreNamed) {
    EXPECT_THROW(placement_from({{"KAKUREN_RANK", "one"}}, fake_expand), kakuren::UsageError);
    try {
        placement_from({{"KAKUREN_RANK", "2"}, {"KAKUREN_WORLD", "2"}}, fake_expand);
        FAIL();
    } catch (const kakuren::UsageError& e) {
        EXPECT_NE(std::string(e.what()).find("rank 2 is not below the world size 2"),
                  std::string::npos);
    }
}

TEST(Placement, PortStaysInItsRange) {
    EXPECT_EQ(port_for_job(0), 20000);
    EXPECT_EQ(port_for_job(19999), 39999);
    EXPECT_EQ(port_for_job(20000), 20000);
}

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

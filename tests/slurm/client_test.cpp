// kakuren::slurm. SlurmClient.*: no cluster needed (label unit). SlurmClientCluster.*: a real
// local cluster (label slurm; the ctest fixture slurm_cluster starts it and sets SLURM_CONF).
// Those fail, not skip, when the cluster is missing.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

#include "slurm/client.hpp"
#include "slurm/config.hpp"
#include "support/files.hpp"
#include "support/ports.hpp"
#include "support/wait.hpp"

namespace fs = std::filesystem;
using kakuren::slurm::Client;
using kakuren::slurm::JobInfo;
using kakuren::slurm::JobSpec;
using kakuren::slurm::JobState;
using kakuren::slurm::SlurmError;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Sets an environment variable for one test and restores it afterwards.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const std::string& value) : m_name(name) {
        if (const char* old = std::getenv(name)) {
            m_old = old;
        }
        ::setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (m_old) {
            ::setenv(m_name, m_old->c_str(), 1);
        } else {
            ::unsetenv(m_name);
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    const char* m_name;
    std::optional<std::string> m_old;
};

fs::path test_dir(const std::string& name) {
    fs::path dir = fs::path(KAKUREN_SLURM_TEST_DIR) / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

using kakuren::testing::ClosedPort;
using kakuren::testing::write_file;

std::string read_file(const fs::path& path) {
    return kakuren::testing::slurp(path);
}

// A minimal slurm.conf whose controller is 127.0.0.1:port.
fs::path minimal_conf(const fs::path& dir, const std::string& ctl_addr, int port) {
    fs::path conf = dir / "slurm.conf";
    write_file(conf, "ClusterName=none\nSlurmctldHost=nowhere(" + ctl_addr +
                         ")\nSlurmctldPort=" + std::to_string(port) +
                         "\nAuthType=auth/munge\nNodeName=n1 CPUs=1 State=UNKNOWN\n"
                         "PartitionName=p Nodes=n1 Default=YES\n");
    return conf;
}

// ---- no cluster ----

TEST(SlurmClient, ConfigFileFollowsSlurmConf) {
    const fs::path dir = test_dir("config-file");
    const fs::path conf = minimal_conf(dir, "127.0.0.1", 1);
    {
        ScopedEnv env("SLURM_CONF", conf.string());
        EXPECT_EQ(kakuren::slurm::config_file(), conf);
    }
    ScopedEnv env("SLURM_CONF", (dir / "missing.conf").string());
    EXPECT_EQ(kakuren::slurm::config_file(), std::nullopt);
}

TEST(SlurmClient, NotAvailableWithoutConfig) {
    ScopedEnv env("SLURM_CONF", "/nonexistent/slurm.conf");
    EXPECT_FALSE(Client::available(1.0));
}

TEST(SlurmClient, ConnectWithoutConfigThrowsInsteadOfExiting) {
    ScopedEnv env("SLURM_CONF", "/nonexistent/slurm.conf");
    try {
        Client::connect(1.0);
        FAIL() << "connect succeeded without a slurm.conf";
    } catch (const SlurmError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "no Slurm configuration: SLURM_CONF=/nonexistent/slurm.conf does not exist; "
                  "set SLURM_CONF to the cluster's slurm.conf");
    }
}

TEST(SlurmClient, AvailableWhenControllerPortAccepts) {
    const fs::path dir = test_dir("available");
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listener, 4), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    const int port = ntohs(addr.sin_port);
    {
        ScopedEnv env("SLURM_CONF", minimal_conf(dir, "127.0.0.1", port).string());
        EXPECT_TRUE(Client::available(1.0));
    }
    ::close(listener);
    // A port that is bound but not listening refuses (and stays ours: no other process can
    // start listening there meanwhile).
    const ClosedPort closed;
    ScopedEnv env("SLURM_CONF", minimal_conf(dir, "127.0.0.1", closed.port()).string());
    EXPECT_FALSE(Client::available(1.0));
}

TEST(SlurmClient, ReadsControllerAddressFromConfig) {
    const fs::path dir = test_dir("controller-address");
    write_file(dir / "a.conf", "# comment\nslurmctldhost=vm(10.201.0.254) # primary\n"
                               "SlurmctldHost=backup\nSlurmctldPort=6917-6920\n");
    const auto a = kakuren::slurm::read_controller_address(dir / "a.conf");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->name, "vm");
    EXPECT_EQ(a->host, "10.201.0.254");
    EXPECT_EQ(a->port, 6917);
    write_file(dir / "b.conf", "ControlMachine=head\nControlAddr=10.0.0.1\n");
    const auto b = kakuren::slurm::read_controller_address(dir / "b.conf");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->name, "head");
    EXPECT_EQ(b->host, "10.0.0.1");
    EXPECT_EQ(b->port, 6817);
    write_file(dir / "c.conf", "ClusterName=x\n");
    EXPECT_FALSE(kakuren::slurm::read_controller_address(dir / "c.conf"));
}

TEST(SlurmClient, ConnectToRefusingControllerSaysNotReachable) {
    const fs::path dir = test_dir("refused");
    const ClosedPort closed;
    const int port = closed.port();
    const fs::path conf = minimal_conf(dir, "127.0.0.1", port);
    ScopedEnv env("SLURM_CONF", conf.string());
    try {
        Client::connect(1.0);
        FAIL() << "connect succeeded to a closed port";
    } catch (const SlurmError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "Slurm controller nowhere (127.0.0.1:" + std::to_string(port) +
                      ") is not reachable: connection refused; is slurmctld running? "
                      "(SLURM_CONF=" +
                      conf.string() + ")");
    }
}

TEST(SlurmClient, ConnectGivesUpWithinTimeout) {
    const fs::path dir = test_dir("timeout");
    // TEST-NET-1 (RFC 5737): nothing answers; either no route at once or no answer in time.
    ScopedEnv env("SLURM_CONF", minimal_conf(dir, "192.0.2.1", 6817).string());
    EXPECT_THROW(
        {
            try {
                Client::connect(0.5);
            } catch (const SlurmError& e) {
                EXPECT_NE(std::string(e.what()).find("is not reachable: "), std::string::npos)
                    << e.what();
                throw;
            }
        },
        SlurmError);
}

TEST(SlurmClient, ExpandsHostLists) {
    ScopedEnv env("SLURM_CONF", "/nonexistent/slurm.conf"); // needs no configuration
    using V = std::vector<std::string>;
    EXPECT_EQ(kakuren::slurm::expand_hostlist("n[1-3],x"), (V{"n1", "n2", "n3", "x"}));
    EXPECT_EQ(kakuren::slurm::expand_hostlist("n[01-02]"), (V{"n01", "n02"}));
    EXPECT_EQ(kakuren::slurm::expand_hostlist("n[1-2,5]"), (V{"n1", "n2", "n5"}));
    EXPECT_EQ(kakuren::slurm::expand_hostlist("r[1-2]-n[1-2]"),
              (V{"r1-n1", "r1-n2", "r2-n1", "r2-n2"}));
    EXPECT_EQ(kakuren::slurm::expand_hostlist("solo"), (V{"solo"}));
    EXPECT_EQ(kakuren::slurm::expand_hostlist(""), V{});
    EXPECT_THROW(kakuren::slurm::expand_hostlist("n[3-1]"), kakuren::UsageError);
}

TEST(SlurmClient, NamesStatesAndKnowsWhichAreFinal) {
    using kakuren::slurm::is_final;
    using kakuren::slurm::to_string;
    EXPECT_EQ(to_string(JobState::node_fail), "node_fail");
    EXPECT_EQ(to_string(JobState::out_of_memory), "out_of_memory");
    EXPECT_EQ(to_string(JobState::completing), "completing");
    for (auto s :
         {JobState::completed, JobState::cancelled, JobState::failed, JobState::timeout,
          JobState::node_fail, JobState::boot_fail, JobState::deadline, JobState::out_of_memory}) {
        EXPECT_TRUE(is_final(s)) << to_string(s);
    }
    for (auto s : {JobState::pending, JobState::running, JobState::suspended, JobState::completing,
                   JobState::preempted, JobState::requeued, JobState::unknown}) {
        EXPECT_FALSE(is_final(s)) << to_string(s);
    }
}

// ---- a real cluster ----

JobSpec make_spec(const fs::path& dir, const std::string& name, const std::string& body) {
    JobSpec spec;
    spec.name = name;
    spec.script = "#!/bin/bash\n" + body;
    spec.work_dir = dir.string();
    spec.std_out = (dir / "%j.out").string();
    return spec;
}

// Polls until done(info) holds; fails the test (with the last state) after timeout_s.
JobInfo wait_for(Client& client, std::uint32_t id, const std::function<bool(const JobInfo&)>& done,
                 double timeout_s, const std::string& what) {
    std::optional<JobInfo> info;
    const bool reached = kakuren::testing::wait_until(
        [&] {
            info = client.query(id);
            return info && done(*info);
        },
        timeout_s);
    if (reached) {
        return *info;
    }
    ADD_FAILURE() << "job " << id << " not " << what << " within " << timeout_s << " s; state "
                  << (info ? std::string(kakuren::slurm::to_string(info->state)) + " (" +
                                 info->state_reason + ")"
                           : std::string("unknown to Slurm"));
    return info.value_or(JobInfo{});
}

JobInfo wait_final(Client& client, std::uint32_t id, double timeout_s = 120) {
    return wait_for(
        client, id, [](const JobInfo& i) { return kakuren::slurm::is_final(i.state); }, timeout_s,
        "final");
}

JobInfo wait_state(Client& client, std::uint32_t id, JobState state, double timeout_s = 120) {
    return wait_for(
        client, id, [&](const JobInfo& i) { return i.state == state; }, timeout_s,
        std::string(kakuren::slurm::to_string(state)));
}

TEST(SlurmClientCluster, ClusterIsAvailable) {
    EXPECT_TRUE(Client::available(1.0)) << "no local cluster: run tests/slurm/cluster.sh start";
    const auto t0 = Clock::now();
    auto client = Client::connect();
    std::cout << "connect: " << seconds_since(t0) << " s\n";
}

TEST(SlurmClientCluster, SubmittedJobCompletes) {
    auto client = Client::connect();
    const fs::path dir = test_dir("complete");
    const auto t0 = Clock::now();
    const auto id = client.submit(make_spec(dir, "kk-complete", "echo hello from $(hostname)\n"));
    std::cout << "submit: " << seconds_since(t0) << " s\n";
    ASSERT_GT(id, 0U);
    const JobInfo info = wait_final(client, id);
    std::cout << "submit -> completed: " << seconds_since(t0) << " s\n";
    EXPECT_EQ(info.state, JobState::completed);
    EXPECT_EQ(info.exit_code, 0);
    EXPECT_EQ(info.term_signal, 0);
    EXPECT_EQ(info.job_id, id);
    EXPECT_EQ(info.name, "kk-complete");
    EXPECT_EQ(info.restart_count, 0);
    EXPECT_GT(info.end_time, 0);
    EXPECT_TRUE(std::regex_search(read_file(dir / (std::to_string(id) + ".out")),
                                  std::regex("^hello from n[0-9]+\n$")));
}

TEST(SlurmClientCluster, NonZeroExitFailsWithThatCode) {
    auto client = Client::connect();
    const fs::path dir = test_dir("exit3");
    const auto id = client.submit(make_spec(dir, "kk-exit3", "exit 3\n"));
    const JobInfo info = wait_final(client, id);
    EXPECT_EQ(info.state, JobState::failed);
    EXPECT_EQ(info.exit_code, 3);
    EXPECT_EQ(info.term_signal, 0);
    EXPECT_EQ(info.state_reason, "NonZeroExitCode");
}

TEST(SlurmClientCluster, DependentJobGoesPendingRunningCompleted) {
    auto client = Client::connect();
    const fs::path dir = test_dir("transitions");
    // The first job ends only once the test has seen the second one wait for it (a fixed sleep
    // could end before the controller's scheduling pass names the reason).
    const fs::path release = dir / "release";
    const auto first =
        client.submit(make_spec(dir, "kk-first",
                                "for i in $(seq 3000); do [ -e '" + release.string() +
                                    "' ] && exit 0; sleep 0.1; done\n"
                                    "exit 1\n"));
    JobSpec second = make_spec(dir, "kk-second", "sleep 1\n");
    second.dependency = "afterok:" + std::to_string(first);
    const auto t0 = Clock::now();
    const auto id = client.submit(second);
    // Right after the submission the reason is still None: the controller names it Dependency
    // on its next scheduling pass (before: expected at once, a flaky failure).
    EXPECT_EQ(client.query(id).value().state, JobState::pending);
    const JobInfo pending = wait_for(
        client, id,
        [](const JobInfo& i) {
            return i.state != JobState::pending || i.state_reason == "Dependency";
        },
        60, "pending on its dependency");
    EXPECT_EQ(pending.state, JobState::pending);
    EXPECT_EQ(pending.state_reason, "Dependency");
    EXPECT_EQ(pending.nodes, "");
    write_file(release, "");
    const JobInfo running = wait_state(client, id, JobState::running);
    std::cout << "pending -> running: " << seconds_since(t0) << " s\n";
    EXPECT_FALSE(running.nodes.empty());
    EXPECT_GT(running.start_time, 0);
    const JobInfo done = wait_final(client, id);
    EXPECT_EQ(done.state, JobState::completed);
    EXPECT_EQ(client.query(first).value().state, JobState::completed);
}

TEST(SlurmClientCluster, CancelEndsRunningJob) {
    auto client = Client::connect();
    const fs::path dir = test_dir("cancel");
    const auto id = client.submit(make_spec(dir, "kk-cancel", "sleep 300\n"));
    wait_state(client, id, JobState::running);
    const auto t0 = Clock::now();
    client.cancel(id);
    const JobInfo info = wait_final(client, id);
    std::cout << "cancel -> cancelled: " << seconds_since(t0) << " s\n";
    EXPECT_EQ(info.state, JobState::cancelled);
    EXPECT_NO_THROW(client.cancel(id)); // already ended: not an error
}

TEST(SlurmClientCluster, ArrayRunsEveryTask) {
    auto client = Client::connect();
    const fs::path dir = test_dir("array");
    JobSpec spec = make_spec(dir, "kk-array", "echo task $SLURM_ARRAY_TASK_ID\n");
    spec.array = "0-2";
    spec.std_out = (dir / "%A_%a.out").string();
    const auto id = client.submit(spec);
    EXPECT_EQ(client.query_array(id).size(), 3U);
    std::vector<JobInfo> tasks;
    kakuren::testing::wait_until([&] {
        tasks = client.query_array(id);
        return tasks.size() == 3 && std::all_of(tasks.begin(), tasks.end(), [](const JobInfo& t) {
                   return kakuren::slurm::is_final(t.state);
               });
    });
    ASSERT_EQ(tasks.size(), 3U);
    for (std::uint32_t task = 0; task < 3; ++task) {
        EXPECT_EQ(tasks[task].array_job_id, id);
        EXPECT_EQ(tasks[task].array_task_id, task);
        EXPECT_NE(tasks[task].job_id, 0U);
        EXPECT_EQ(tasks[task].state, JobState::completed);
        EXPECT_EQ(read_file(dir / (std::to_string(id) + "_" + std::to_string(task) + ".out")),
                  "task " + std::to_string(task) + "\n");
    }
}

TEST(SlurmClientCluster, RequeueRestartsRunningJobAtOnce) {
    auto client = Client::connect();
    const fs::path dir = test_dir("requeue");
    const auto id =
        client.submit(make_spec(dir, "kk-requeue",
                                "echo run ${SLURM_RESTART_COUNT:-0}\n"
                                // exec: no shell left to print "Terminated"
                                "[ \"${SLURM_RESTART_COUNT:-0}\" = 0 ] && exec sleep 300\n"
                                "exit 0\n"));
    wait_state(client, id, JobState::running);
    // The script has written its first line (else the requeue could come before it).
    const fs::path out = dir / (std::to_string(id) + ".out");
    EXPECT_TRUE(kakuren::testing::wait_until([&] { return read_file(out) == "run 0\n"; }))
        << read_file(out);
    const auto t0 = Clock::now();
    client.requeue(id);
    const double requeue_s = seconds_since(t0);
    const JobInfo again = wait_for(
        client, id,
        [](const JobInfo& i) {
            return i.restart_count == 1 &&
                   (i.state == JobState::running || kakuren::slurm::is_final(i.state));
        },
        120, "running again");
    // (How fast it restarts is measured, not asserted: speed belongs in bench/.)
    std::cout << "requeue call: " << requeue_s << " s; requeue -> running: " << seconds_since(t0)
              << " s\n";
    const JobInfo info = wait_final(client, id);
    EXPECT_EQ(info.state, JobState::completed);
    EXPECT_EQ(info.restart_count, 1);
    // Slurm appends its own line about the requeue between the two runs (open mode append).
    EXPECT_TRUE(
        std::regex_match(read_file(out), std::regex("run 0\n(.*DUE TO JOB REQUEUE.*\n)*run 1\n")))
        << read_file(out);
}

TEST(SlurmClientCluster, JobRequeuingItselfRestartsAtOnce) {
    auto client = Client::connect();
    const fs::path dir = test_dir("requeue-self");
    const auto id = client.submit(
        make_spec(dir, "kk-requeue-self",
                  "echo run ${SLURM_RESTART_COUNT:-0} at $(date +%s.%N)\n"
                  "[ \"${SLURM_RESTART_COUNT:-0}\" = 0 ] && exec " KAKUREN_SLURM_REQUEUE_SELF "\n"
                  "exit 0\n"));
    const JobInfo info = wait_final(client, id);
    EXPECT_EQ(info.state, JobState::completed);
    EXPECT_EQ(info.restart_count, 1);
    const std::string out = read_file(dir / (std::to_string(id) + ".out"));
    std::smatch m;
    ASSERT_TRUE(std::regex_search(
        out, m, std::regex("run 0 at [0-9.]+\nrequeue at ([0-9.]+)\n(.*\n)*run 1 at ([0-9.]+)\n")))
        << out;
    const double restart_s = std::stod(m[3]) - std::stod(m[1]);
    std::cout << "self requeue -> restarted script: " << restart_s << " s (not asserted)\n";
}

TEST(SlurmClientCluster, TwoNodeJobRunsOnBothNodes) {
    auto client = Client::connect();
    const fs::path dir = test_dir("two-nodes");
    JobSpec spec = make_spec(dir, "kk-two-nodes", "srun hostname | sort\n");
    spec.nodes = 2;
    spec.ntasks_per_node = 1;
    const auto id = client.submit(spec);
    const JobInfo info = wait_final(client, id);
    EXPECT_EQ(info.state, JobState::completed);
    EXPECT_EQ(info.nodes, "n[1-2]");
    EXPECT_EQ(kakuren::slurm::expand_hostlist(info.nodes), (std::vector<std::string>{"n1", "n2"}));
    EXPECT_EQ(read_file(dir / (std::to_string(id) + ".out")), "n1\nn2\n");
}

TEST(SlurmClientCluster, SignalReachesBatchShell) {
    auto client = Client::connect();
    const fs::path dir = test_dir("signal");
    const auto id = client.submit(make_spec(dir, "kk-signal",
                                            "trap 'echo got USR1; exit 0' USR1\n"
                                            "echo ready\n"
                                            "sleep 300 & wait $!\n"
                                            "exit 1\n"));
    wait_state(client, id, JobState::running);
    const fs::path out = dir / (std::to_string(id) + ".out");
    EXPECT_TRUE(kakuren::testing::wait_until([&] { return read_file(out) == "ready\n"; }));
    client.signal_job(id, SIGUSR1);
    const JobInfo info = wait_final(client, id);
    EXPECT_EQ(info.state, JobState::completed);
    EXPECT_EQ(read_file(out), "ready\ngot USR1\n");
    EXPECT_THROW(client.signal_job(id, SIGUSR1), SlurmError); // no longer running
}

TEST(SlurmClientCluster, QueryOfUnknownJobIsEmpty) {
    auto client = Client::connect();
    EXPECT_EQ(client.query(999999), std::nullopt);
    EXPECT_TRUE(client.query_array(999999).empty());
}

TEST(SlurmClientCluster, ControllerDownFailsWithinTimeout) {
    const auto conf = kakuren::slurm::config_file();
    ASSERT_TRUE(conf) << "SLURM_CONF does not name the test cluster's slurm.conf";
    const fs::path dir = test_dir("controller-down");
    // A port on the controller's address that is bound but not listening: refused.
    const auto controller = kakuren::slurm::read_controller_address(*conf);
    ASSERT_TRUE(controller);
    const ClosedPort closed(controller->host);
    const int port = closed.port();
    const std::string text =
        std::regex_replace(read_file(*conf), std::regex("SlurmctldPort=[0-9]+"),
                           "SlurmctldPort=" + std::to_string(port));
    write_file(dir / "slurm.conf", text);
    ScopedEnv env("SLURM_CONF", (dir / "slurm.conf").string());
    EXPECT_FALSE(Client::available(1.0));
    const auto t0 = Clock::now();
    try {
        Client::connect(1.0);
        FAIL() << "connect succeeded to a controller port nobody listens on";
    } catch (const SlurmError& e) {
        const std::string what = e.what();
        std::cout << "controller down -> error: " << seconds_since(t0) << " s: " << what << "\n";
        EXPECT_NE(what.find(":" + std::to_string(port) +
                            ") is not reachable: connection refused; "
                            "is slurmctld running?"),
                  std::string::npos)
            << what;
    }
}

} // namespace

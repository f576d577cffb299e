#include "util/mllog.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "support/temp_dir.hpp"
#include "util/error.hpp"
#include "util/system.hpp"

namespace fs = std::filesystem;
using kakuren::util::Json;
using kakuren::util::JsonArray;
using kakuren::util::JsonObject;
using kakuren::util::MlLog;
using kakuren::util::mllog_line;
using kakuren::util::source_relative_path;

namespace {

using kakuren::testing::TempDir;

std::vector<std::string> read_lines(const fs::path& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

std::int64_t time_ms_of(const std::string& line) {
    std::smatch m;
    const std::regex re(R"("time_ms": (\d+))");
    if (!std::regex_search(line, m, re))
        return -1;
    return std::stoll(m[1]);
}

} // namespace

TEST(MlLogLine, MatchesTheMlcommonsFormat) {
    EXPECT_EQ(mllog_line(1764158401851, "run_start", Json::null(), {}, "trainer/loop.cpp", 81),
              R"(:::MLLOG {"namespace": "", "time_ms": 1764158401851, "event_type": )"
              R"("INTERVAL_START", "key": "run_start", "value": null, "metadata": )"
              R"({"file": "trainer/loop.cpp", "lineno": 81}})");
}

TEST(MlLogLine, PutsFileAndLinenoBeforeTheCallersMetadata) {
    EXPECT_EQ(mllog_line(5, "eval_accuracy", Json(0.875), {{"epoch_num", Json(3)}},
                         "trainer/loop.cpp", 120),
              R"(:::MLLOG {"namespace": "", "time_ms": 5, "event_type": "POINT_IN_TIME", )"
              R"("key": "eval_accuracy", "value": 0.875, "metadata": {"file": )"
              R"("trainer/loop.cpp", "lineno": 120, "epoch_num": 3}})");
    EXPECT_EQ(mllog_line(7, "run_stop", Json(),
                         {{"status", Json("aborted")}, {"epoch_num", Json(15)}}, "cli/run.cpp", 9),
              R"(:::MLLOG {"namespace": "", "time_ms": 7, "event_type": "INTERVAL_END", )"
              R"("key": "run_stop", "value": null, "metadata": {"file": "cli/run.cpp", )"
              R"("lineno": 9, "status": "aborted", "epoch_num": 15}})");
}

TEST(MlLogLine, WritesListsStringsAndBooleansAsJson) {
    EXPECT_EQ(mllog_line(1, "opt_learning_rate_decay_boundary_epochs",
                         Json(JsonArray{Json(10), Json(13)}), {}, "a.cpp", 1),
              R"(:::MLLOG {"namespace": "", "time_ms": 1, "event_type": "POINT_IN_TIME", )"
              R"("key": "opt_learning_rate_decay_boundary_epochs", "value": [10, 13], )"
              R"("metadata": {"file": "a.cpp", "lineno": 1}})");
    EXPECT_EQ(mllog_line(1, "submission_org", Json("A \"quoted\"\norg"), {}, "a.cpp", 2),
              R"(:::MLLOG {"namespace": "", "time_ms": 1, "event_type": "POINT_IN_TIME", )"
              R"("key": "submission_org", "value": "A \"quoted\"\norg", )"
              R"("metadata": {"file": "a.cpp", "lineno": 2}})");
    EXPECT_EQ(
        mllog_line(1, "cache_clear", Json(true), {}, "a.cpp", 3),
        R"(:::MLLOG {"namespace": "", "time_ms": 1, "event_type": "POINT_IN_TIME", )"
        R"("key": "cache_clear", "value": true, "metadata": {"file": "a.cpp", "lineno": 3}})");
}

TEST(MlLogLine, ACallersFileAndLinenoReplaceTheCallSite) {
    EXPECT_EQ(
        mllog_line(1, "seed", Json(7), {{"lineno", Json(5)}, {"file", Json("x.py")}}, "a.cpp", 2),
        R"(:::MLLOG {"namespace": "", "time_ms": 1, "event_type": "POINT_IN_TIME", )"
        R"("key": "seed", "value": 7, "metadata": {"file": "x.py", "lineno": 5}})");
}

TEST(MlLogLine, EventTypeFollowsTheKeySuffix) {
    const auto type_of = [](std::string_view key) {
        const std::string line = mllog_line(0, key, Json(), {}, "f", 1);
        const auto at = line.find(R"("event_type": ")") + 15;
        return line.substr(at, line.find('"', at) - at);
    };
    EXPECT_EQ(type_of("init_start"), "INTERVAL_START");
    EXPECT_EQ(type_of("staging_start"), "INTERVAL_START");
    EXPECT_EQ(type_of("epoch_stop"), "INTERVAL_END");
    EXPECT_EQ(type_of("eval_stop"), "INTERVAL_END");
    EXPECT_EQ(type_of("seed"), "POINT_IN_TIME");
    EXPECT_EQ(type_of("start"), "POINT_IN_TIME");
    EXPECT_EQ(type_of("start_time"), "POINT_IN_TIME");
    EXPECT_EQ(type_of("stopped"), "POINT_IN_TIME");
}

TEST(MlLogPath, IsRelativeToTheSourceRoot) {
    EXPECT_EQ(source_relative_path("/home/me/src/kakuren/trainer/loop.cpp"), "trainer/loop.cpp");
    EXPECT_EQ(source_relative_path("/build/x/cli/run.cpp"), "cli/run.cpp");
    EXPECT_EQ(source_relative_path("trainer/loop.cpp"), "trainer/loop.cpp");
    EXPECT_EQ(source_relative_path("/srv/kakuren/tests/util/mllog_test.cpp"),
              "tests/util/mllog_test.cpp");
    // The longest suffix that starts at a project folder.
    EXPECT_EQ(source_relative_path("/srv/kakuren/launcher/util/x.cpp"), "launcher/util/x.cpp");
    EXPECT_EQ(source_relative_path("/usr/include/other.hpp"), "other.hpp");
    EXPECT_EQ(source_relative_path("plain.cpp"), "plain.cpp");
}

TEST(MlLog, RecordsTheCallSite) {
    TempDir dir;
    const fs::path path = dir.path() / "mllog.txt";
    unsigned line = 0;
    {
        MlLog log(path);
        line = __LINE__ + 1;
        log.event("seed", Json(42));
    }
    const auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), 1U);
    EXPECT_NE(lines[0].find(R"("key": "seed", "value": 42, "metadata": {"file": )"
                            R"("tests/util/mllog_test.cpp", "lineno": )" +
                            std::to_string(line) + "}}"),
              std::string::npos)
        << lines[0];
    EXPECT_TRUE(lines[0].starts_with(":::MLLOG {\"namespace\": \"\", \"time_ms\": "));
}

TEST(MlLog, AppendsAcrossInstancesAndCreatesFolders) {
    TempDir dir;
    const fs::path path = dir.path() / "runs" / "r1" / "mllog.txt";
    {
        MlLog log(path);
        EXPECT_TRUE(log.enabled());
        EXPECT_EQ(log.path(), path);
        log.event("init_start");
        log.event("init_stop");
    }
    {
        MlLog resumed(path);
        resumed.event("run_start");
    }
    const auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), 3U);
    EXPECT_NE(lines[0].find("\"key\": \"init_start\""), std::string::npos);
    EXPECT_NE(lines[1].find("\"key\": \"init_stop\""), std::string::npos);
    EXPECT_NE(lines[2].find("\"key\": \"run_start\""), std::string::npos);
}

TEST(MlLog, TimeNeverGoesBackwardsEvenAcrossAResume) {
    TempDir dir;
    const fs::path path = dir.path() / "mllog.txt";
    // An earlier attempt logged on a clock that ran ahead of ours.
    const std::int64_t future = kakuren::util::now_ms() + 3'600'000;
    {
        std::ofstream out(path);
        out << mllog_line(future, "epoch_stop", Json(), {{"epoch_num", Json(2)}}, "t.cpp", 1)
            << '\n';
    }
    {
        MlLog log(path);
        for (int i = 0; i < 20; ++i)
            log.event("epoch_start", Json(), {{"epoch_num", Json(3 + i)}});
    }
    const auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), 21U);
    std::int64_t previous = 0;
    for (const auto& line : lines) {
        const std::int64_t t = time_ms_of(line);
        EXPECT_GE(t, previous) << line;
        previous = t;
    }
    EXPECT_EQ(time_ms_of(lines.back()), future);
}

TEST(MlLog, DefaultConstructedWritesNothing) {
    MlLog log;
    EXPECT_FALSE(log.enabled());
    EXPECT_NO_THROW(log.event("run_start"));
}

TEST(MlLog, UnopenablePathThrowsRuntimeFailureNamingIt) {
    TempDir dir;
    const fs::path blocker = dir.path() / "file";
    std::ofstream(blocker) << "x";
    const fs::path path = blocker / "mllog.txt"; // parent is a regular file
    try {
        MlLog log(path);
        FAIL() << "expected RuntimeFailure";
    } catch (const kakuren::RuntimeFailure& e) {
        EXPECT_NE(std::string(e.what()).find(blocker.string()), std::string::npos) << e.what();
    }
}

TEST(MlLog, LinesFromSeveralThreadsStayWhole) {
    TempDir dir;
    const fs::path path = dir.path() / "mllog.txt";
    {
        MlLog log(path);
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&log, t] {
                for (int i = 0; i < 50; ++i)
                    log.event("train_loss", Json(0.5), {{"thread", Json(t)}, {"i", Json(i)}});
            });
        for (auto& thread : threads)
            thread.join();
    }
    const auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), 200U);
    for (const auto& line : lines) {
        EXPECT_TRUE(line.starts_with(":::MLLOG {\"namespace\"")) << line;
        EXPECT_TRUE(line.ends_with("}}")) << line;
    }
}

TEST(CutMlLog, CutsTheLogBackToItsLengthAtTheCheckpoint) {
    TempDir dir;
    const fs::path path = dir / "mllog.txt";
    {
        MlLog log(path);
        log.event("run_start");
    }
    const auto at_checkpoint = static_cast<std::int64_t>(fs::file_size(path));
    {
        MlLog log(path);
        log.event("epoch_start");
    }
    std::ofstream(path, std::ios::app) << ":::MLLOG {\"half\": "; // a line cut by a kill
    kakuren::util::cut_mllog(path, at_checkpoint);
    const auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), 1U);
    EXPECT_NE(lines[0].find("\"key\": \"run_start\""), std::string::npos);
}

TEST(CutMlLog, LeavesAMissingOrShorterLogAsItIs) {
    TempDir dir;
    const fs::path path = dir / "mllog.txt";
    kakuren::util::cut_mllog(path, 100); // missing: a warning, nothing written
    EXPECT_FALSE(fs::exists(path));
    std::ofstream(path) << "short\n";
    kakuren::util::cut_mllog(path, 100); // shorter than at the checkpoint: continued as it is
    EXPECT_EQ(fs::file_size(path), 6U);
}

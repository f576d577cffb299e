// The MLPerf log check: a valid log passes; each mutation of it (written as data: what to change,
// the message it must produce) is caught.
#include "report/mllog_check.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

#include "support/temp_dir.hpp"
#include "synthetic_workspace.hpp"

namespace fs = std::filesystem;
using namespace kakuren;
using report::analyze_mllog;

namespace {

using kakuren::testing::TempDir;

/// A valid log of a finished 3-epoch run, as lines.
std::vector<std::string> valid_log() {
    static const std::vector<std::string> lines = [] {
        TempDir dir;
        db::Store store = db::Store::open(dir.path() / "kakuren.db");
        report::testing::SyntheticRun spec;
        spec.epochs = 3;
        const auto r = report::testing::add_synthetic_run(store, dir.path(), spec);
        std::ifstream in(r.run_dir / "mllog.txt");
        std::vector<std::string> out;
        for (std::string line; std::getline(in, line);) {
            out.push_back(line);
        }
        return out;
    }();
    return lines;
}

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const std::string& l : lines) {
        out += l + "\n";
    }
    return out;
}

std::string key_tag(const std::string& key) {
    return "\"key\": \"" + key + "\"";
}

/// Index of the n-th (0-based) line with this key.
std::size_t find_key(const std::vector<std::string>& lines, const std::string& key, int nth = 0) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].find(key_tag(key)) != std::string::npos && nth-- == 0) {
            return i;
        }
    }
    ADD_FAILURE() << "no record " << key;
    return 0;
}

using Mutation = std::function<void(std::vector<std::string>&)>;

Mutation drop_record(const std::string& key, int nth = 0) {
    return [=](std::vector<std::string>& l) {
        l.erase(l.begin() + static_cast<std::ptrdiff_t>(find_key(l, key, nth)));
    };
}

Mutation replace(const std::string& key, const std::string& pattern, const std::string& with,
                 int nth = 0) {
    return [=](std::vector<std::string>& l) {
        std::string& line = l[find_key(l, key, nth)];
        line = std::regex_replace(line, std::regex(pattern), with,
                                  std::regex_constants::format_first_only);
    };
}

Mutation move_before(const std::string& key, const std::string& before) {
    return [=](std::vector<std::string>& l) {
        const std::size_t from = find_key(l, key);
        const std::string line = l[from];
        l.erase(l.begin() + static_cast<std::ptrdiff_t>(from));
        l.insert(l.begin() + static_cast<std::ptrdiff_t>(find_key(l, before)), line);
    };
}

Mutation duplicate(const std::string& key) {
    return [=](std::vector<std::string>& l) {
        const std::size_t at = find_key(l, key);
        l.insert(l.begin() + static_cast<std::ptrdiff_t>(at), l[at]);
    };
}

Mutation append(const std::string& line) {
    return [=](std::vector<std::string>& l) { l.push_back(line); };
}

struct Case {
    const char* name;
    Mutation mutate;
    const char* message; ///< a problem must contain this
};

} // namespace

TEST(MllogCheck, ValidLogHasNoProblemsAndGivesTimings) {
    const auto lines = valid_log();
    const auto a = analyze_mllog(join(lines), "mllog.txt", false);
    EXPECT_TRUE(a.problems.empty())
        << a.problems.front().line << ": " << a.problems.front().message;
    EXPECT_TRUE(a.notes.empty());
    EXPECT_EQ(a.num_records, lines.size());
    EXPECT_EQ(a.segments, 1);
    EXPECT_NEAR(a.init_s, 0.4, 1e-9);
    ASSERT_TRUE(a.time_to_train_s());
    EXPECT_GT(*a.time_to_train_s(), 2.0);
    EXPECT_EQ(a.run_stop_status, "aborted");
    ASSERT_EQ(a.epochs.size(), 3U);
    EXPECT_EQ(a.epochs[2].epoch, 3);
    ASSERT_TRUE(a.epochs[0].eval_accuracy);
    EXPECT_EQ(a.values.at("seed").as_int(), 1);
    EXPECT_EQ(a.values.at("hiding_strategy").as_string(), "kakurenbo");
}

TEST(MllogCheck, EachMutationIsReported) {
    const std::vector<Case> cases = {
        {"missing train_samples", drop_record("train_samples"),
         "required record train_samples is missing from the init phase"},
        {"missing eval_error", drop_record("eval_error"), "epoch 1 has no eval_error"},
        {"missing eval_start", drop_record("eval_start", 1),
         "eval_accuracy before eval_start in epoch 2"},
        {"run_start before init_stop", move_before("run_start", "init_stop"),
         "run_start before init_stop"},
        {"eval_error not 1 - accuracy",
         replace("eval_error", R"("value": [0-9.e-]+)", R"("value": 0.5)"),
         "eval_error is not 1 - eval_accuracy in epoch 1"},
        {"no call site", replace("seed", R"("file": "trainer/loop.cpp", )", ""),
         "seed: metadata lacks the call site's \"file\" and \"lineno\""},
        {"time goes back", replace("eval_accuracy", R"("time_ms": [0-9]+)", R"("time_ms": 1)", 1),
         "eval_accuracy: time_ms 1 is earlier than the record before"},
        {"epoch skipped", replace("epoch_start", R"("epoch_num": 2)", R"("epoch_num": 3)", 1),
         "epoch_start: epoch_num 3, expected 2"},
        {"epoch_num missing", replace("train_loss", R"(, "epoch_num": 1)", ""),
         "train_loss: metadata.epoch_num is missing, expected 1"},
        {"duplicate train_samples", duplicate("train_samples"),
         "train_samples logged more than once; MLPerf requires it exactly once"},
        {"seed as a string", replace("seed", R"("value": 1)", R"("value": "1")"),
         "seed: value should be an integer > 0"},
        {"wrong event type", replace("run_start", "INTERVAL_START", "POINT_IN_TIME"),
         "run_start: event_type is \"POINT_IN_TIME\", expected \"INTERVAL_START\""},
        {"no run_stop", drop_record("run_stop"), "no run_stop: the log ends at line"},
        {"garbage line", append("hello"), "not a :::MLLOG record"},
        {"broken JSON", append(":::MLLOG {\"key\": "), "invalid JSON at byte"},
        {"run_stop without status", replace("run_stop", R"(, "status": "aborted")", ""),
         "run_stop: metadata.status is \"\", expected \"success\" or \"aborted\""},
        {"record after run_stop",
         append(
             R"(:::MLLOG {"namespace": "", "time_ms": 1890000000000, "event_type": "POINT_IN_TIME", "key": "train_loss", "value": 1.0, "metadata": {"file": "x.cpp", "lineno": 1, "epoch_num": 3}})"),
         "train_loss after run_stop"},
        {"init key after init_stop", move_before("opt_momentum", "run_start"),
         "opt_momentum logged after init_stop; it belongs to the init phase"},
        {"no value", replace("init_stop", R"("value": null, )", ""),
         "init_stop: no \"value\" (write null when there is none)"},
    };
    for (const Case& c : cases) {
        auto lines = valid_log();
        c.mutate(lines);
        const auto a = analyze_mllog(join(lines), "mllog.txt", false);
        std::string all;
        bool found = false;
        for (const auto& p : a.problems) {
            all += "  " + std::to_string(p.line) + ": " + p.message + "\n";
            found = found || p.message.find(c.message) != std::string::npos;
        }
        EXPECT_TRUE(found) << c.name << ": expected \"" << c.message << "\" among:\n" << all;
    }
}

TEST(MllogCheck, ProblemsCarryTheirLine) {
    auto lines = valid_log();
    const std::size_t at = find_key(lines, "eval_error");
    replace("eval_error", R"("value": [0-9.e-]+)", R"("value": 0.5)")(lines);
    const auto a = analyze_mllog(join(lines), "mllog.txt", false);
    ASSERT_EQ(a.problems.size(), 1U);
    EXPECT_EQ(a.problems[0].line, static_cast<int>(at) + 1);
}

TEST(MllogCheck, ARunningRunMissesRunStopWithoutProblems) {
    auto lines = valid_log();
    lines.resize(find_key(lines, "eval_start", 2)); // in the middle of epoch 3
    const auto running = analyze_mllog(join(lines), "mllog.txt", true);
    EXPECT_TRUE(running.problems.empty()) << running.problems.front().message;
    ASSERT_EQ(running.notes.size(), 2U);
    EXPECT_EQ(running.notes[0], "epoch 3 is still running");
    EXPECT_EQ(running.notes[1], "no run_stop yet: the run is still running");
    EXPECT_FALSE(running.time_to_train_s());
    EXPECT_TRUE(running.elapsed_s());

    const auto crashed = analyze_mllog(join(lines), "mllog.txt", false);
    ASSERT_EQ(crashed.problems.size(), 2U);
    EXPECT_EQ(crashed.problems[0].message, "epoch 3 has no epoch_stop");
    EXPECT_NE(crashed.problems[1].message.find("no run_stop"), std::string::npos);
}

TEST(MllogCheck, AResumedAttemptStartsANewSegment) {
    auto lines = valid_log();
    const std::size_t cut = find_key(lines, "epoch_start", 2);
    std::vector<std::string> resumed(lines.begin(),
                                     lines.begin() + static_cast<std::ptrdiff_t>(cut));
    // The second attempt repeats the init block and continues with epoch 3.
    const std::size_t init_end = find_key(lines, "run_start");
    resumed.insert(resumed.end(), lines.begin(),
                   lines.begin() + static_cast<std::ptrdiff_t>(init_end) + 1);
    resumed.insert(resumed.end(), lines.begin() + static_cast<std::ptrdiff_t>(cut), lines.end());
    // Times must not go back: shift nothing, the check tolerates equal times only; rewrite the
    // copied init block's times to the cut's time.
    const std::string cut_time =
        std::regex_replace(lines[cut], std::regex(R"(.*"time_ms": ([0-9]+).*)"), "$1");
    for (std::size_t i = cut; i < cut + init_end + 1; ++i) {
        resumed[i] = std::regex_replace(resumed[i], std::regex(R"("time_ms": [0-9]+)"),
                                        "\"time_ms\": " + cut_time);
    }
    const auto a = analyze_mllog(join(resumed), "mllog.txt", false);
    EXPECT_TRUE(a.problems.empty()) << a.problems.front().message;
    EXPECT_EQ(a.segments, 2);
    ASSERT_EQ(a.notes.size(), 1U);
    EXPECT_NE(a.notes[0].find("attempt 1 ended without run_stop"), std::string::npos);
}

TEST(MllogCheck, AResumeRecordIsANoteNotAProblem) {
    for (const int after_epoch : {1, 2}) {
        auto lines = valid_log();
        // At an epoch end (between epochs), and inside an epoch (after its epoch_start).
        const std::size_t at = after_epoch == 1 ? find_key(lines, "epoch_stop") + 1
                                                : find_key(lines, "epoch_start", 1) + 1;
        const std::string time =
            std::regex_replace(lines[at - 1], std::regex(R"(.*"time_ms": ([0-9]+).*)"), "$1");
        lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at),
                     ":::MLLOG {\"namespace\": \"\", \"time_ms\": " + time +
                         ", \"event_type\": \"POINT_IN_TIME\", \"key\": \"resume\", "
                         "\"value\": \"0001-end\", \"metadata\": {\"file\": \"trainer/loop.cpp\", "
                         "\"lineno\": 930, \"epoch_num\": " +
                         std::to_string(after_epoch) + ", \"step\": 0}}");
        const auto a = analyze_mllog(join(lines), "mllog.txt", false);
        EXPECT_TRUE(a.problems.empty()) << a.problems.front().message;
        ASSERT_EQ(a.notes.size(), 1U);
        EXPECT_EQ(a.notes[0],
                  "line " + std::to_string(at + 1) + ": resumed from checkpoint 0001-end");
    }
}

TEST(MllogCheck, CrossCheckAgainstTheDatabase) {
    auto a = analyze_mllog(join(valid_log()), "mllog.txt", false);
    const double acc1 = *a.epochs[0].eval_accuracy;
    report::LogExpectations ok{"finished", 1, 2048, "kakurenbo", {{1, acc1}}};
    report::cross_check(a, ok);
    EXPECT_TRUE(a.problems.empty()) << a.problems.front().message;

    report::LogExpectations bad{"succeeded", 2, 1000, "none", {{1, acc1 + 0.01}, {9, 0.5}}};
    report::cross_check(a, bad);
    std::vector<std::string> messages;
    for (const auto& p : a.problems) {
        messages.push_back(p.message);
    }
    ASSERT_EQ(messages.size(), 6U);
    EXPECT_EQ(messages[0], "run_stop says aborted but the database says the run succeeded");
    EXPECT_EQ(messages[1], "seed is 1 in the log but 2 in the database");
    EXPECT_EQ(messages[2], "train_samples is 2048 in the log but the database has 1000 training "
                           "samples");
    EXPECT_EQ(messages[3], "hiding_strategy is \"kakurenbo\" in the log but \"none\" in the "
                           "database");
    EXPECT_NE(messages[4].find("epoch 1: eval_accuracy"), std::string::npos);
    EXPECT_EQ(messages[5], "1 epoch(s) recorded in the database have no eval_accuracy in the "
                           "log (first: epoch 9)");
}

// A regression run (MAE, an error metric) logs eval_error alone: the log is valid, and the cross
// check compares eval_error with the database's value. The same log under an accuracy metric
// misses eval_accuracy. (Before, every CosmoFlow run's report showed 5 problems.)
TEST(MllogCheck, AnErrorMetricLogsEvalErrorAloneAndIsCheckedByIt) {
    std::vector<std::string> lines = valid_log();
    std::vector<double> mae;
    for (std::size_t i = 0; i < lines.size();) {
        if (lines[i].find(key_tag("eval_accuracy")) != std::string::npos) {
            lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
            if (lines[i].find(key_tag("eval_error")) != std::string::npos) {
                const std::string v =
                    std::regex_replace(lines[i], std::regex(R"(.*"value": ([0-9.e-]+).*)"), "$1");
                mae.push_back(std::stod(v));
            }
            ++i;
        }
    }
    ASSERT_EQ(mae.size(), 3U);
    auto a = analyze_mllog(join(lines), "mllog.txt", false);
    EXPECT_TRUE(a.problems.empty()) << a.problems.front().message;
    ASSERT_EQ(a.epochs.size(), 3U);
    ASSERT_TRUE(a.epochs[1].eval_error);
    EXPECT_DOUBLE_EQ(*a.epochs[1].eval_error, mae[1]);
    EXPECT_TRUE(a.epochs[1].eval_ms);

    report::LogExpectations as_mae{"finished", 1, 2048, "kakurenbo", {{1, mae[0]}, {2, mae[1]}}};
    as_mae.metric_key = util::mlperf::key::eval_error;
    report::cross_check(a, as_mae);
    EXPECT_TRUE(a.problems.empty()) << a.problems.front().message;
    as_mae.accuracies = {{1, mae[0] + 0.01}};
    report::cross_check(a, as_mae);
    ASSERT_EQ(a.problems.size(), 1U);
    EXPECT_NE(a.problems[0].message.find("epoch 1: eval_error"), std::string::npos);

    auto b = analyze_mllog(join(lines), "mllog.txt", false);
    report::cross_check(b, {"finished", 1, 2048, "kakurenbo", {{1, 1 - mae[0]}}});
    ASSERT_EQ(b.problems.size(), 1U);
    EXPECT_EQ(b.problems[0].message, "1 epoch(s) recorded in the database have no eval_accuracy "
                                     "in the log (first: epoch 1)");
}

TEST(MllogCheck, MissingFileIsOneProblem) {
    const auto a = report::read_mllog("/nonexistent/mllog.txt", false);
    EXPECT_FALSE(a.found);
    ASSERT_EQ(a.problems.size(), 1U);
    EXPECT_EQ(a.problems[0].message, "no MLPerf log at /nonexistent/mllog.txt (file missing)");
}

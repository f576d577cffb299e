// kakuren tune end to end: real tiny trainings (the synthetic blobs of synthetic_tiny.toml), the
// rounds of successive halving read back from the database, the JSON and the table, bad input,
// and a tune killed with SIGKILL and resumed.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "db/store.hpp"
#include "db/tunes.hpp"
#include "report/json_reader.hpp"
#include "support/files.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace fs = std::filesystem;

namespace {

using kakuren::report::JsonValue;
using kakuren::testing::Output;

/// A slower learning rate keeps the tiny problem's curves rising for 8 epochs (none: 22 % after
/// 1, 84 % after 8), and a target most candidates do not reach in them, so that their times
/// to it are projected from their curves.
const std::string k_settings = " --set task.target=0.88 --set schedule.epochs=8"
                               " --set schedule.milestones=[7] --set optimizer.lr=0.01";
/// 4 hiding candidates + none, eta 2, 24 epochs: rounds to epoch 2 (5 runs), 4 (none + 2),
/// 8 (none + 1): 5x2 + 3x2 + 2x4 = 24.
const std::string k_tries = " --try rotate --try kakurenbo --try random --try infobatch";

class TuneE2E : public ::testing::Test {
  protected:
    void SetUp() override {
        m_ws = kakuren::testing::make_temp_dir("kakuren-tune-e2e");
        fs::copy_file(fs::path(KAKUREN_SOURCE_DIR) / "recipes/synthetic_tiny.toml",
                      m_ws / "tiny.toml");
    }
    void TearDown() override { fs::remove_all(m_ws); }

    Output kakuren(const std::string& args) {
        return kakuren::testing::run_shell("cd " + kakuren::testing::quoted(m_ws.string()) +
                                               " && '" KAKUREN_BIN "' " + args + " --workspace .",
                                           m_ws);
    }
    kakuren::db::Store store() { return kakuren::db::Store::open(m_ws / "kakuren.db"); }

    /// True once the workspace has a run whose second (or later) attempt is running.
    bool a_run_is_in_its_second_attempt() {
        if (!fs::exists(m_ws / "kakuren.db")) {
            return false;
        }
        auto db = store();
        for (const auto& run : db.list_runs()) {
            const auto attempts = db.attempts(run.id);
            if (attempts.size() >= 2 && attempts.back().status == "running") {
                return true;
            }
        }
        return false;
    }

    fs::path m_ws;
};

JsonValue parse(const Output& r) {
    return kakuren::report::parse_json(r.out);
}

/// The candidates' numbers in ranked order.
std::vector<std::int64_t> ranking(const JsonValue& j) {
    std::vector<std::int64_t> out;
    for (const JsonValue& c : j["candidates"].as_array()) {
        out.push_back(c["candidate"].as_int());
    }
    return out;
}

TEST_F(TuneE2E, HalvesTheCandidatesAndContinuesTheSurvivorsRuns) {
    const Output r = kakuren("tune tiny.toml" + k_settings + k_tries +
                             " --budget 24 --rank-by work --format json");
    ASSERT_EQ(r.code, 0) << r.err << r.out;
    const JsonValue j = parse(r);
    const auto& rounds = j["rounds"].as_array();
    ASSERT_EQ(rounds.size(), 3U) << r.out;
    const std::vector<std::pair<int, std::size_t>> expected{{2, 5}, {4, 3}, {8, 2}};
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(rounds[i]["epochs"].as_int(), expected[i].first);
        EXPECT_EQ(rounds[i]["survivors"].size(), expected[i].second);
    }

    auto db = store();
    const auto tune = kakuren::db::find_tune(db, j["tune_id"].as_string());
    ASSERT_TRUE(tune);
    EXPECT_EQ(tune->status, "done");
    std::set<std::string> runs;
    for (const JsonValue& c : j["candidates"].as_array()) {
        const std::string id = c["run_id"].as_string();
        runs.insert(id);
        const auto run = db.find_run(id);
        ASSERT_TRUE(run);
        EXPECT_EQ(run->sweep, tune->id) << "the trials are the tune's sweep";
        const int last_round = static_cast<int>(c["last_round"].as_int());
        const int epochs = expected[static_cast<std::size_t>(last_round - 1)].first;
        // One run per candidate, continued: its epochs 1..e recorded once each, one attempt
        // per round it took part in, every earlier one paused at that round's epochs.
        const auto rows = db.epochs(id);
        ASSERT_EQ(static_cast<int>(rows.size()), epochs) << c["label"].as_string();
        for (int e = 0; e < epochs; ++e) {
            EXPECT_EQ(rows[static_cast<std::size_t>(e)].epoch, e + 1);
        }
        const auto attempts = db.attempts(id);
        ASSERT_EQ(static_cast<int>(attempts.size()), last_round) << c["label"].as_string();
        for (int a = 0; a + 1 < last_round; ++a) {
            EXPECT_EQ(attempts[static_cast<std::size_t>(a)].status, "interrupted");
            EXPECT_EQ(attempts[static_cast<std::size_t>(a)].reason,
                      "paused by kakuren tune after " +
                          std::to_string(expected[static_cast<std::size_t>(a)].first) +
                          " epochs; resumable from checkpoint " +
                          (a == 0 ? "0002-end" : "0004-end"));
        }
    }
    EXPECT_EQ(runs.size(), 5U) << "never retrained: one run per candidate";
    EXPECT_EQ(rounds[2]["survivors"][0].as_int() == 0 ? rounds[2]["survivors"][1].as_int()
                                                      : rounds[2]["survivors"][0].as_int(),
              j["candidates"][0]["candidate"].as_int() == 0
                  ? j["candidates"][1]["candidate"].as_int()
                  : j["candidates"][0]["candidate"].as_int())
        << "the last round's hiding survivor is the best hiding candidate";
}

TEST_F(TuneE2E, TableJsonAndVerdictFollowTheNumbers) {
    const Output r = kakuren("tune tiny.toml" + k_settings +
                             " --try rotate --try kakurenbo:fraction=0.5 --budget 12 --format "
                             "json -o winner.toml");
    ASSERT_EQ(r.code, 0) << r.err << r.out;
    const JsonValue j = parse(r);
    for (const char* key : {"tune_id", "metric", "target", "rank_by", "budget", "rounds",
                            "candidates", "verdict", "winner_recipe"}) {
        EXPECT_NE(j.find(key), nullptr) << key;
    }
    const JsonValue& best = j["candidates"][0];
    for (const char* key : {"rank", "label", "run_id", "epochs", "final_metric", "realised_hidden",
                            "time_to_target_s", "work_to_target_samples", "time_vs_none",
                            "work_vs_none", "confidence"}) {
        EXPECT_NE(best.find(key), nullptr) << key;
    }
    const std::string verdict = j["verdict"].as_string();
    const std::string label = best["label"].as_string();
    if (best["candidate"].as_int() == 0) {
        // Ranked by time: none may win by less than its interval ("is shown to pay") on a busy
        // machine, so either form of the sentence follows the numbers.
        EXPECT_TRUE(
            std::regex_search(verdict, std::regex("^No hiding (pays|is shown to pay) here")))
            << verdict;
    } else if (!best["time_vs_none"].is_null()) {
        const double ratio = best["time_vs_none"]["ratio"].as_double();
        const std::string saving = std::to_string(std::lround((1 - ratio) * 100));
        EXPECT_EQ(verdict.rfind(label + " ", 0), 0U) << verdict;
        // A time projection uncertain by more than a factor of 2 (a busy machine) states no
        // saving; otherwise the saving is the ratio's.
        bool vague = false;
        for (const JsonValue& c : j["candidates"].as_array()) {
            const JsonValue& sigma = c["time_to_target_s"]["log_sigma"];
            const bool winner_or_none = c["candidate"].as_int() == best["candidate"].as_int() ||
                                        c["candidate"].as_int() == 0;
            vague =
                vague || (winner_or_none && c["time_to_target_s"]["kind"].as_string() == "fitted" &&
                          !sigma.is_null() && sigma.as_double() > std::log(2.0));
        }
        if (vague) {
            EXPECT_NE(verdict.find("too uncertain to state a saving"), std::string::npos)
                << verdict;
        } else {
            EXPECT_TRUE(std::regex_search(verdict, std::regex("saves? about " + saving + " %")))
                << verdict << " (ratio " << ratio << ")";
            EXPECT_EQ(verdict.find("±") != std::string::npos,
                      !best["time_vs_none"]["sigma"].is_null())
                << verdict;
        }
    }
    const std::string winner = kakuren::testing::slurp(m_ws / "winner.toml");
    EXPECT_NE(winner.find("strategy = \"" + best["strategy"].as_string() + "\""), std::string::npos)
        << winner;

    const Output again = kakuren("tune --resume " + j["tune_id"].as_string() + " -o winner.toml");
    EXPECT_EQ(again.code, 0) << again.err;
    for (const char* field : {"time to target", "vs none", "work to target", "confidence", "hidden",
                              "round 1: 3 candidates to epoch"}) {
        EXPECT_NE(again.out.find(field), std::string::npos) << field << "\n" << again.out;
    }
    EXPECT_NE(again.out.find(verdict), std::string::npos) << again.out;
    EXPECT_NE(again.err.find("winner.toml exists"), std::string::npos) << again.err;
}

TEST_F(TuneE2E, ADurationBudgetStartsAtOneEpochAndGoesOnWhileTimeIsLeft) {
    // An hour is ample: every round of the unbounded plan, to epochs 1, 2, 4 (5, 3, 2 runs).
    const Output r = kakuren("tune tiny.toml" + k_settings + k_tries +
                             " --budget 1h --rank-by work --format json");
    ASSERT_EQ(r.code, 0) << r.err;
    const JsonValue j = parse(r);
    const std::vector<std::pair<int, std::size_t>> expected{{1, 5}, {2, 3}, {4, 2}};
    ASSERT_EQ(j["rounds"].size(), expected.size()) << r.out;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(j["rounds"][i]["epochs"].as_int(), expected[i].first);
        EXPECT_EQ(j["rounds"][i]["survivors"].size(), expected[i].second);
    }
    EXPECT_EQ(j["budget"].as_string(), "1h");
}

TEST_F(TuneE2E, ADryRunPrintsTheCandidatesAndRoundsAndRecordsNothing) {
    const Output r = kakuren("tune tiny.toml" + k_settings + k_tries + " --budget 24 --dry-run");
    ASSERT_EQ(r.code, 0) << r.err;
    for (const char* line : {"5 candidates, budget 24", "--set hiding.strategy=\"rotate\"",
                             "round 1: 5 candidates to epoch 2", "round 2: 3 candidates to epoch 4",
                             "round 3: 2 candidates to epoch 8"}) {
        EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
    }
    EXPECT_FALSE(fs::exists(m_ws / "kakuren.db"));
}

TEST_F(TuneE2E, BadInputExits2AndRecordsNothing) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {" --set task.target=0.9 --try bogus", "unknown strategy 'bogus'"},
        {" --set task.target=0.9 --try rotate:nope=1", "rotate has no setting 'nope'"},
        {" --set task.target=0.9 --try rotate --try random --budget 2",
         "need at least one epoch each, 3 epochs"},
        {" --try rotate", "the recipe has no target"},
        {" --set task.target=0.9 --try none", "give at least one hiding strategy"},
        {" --set task.target=0.9 --budget 3q", "--budget 3q: expected a number of epochs"},
    };
    for (const auto& [args, message] : cases) {
        const Output r = kakuren("tune tiny.toml" + args);
        EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
        EXPECT_NE(r.err.find(message), std::string::npos) << args << "\n" << r.err;
    }
    EXPECT_EQ(kakuren("tune --resume nothing-like-it").code, 2);
    const Output changed = kakuren("tune --resume some-tune --budget 9");
    EXPECT_EQ(changed.code, 2);
    EXPECT_NE(changed.err.find("continues the tune as it was recorded"), std::string::npos)
        << changed.err;
    EXPECT_EQ(kakuren("tune").code, 2);
    EXPECT_FALSE(fs::exists(m_ws / "kakuren.db")) << "nothing recorded";
    EXPECT_FALSE(fs::exists(m_ws / "tiny.tuned.toml"));

    kakuren::testing::write_file(m_ws / "tiny.tuned.toml", "# mine\n");
    const Output exists = kakuren("tune tiny.toml --set task.target=0.9 --try rotate");
    EXPECT_EQ(exists.code, 2);
    EXPECT_NE(exists.err.find("tiny.tuned.toml exists"), std::string::npos) << exists.err;
    EXPECT_EQ(kakuren::testing::slurp(m_ws / "tiny.tuned.toml"), "# mine\n");
    EXPECT_FALSE(fs::exists(m_ws / "kakuren.db")) << "nothing recorded";
}

TEST_F(TuneE2E, CtrlCStopsTheTuneWithExit75AndItResumes) {
    kakuren::testing::Command cmd;
    cmd.argv = {KAKUREN_BIN,   "tune",   "tiny.toml", "--set",     "task.target=0.88",
                "--try",       "rotate", "--try",     "kakurenbo", "--try",
                "random",      "--try",  "infobatch", "--budget",  "24",
                "--workspace", "."};
    cmd.cwd = m_ws;
    const pid_t pid = kakuren::testing::start(cmd, m_ws / "bg.out", m_ws / "bg.err");
    // Once the first trial has an epoch, the stop handlers are in place, and 23 of the 24
    // epochs are still to come.
    const bool training = kakuren::testing::wait_until(
        [&] {
            if (!fs::exists(m_ws / "kakuren.db")) {
                return false;
            }
            auto db = store();
            const auto runs = db.list_runs();
            return !runs.empty() && !db.epochs(runs.back().id).empty();
        },
        300);
    ASSERT_TRUE(training) << kakuren::testing::slurp(m_ws / "bg.err");
    ASSERT_EQ(kill(pid, SIGINT), 0);
    const int code = kakuren::testing::wait_exit(pid);
    const std::string err = kakuren::testing::slurp(m_ws / "bg.err");
    auto db = store();
    const auto tune = kakuren::db::find_tune(db, db.list_runs().front().sweep);
    ASSERT_TRUE(tune);
    ASSERT_EQ(code, 75) << err;
    EXPECT_NE(err.find("kakuren tune --resume " + tune->id + " continues it"), std::string::npos)
        << err;
    EXPECT_EQ(tune->status, "running");
    const Output resumed = kakuren("tune --resume " + tune->id);
    EXPECT_EQ(resumed.code, 0) << resumed.err;
    EXPECT_EQ(kakuren::db::find_tune(store(), tune->id)->status, "done");
}

/// `kakuren tune` of AKilledTuneResumesToTheSameRanking (k_settings and k_tries, budget 24,
/// ranked by work, in the workspace ws), as an argv to start in the background.
kakuren::testing::Command killed_tune_command(const fs::path& ws) {
    kakuren::testing::Command cmd;
    cmd.argv = {KAKUREN_BIN,
                "tune",
                "tiny.toml",
                "--set",
                "task.target=0.88",
                "--set",
                "schedule.epochs=8",
                "--set",
                "schedule.milestones=[7]",
                "--set",
                "optimizer.lr=0.01",
                "--try",
                "rotate",
                "--try",
                "kakurenbo",
                "--try",
                "random",
                "--try",
                "infobatch",
                "--budget",
                "24",
                "--rank-by",
                "work",
                "--workspace",
                ".",
                "-o",
                "killed.toml"};
    cmd.cwd = ws;
    return cmd;
}

/// Checks that a resumed tune ranked, halved and measured its candidates as the uninterrupted
/// one did.
void expect_same_tune(const JsonValue& after, const JsonValue& uninterrupted) {
    EXPECT_EQ(ranking(after), ranking(uninterrupted));
    ASSERT_EQ(after["rounds"].size(), uninterrupted["rounds"].size());
    for (std::size_t i = 0; i < after["rounds"].size(); ++i) {
        EXPECT_EQ(after["rounds"][i]["survivors"].size(),
                  uninterrupted["rounds"][i]["survivors"].size());
        for (std::size_t k = 0; k < after["rounds"][i]["survivors"].size(); ++k) {
            EXPECT_EQ(after["rounds"][i]["survivors"][k].as_int(),
                      uninterrupted["rounds"][i]["survivors"][k].as_int());
        }
    }
    for (std::size_t i = 0; i < after["candidates"].size(); ++i) {
        EXPECT_EQ(after["candidates"][i]["final_metric"].as_double(),
                  uninterrupted["candidates"][i]["final_metric"].as_double())
            << "continued exactly: " << after["candidates"][i]["label"].as_string();
    }
    EXPECT_EQ(after["verdict"].as_string(), uninterrupted["verdict"].as_string());
}

TEST_F(TuneE2E, AKilledTuneResumesToTheSameRanking) {
    const std::string args =
        "tune tiny.toml" + k_settings + k_tries + " --budget 24 " + "--rank-by work --format json";
    const Output whole = kakuren(args + " -o whole.toml");
    ASSERT_EQ(whole.code, 0) << whole.err;
    const JsonValue uninterrupted = parse(whole);
    fs::remove(m_ws / "kakuren.db"); // a fresh workspace for the killed tune
    fs::remove_all(m_ws / "runs");

    const kakuren::testing::Command cmd = killed_tune_command(m_ws);
    const pid_t pid = kakuren::testing::start(cmd, m_ws / "bg.out", m_ws / "bg.err");
    // Killed while a survivor of round 1 is being continued in round 2.
    const bool in_round_2 =
        kakuren::testing::wait_until([&] { return a_run_is_in_its_second_attempt(); }, 300);
    ASSERT_TRUE(in_round_2) << kakuren::testing::slurp(m_ws / "bg.err");
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    EXPECT_EQ(kakuren::testing::wait_exit(pid), 128 + SIGKILL);

    auto db = store();
    const auto tunes = db.list_runs().front().sweep;
    const auto tune = kakuren::db::find_tune(db, tunes);
    ASSERT_TRUE(tune);
    ASSERT_EQ(tune->status, "running") << "killed before its end";
    const Output resumed = kakuren("tune --resume " + tune->id + " --format json -o killed.toml");
    ASSERT_EQ(resumed.code, 0) << resumed.err;
    const JsonValue after = parse(resumed);
    expect_same_tune(after, uninterrupted);
}

} // namespace

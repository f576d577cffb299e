// `kakuren report` end to end: real runs of the tiny synthetic recipe (a hiding run and its
// baseline), every output format, a run killed with SIGKILL, and the HTML page rendered by headless
// Chromium.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "db/store.hpp"
#include "html_probe.hpp"
#include "png.hpp"
#include "report/json_reader.hpp"
#include "support/files.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using kakuren::report::parse_json;

namespace {

using Result = kakuren::testing::Output;
using kakuren::testing::make_temp_dir;
using kakuren::testing::slurp;

/// Runs kakuren with args (a shell fragment) in the source folder on workspace ws.
Result run_kakuren(const fs::path& ws, const std::string& args) {
    return kakuren::testing::run_shell("cd '" KAKUREN_SOURCE_DIR "' && '" KAKUREN_BIN "' " + args +
                                           " --workspace " + kakuren::testing::quoted(ws.string()),
                                       ws);
}

std::string run_id_of(const std::string& out) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(out, m, std::regex(R"(run (\S+-\d{8}-\d{6}-[0-9a-f]{4}))")))
        << out;
    return m.size() > 1 ? m[1].str() : "";
}

class ReportE2E : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        unsetenv("KAKUREN_WORKSPACE");
        s_ws = make_temp_dir("kakuren-report-e2e");
        // The baseline first: a bare `kakuren report` picks the newest run, the hiding one.
        const Result b = run_kakuren(s_ws, "run recipes/synthetic_tiny.toml --quiet --set "
                                           "hiding.strategy=none");
        ASSERT_EQ(b.code, 0) << b.out << b.err;
        s_baseline = run_id_of(b.out);
        const Result h = run_kakuren(s_ws, "run recipes/synthetic_tiny.toml --quiet");
        ASSERT_EQ(h.code, 0) << h.out << h.err;
        s_hiding = run_id_of(h.out);
    }
    static void TearDownTestSuite() { fs::remove_all(s_ws); }

    static kakuren::db::Store store() { return kakuren::db::Store::open(s_ws / "kakuren.db"); }

    static inline fs::path s_ws;
    static inline std::string s_hiding, s_baseline;
};

} // namespace

TEST_F(ReportE2E, TheNewestRunIsComparedWithItsBaseline) {
    const Result r = run_kakuren(s_ws, "report");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("AT A GLANCE"), std::string::npos) << r.out;
    // One card per configuration, the work saved first, the time ratio beside it.
    EXPECT_NE(
        r.out.find("  kakurenbo F=0.30 tau=0.70: 1 seed (1) against none (1 seed)\n    saved "),
        std::string::npos)
        << r.out;
    EXPECT_TRUE(r.out.find("time ratio ") != std::string::npos &&
                (r.out.find("x faster") != std::string::npos ||
                 r.out.find("x slower") != std::string::npos))
        << r.out;
    EXPECT_NE(r.out.find("(1 seed, no interval)"), std::string::npos) << r.out;
    // The pair by run ids in the comparison table.
    EXPECT_NE(r.out.find(s_hiding + "  " + s_baseline + "  yes"), std::string::npos) << r.out;
    // The trainer's real logs pass the MLPerf check.
    EXPECT_NE(r.out.find(s_hiding + ": ok, "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(s_baseline + ": ok, "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("== " + s_hiding), std::string::npos) << "per-epoch detail";
}

TEST_F(ReportE2E, JsonMatchesTheDatabaseAndTheLog) {
    const Result r = run_kakuren(s_ws, "report " + s_hiding + " --format json");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto v = parse_json(r.out);
    EXPECT_EQ(v["kakuren_report"].as_int(), 2);
    ASSERT_EQ(v["runs"].size(), 2U);
    auto db = store();
    for (const auto& run : v["runs"].as_array()) {
        const std::string id = run["id"].as_string();
        const auto epochs = db.epochs(id);
        ASSERT_EQ(run["epochs"].size(), epochs.size()) << id;
        for (std::size_t i = 0; i < epochs.size(); ++i) {
            EXPECT_EQ(run["epochs"][i]["test_accuracy"].as_double(), epochs[i].test_accuracy);
            EXPECT_EQ(run["epochs"][i]["hidden"].as_int(), epochs[i].hidden);
        }
        EXPECT_TRUE(run["mllog"]["ok"].as_bool()) << id << " " << r.out;
        EXPECT_EQ(run["status"].as_string(), "finished");
        EXPECT_GT(run["time_to_train_s"].as_double(), 0.0);
        EXPECT_GT(run["time_split_s"]["init"].as_double(), 0.0);
        EXPECT_GE(run["time_split_s"]["total"].as_double(), run["time_to_train_s"].as_double());
    }
    ASSERT_EQ(v["comparisons"].size(), 1U);
    const auto& c = v["comparisons"][0];
    EXPECT_EQ(c["run"].as_string(), s_hiding);
    EXPECT_EQ(c["baseline"].as_string(), s_baseline);
    EXPECT_TRUE(c["same_seed"].as_bool());
    const double t_run = v["runs"][1]["time_to_train_s"].as_double();
    const double t_base = v["runs"][0]["time_to_train_s"].as_double();
    EXPECT_NEAR(c["speedup_total"].as_double(), t_base / t_run, 1e-9);
    const auto hiding = v["runs"][1];
    EXPECT_EQ(hiding["id"].as_string(), s_hiding);
    EXPECT_GT(hiding["sgd_steps"]["saved"].as_int(), 0) << "the tiny task hides samples";
    EXPECT_GT(hiding["mean_realised_fraction"].as_double(), 0.0);
}

TEST_F(ReportE2E, CsvHasOneRowPerRun) {
    const Result r = run_kakuren(s_ws, "report --all --format csv");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);
    EXPECT_EQ(r.out.rfind("run_id,name,role,status,", 0), 0U) << r.out;
    EXPECT_NE(r.out.find(s_hiding), std::string::npos);
}

TEST_F(ReportE2E, HtmlFromTheOutputExtensionPlotsTheDatabase) {
    const fs::path html_file = s_ws / "report.html";
    const Result r = run_kakuren(s_ws, "report --all -o '" + html_file.string() + "'");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(r.out.empty());
    EXPECT_NE(r.err.find("wrote " + html_file.string() + " (html, 2 runs)"), std::string::npos)
        << r.err;
    const std::string html = slurp(html_file);
    const auto charts = kakuren::report::testing::charts(html);
    ASSERT_EQ(charts.count("accuracy_epoch"), 1U);
    auto db = store();
    for (const std::string& id : {s_hiding, s_baseline}) {
        const auto& chart = charts.at("accuracy_epoch");
        const auto it = std::find_if(chart.polylines.begin(), chart.polylines.end(),
                                     [&](const auto& p) { return p.at("data-run") == id; });
        ASSERT_NE(it, chart.polylines.end());
        const auto values = kakuren::report::testing::pairs(it->at("data-values"), ';');
        const auto epochs = db.epochs(id);
        ASSERT_EQ(values.size(), epochs.size());
        for (std::size_t i = 0; i < epochs.size(); ++i) {
            EXPECT_EQ(values[i].first, epochs[i].epoch);
            EXPECT_EQ(values[i].second, epochs[i].test_accuracy);
        }
    }
}

TEST_F(ReportE2E, HtmlRendersInHeadlessChromium) {
    const fs::path html_file = s_ws / "chromium.html";
    ASSERT_EQ(run_kakuren(s_ws, "report --all --format html -o '" + html_file.string() + "'").code,
              0);
    const fs::path profile = s_ws / "chromium-profile";
    fs::create_directories(profile);
    // The screenshot stays in the build tree (tests/report/) for people to look at.
    const fs::path png = KAKUREN_SCREENSHOT;
    fs::remove(png);
    const std::string cmd =
        "timeout 120 chromium --headless --no-sandbox --disable-gpu "
        "--disable-background-networking --disable-component-update --disable-sync "
        "--no-first-run --user-data-dir='" +
        profile.string() + "' --window-size=1280,2000 --screenshot='" + png.string() +
        "' 'file://" + html_file.string() + "' >'" + (s_ws / "chromium.log").string() + "' 2>&1";
    const int status = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "chromium failed (scripts/setup.sh installs it):\n"
        << slurp(s_ws / "chromium.log");
    ASSERT_TRUE(fs::exists(png)) << slurp(s_ws / "chromium.log");

    const auto img = kakuren::report::testing::read_png(png);
    EXPECT_EQ(img.width, 1280);
    EXPECT_EQ(img.height, 2000);
    std::set<std::uint32_t> colors;
    std::size_t non_white = 0;
    auto count_color = [&](std::uint8_t r, std::uint8_t g, std::uint8_t b) {
        std::size_t n = 0;
        for (std::size_t i = 0; i + 2 < img.rgb.size(); i += 3) {
            n += img.rgb[i] == r && img.rgb[i + 1] == g && img.rgb[i + 2] == b ? 1 : 0;
        }
        return n;
    };
    for (std::size_t i = 0; i + 2 < img.rgb.size(); i += 3) {
        const std::uint32_t c = (std::uint32_t{img.rgb[i]} << 16U) |
                                (std::uint32_t{img.rgb[i + 1]} << 8U) | img.rgb[i + 2];
        colors.insert(c);
        non_white += c != 0xFFFFFF ? 1 : 0;
    }
    const double pixels = static_cast<double>(img.width) * img.height;
    EXPECT_GT(colors.size(), 100U) << "text, lines and fills are drawn";
    EXPECT_GT(static_cast<double>(non_white) / pixels, 0.05) << "the page is not blank";
    // The two runs' series colours (palette #1f77b4, #ff7f0e) are on screen: the plots drew.
    EXPECT_GT(count_color(0x1f, 0x77, 0xb4), 200U);
    EXPECT_GT(count_color(0xff, 0x7f, 0x0e), 200U);
}

TEST_F(ReportE2E, SamplesViewAndUsageErrors) {
    Result r = run_kakuren(s_ws, "report " + s_hiding + " --samples --epoch 2");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("SAMPLES of " + s_hiding), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("TIMES HIDDEN"), std::string::npos);
    EXPECT_NE(r.out.find("loss of hidden vs visible samples in epoch 2"), std::string::npos);

    r = run_kakuren(s_ws, "report " + s_hiding + " --epoch 2");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("kakuren: error: --epoch selects the epoch of the --samples view"),
              std::string::npos)
        << r.err;
    r = run_kakuren(s_ws, "report nope");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("kakuren: error: no run matches 'nope'"), std::string::npos) << r.err;
    r = run_kakuren(s_ws, "report --format pdf");
    EXPECT_EQ(r.code, 2);
    r = run_kakuren(s_ws, "report " + s_hiding + " --samples --epoch 99");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("has no epoch 99 recorded"), std::string::npos) << r.err;
}

TEST(ReportE2ECrash, AKilledRunIsReportedAsFailedWithTheReason) {
    unsetenv("KAKUREN_WORKSPACE");
    const fs::path ws = make_temp_dir("kakuren-report-crash");
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execl(KAKUREN_BIN, "kakuren", "run", KAKUREN_SOURCE_DIR "/recipes/synthetic_tiny.toml",
              "--quiet", "--set", "schedule.epochs=500", "--workspace", ws.c_str(),
              static_cast<char*>(nullptr));
        _exit(127);
    }
    // Wait for the first recorded epoch, then kill without warning.
    std::string id;
    kakuren::testing::wait_until(
        [&] {
            if (fs::exists(ws / "kakuren.db")) {
                const auto runs = kakuren::db::Store::open(ws / "kakuren.db").list_runs();
                if (!runs.empty() && runs[0].epochs_done >= 1) {
                    id = runs[0].id;
                }
            }
            return !id.empty();
        },
        300);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_FALSE(id.empty()) << "no epoch recorded";

    const Result json = run_kakuren(ws, "report " + id + " --format json");
    ASSERT_EQ(json.code, 0) << json.err;
    const auto v = parse_json(json.out);
    const auto& run = v["runs"][0];
    EXPECT_EQ(run["status"].as_string(), "crashed");
    EXPECT_EQ(run["outcome"].as_string(), "failed");
    EXPECT_NE(run["reason"].as_string().find("ended without recording an end"), std::string::npos)
        << json.out;
    EXPECT_TRUE(run["time_to_train_s"].is_null());
    EXPECT_GT(run["elapsed_s"].as_double(), 0.0);
    EXPECT_GE(run["epochs_done"].as_int(), 1);
    EXPECT_FALSE(run["mllog"]["ok"].as_bool(true));
    bool no_run_stop = false;
    for (const auto& p : run["mllog"]["problems"].as_array()) {
        no_run_stop = no_run_stop || p["message"].as_string().find("no run_stop") == 0;
    }
    EXPECT_TRUE(no_run_stop) << json.out;

    const Result table = run_kakuren(ws, "report " + id);
    ASSERT_EQ(table.code, 0) << table.err;
    EXPECT_NE(table.out.find("failed (crashed)"), std::string::npos) << table.out;
    EXPECT_EQ(table.out.find(" running"), std::string::npos) << table.out;
    fs::remove_all(ws);
}

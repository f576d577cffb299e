// `kakuren report` of 2 strategies x 3 seeds of real runs (the tiny synthetic recipe, stopping at
// task.target): the HTML rendered by headless Chromium, its DOM and a screenshot in the build's
// tests/report/ folder. Checks one card per configuration with mean ± a 95% t-interval, a
// min-max band per configuration, the target line, and time-to-target without --target.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <regex>

#include "html_probe.hpp"
#include "png.hpp"
#include "report/json_reader.hpp"
#include "support/files.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using kakuren::testing::slurp;

namespace {

kakuren::testing::Output kakuren_in(const fs::path& ws, const std::string& args) {
    return kakuren::testing::run_shell("cd '" KAKUREN_SOURCE_DIR "' && '" KAKUREN_BIN "' " + args +
                                           " --workspace " + kakuren::testing::quoted(ws.string()),
                                       ws);
}

std::size_t count(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (std::size_t pos = text.find(part); pos != std::string::npos;
         pos = text.find(part, pos + 1)) {
        ++n;
    }
    return n;
}

/// Runs headless Chromium on file; `what` is --dump-dom or --screenshot=PNG. Its stdout.
std::string chromium(const fs::path& ws, const fs::path& file, const std::string& what) {
    const fs::path profile = ws / ("chromium-profile" + std::to_string(what.size()));
    fs::create_directories(profile);
    const fs::path out = ws / "chromium.out";
    const std::string cmd =
        "timeout 120 chromium --headless --no-sandbox --disable-gpu "
        "--disable-background-networking --disable-component-update --disable-sync "
        "--no-first-run --user-data-dir='" +
        profile.string() + "' --window-size=1280,1400 " + what + " 'file://" + file.string() +
        "' >'" + out.string() + "' 2>'" + (ws / "chromium.log").string() + "'";
    const int status = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "chromium failed (scripts/setup.sh installs it):\n"
        << slurp(ws / "chromium.log");
    return slurp(out);
}

} // namespace

TEST(ReportGroupsE2E, TwoStrategiesByThreeSeedsInChromium) {
    unsetenv("KAKUREN_WORKSPACE");
    const fs::path ws = kakuren::testing::make_temp_dir("kakuren-report-groups");
    for (int seed = 1; seed <= 3; ++seed) {
        for (const char* strategy : {"none", "kakurenbo"}) {
            const auto r =
                kakuren_in(ws, "run recipes/synthetic_tiny.toml --quiet --set run.seed=" +
                                   std::to_string(seed) + " --set hiding.strategy=" + strategy +
                                   " --set task.target=0.87");
            // 3: all epochs done, target not reached (a seed may miss it).
            ASSERT_TRUE(r.code == 0 || r.code == 3) << r.out << r.err;
        }
    }
    const fs::path out_dir = KAKUREN_TEST_OUTPUT_DIR;
    const fs::path html_file = out_dir / "report_groups.html";
    const auto written = kakuren_in(ws, "report --all -o '" + html_file.string() + "'");
    ASSERT_EQ(written.code, 0) << written.err;

    // The page as Chromium built it (its DOM, serialised after load).
    const std::string dom = chromium(ws, html_file, "--dump-dom");
    { std::ofstream(out_dir / "report_groups.dom.html") << dom; }
    ASSERT_NE(dom.find("kakuren report"), std::string::npos) << dom.substr(0, 500);
    // The headline section (the page also embeds the JSON, which repeats the cards' text).
    const std::size_t glance_at = dom.find("<h2>At a glance</h2>");
    ASSERT_NE(glance_at, std::string::npos);
    const std::string glance = dom.substr(glance_at, dom.find("<h2>Plots</h2>") - glance_at);
    // Two cards, one per configuration, each with mean ± a 95% t-interval of 3 seeds.
    EXPECT_EQ(count(glance, "class=\"card config\""), 2U);
    EXPECT_EQ(count(glance, "class=\"card run\""), 0U) << "no card per seed";
    static const std::regex time_p(
        R"re(<p class="time" data-mean="([^"]+)" data-half-width="([^"]*)"[^>]*>([^<]*)</p>)re");
    std::size_t intervals = 0;
    for (auto it = std::sregex_iterator(glance.begin(), glance.end(), time_p);
         it != std::sregex_iterator(); ++it) {
        EXPECT_FALSE((*it)[2].str().empty()) << "3 seeds have an interval: " << (*it)[3];
        EXPECT_NE((*it)[3].str().find(" ± "), std::string::npos) << (*it)[3];
        ++intervals;
    }
    EXPECT_EQ(intervals, 2U);
    EXPECT_EQ(count(glance, "(mean ± 95% t-interval over seeds)"), 2U) << "named in each card";
    EXPECT_NE(glance.find("kakurenbo F=0.30 tau=0.70: 3 seeds (1, 2, 3) against none (3 seeds)"),
              std::string::npos);
    // Time-to-target from task.target, no --target given.
    EXPECT_EQ(count(glance, "<p>to target 87.00%: "), 2U);
    const auto json = kakuren::report::parse_json(kakuren_in(ws, "report --all -f json").out);
    for (const auto& run : json["runs"].as_array()) {
        EXPECT_EQ(run["target"]["accuracy"].as_double(), 0.87);
        EXPECT_EQ(run["target"]["source"].as_string(), "recipe");
    }
    // The accuracy chart: two bands (min-max of 3 seeds), two mean lines, the target line.
    const auto charts = kakuren::report::testing::charts(dom);
    ASSERT_EQ(charts.count("accuracy_epoch"), 1U);
    const std::string& raw = dom.substr(dom.find("data-chart=\"accuracy_epoch\""));
    const std::string acc = raw.substr(0, raw.find("</svg>"));
    EXPECT_EQ(count(acc, "<polygon class=\"band\""), 2U);
    EXPECT_EQ(count(acc, "data-series=\"test_accuracy_mean\""), 2U);
    EXPECT_EQ(count(acc, "<g class=\"target\" data-target=\"0.87\""), 1U);
    EXPECT_NE(acc.find(">target 87.00%<"), std::string::npos);
    std::size_t seeds = 0;
    for (const auto& p : charts.at("accuracy_epoch").polylines) {
        seeds += p.at("data-series") == "test_accuracy" ? 1 : 0;
    }
    EXPECT_EQ(seeds, 6U) << "each seed still drawn, thin";

    // The screenshot: the first band's colour (#1f77b4 at 20 % on white) is on screen.
    const fs::path png = out_dir / "report_groups_screenshot.png";
    fs::remove(png);
    chromium(ws, html_file, "--screenshot='" + png.string() + "'");
    ASSERT_TRUE(fs::exists(png)) << slurp(ws / "chromium.log");
    const auto img = kakuren::report::testing::read_png(png);
    std::size_t band = 0;
    for (std::size_t i = 0; i + 2 < img.rgb.size(); i += 3) {
        band += std::abs(img.rgb[i] - 210) <= 3 && std::abs(img.rgb[i + 1] - 228) <= 3 &&
                        std::abs(img.rgb[i + 2] - 240) <= 3
                    ? 1
                    : 0;
    }
    EXPECT_GT(band, 300U) << "the band of the first configuration is drawn";
    fs::remove_all(ws);
}

// kakuren report's tune section end to end: a real tune of the synthetic blobs (ranked by work,
// so that nothing depends on timing), then the report's text, JSON and HTML (in headless
// Chromium, with a screenshot kept in the test's output folder) read back against the tune's
// own output and the database.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "chromium.hpp"
#include "db/store.hpp"
#include "db/tunes.hpp"
#include "html_probe.hpp"
#include "png.hpp"
#include "report/json_reader.hpp"
#include "support/files.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

using kakuren::report::JsonValue;

kakuren::testing::Output kakuren_in(const fs::path& ws, const std::string& args) {
    return kakuren::testing::run_shell("cd " + kakuren::testing::quoted(ws.string()) + " && '" +
                                           KAKUREN_BIN + "' " + args + " --workspace .",
                                       ws);
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
        ++n;
    }
    return n;
}

/// The part of html from the first `from` to the next `to` after it.
std::string between(const std::string& html, const std::string& from, const std::string& to) {
    const std::size_t a = html.find(from);
    if (a == std::string::npos) {
        return "";
    }
    return html.substr(a, html.find(to, a) - a);
}

/// Pixels within 3 of an RGB colour.
std::size_t pixels(const kakuren::report::testing::Image& img, int r, int g, int b) {
    std::size_t n = 0;
    for (std::size_t i = 0; i + 2 < img.rgb.size(); i += 3) {
        n += std::abs(img.rgb[i] - r) <= 3 && std::abs(img.rgb[i + 1] - g) <= 3 &&
                     std::abs(img.rgb[i + 2] - b) <= 3
                 ? 1
                 : 0;
    }
    return n;
}

class TuneReportE2E : public ::testing::Test {
  protected:
    void SetUp() override {
        unsetenv("KAKUREN_WORKSPACE");
        m_ws = kakuren::testing::make_temp_dir("kakuren-tune-report");
        fs::copy_file(fs::path(KAKUREN_SOURCE_DIR) / "recipes/synthetic_tiny.toml",
                      m_ws / "tiny.toml");
        // 4 hiding candidates + none, 24 epochs: rounds to epoch 2 (5), 4 (3), 8 (2).
        const auto tuned = kakuren_in(
            m_ws,
            "tune tiny.toml --set task.target=0.88 --set schedule.epochs=8 --set "
            "'schedule.milestones=[7]' --set optimizer.lr=0.01 --try rotate --try "
            "kakurenbo --try random --try infobatch --budget 24 --rank-by work --format json");
        ASSERT_EQ(tuned.code, 0) << tuned.err;
        m_tune = kakuren::report::parse_json(tuned.out);
    }
    void TearDown() override { fs::remove_all(m_ws); }

    fs::path m_ws;
    JsonValue m_tune;
};

TEST_F(TuneReportE2E, TextAndJsonCarryTheRankedTableAndTheVerdict) {
    const std::string id = m_tune["tune_id"].as_string();
    const auto json = kakuren_in(m_ws, "report --all -f json");
    ASSERT_EQ(json.code, 0) << json.err;
    const JsonValue report = kakuren::report::parse_json(json.out);
    ASSERT_EQ(report["tunes"].size(), 1U);
    const JsonValue& t = report["tunes"][0];
    EXPECT_EQ(t["tune_id"].as_string(), id);
    EXPECT_EQ(t["verdict"].as_string(), m_tune["verdict"].as_string());
    ASSERT_EQ(t["candidates"].size(), m_tune["candidates"].size());
    for (std::size_t i = 0; i < t["candidates"].size(); ++i) {
        EXPECT_EQ(t["candidates"][i]["candidate"].as_int(),
                  m_tune["candidates"][i]["candidate"].as_int());
        EXPECT_EQ(t["candidates"][i]["work_to_target_samples"]["value"].as_double(),
                  m_tune["candidates"][i]["work_to_target_samples"]["value"].as_double());
    }
    EXPECT_EQ(t["rounds"].size(), 3U);

    const auto text = kakuren_in(m_ws, "report --all");
    ASSERT_EQ(text.code, 0) << text.err;
    EXPECT_NE(text.out.find("TUNE " + id +
                            " (done): target accuracy 88.00%, ranked by projected "
                            "work to the target, budget 24"),
              std::string::npos)
        << text.out;
    EXPECT_NE(text.out.find(m_tune["verdict"].as_string()), std::string::npos);
    // Round 1 dropped the two worst of its four hiding candidates, round 2 one more.
    const std::string r1 = between(text.out, "round 1: 5 candidates to epoch 2", "\n");
    EXPECT_EQ(count(r1, ", "), 1U) << r1;
    const std::string r2 = between(text.out, "round 2: 3 candidates to epoch 4", "\n");
    EXPECT_NE(r2.find("; dropped after it: "), std::string::npos) << r2;
    EXPECT_EQ(between(text.out, "round 3: 2 candidates to epoch 8", "\n"),
              "round 3: 2 candidates to epoch 8");
    for (const JsonValue& c : m_tune["candidates"].as_array()) {
        EXPECT_NE(text.out.find(c["label"].as_string()), std::string::npos);
    }

    // The tune's runs selected by name bring the tune; a run outside it does not.
    const auto by_name = kakuren_in(m_ws, "report --name 'tune-*' -f json");
    ASSERT_EQ(by_name.code, 0) << by_name.err;
    EXPECT_EQ(kakuren::report::parse_json(by_name.out)["tunes"].size(), 1U);
    const auto plain = kakuren_in(
        m_ws, "run tiny.toml --quiet --set schedule.epochs=2 --set 'schedule.milestones=[1]'");
    ASSERT_TRUE(plain.code == 0 || plain.code == 3) << plain.err; // 3: target not reached
    const auto newest = kakuren_in(m_ws, "report -f json");
    ASSERT_EQ(newest.code, 0) << newest.err;
    EXPECT_EQ(kakuren::report::parse_json(newest.out)["tunes"].size(), 0U);
}

TEST_F(TuneReportE2E, HtmlDrawsTheCurvesAndTheRoundsInChromium) {
    const std::string id = m_tune["tune_id"].as_string();
    const fs::path out_dir = KAKUREN_TEST_OUTPUT_DIR;
    const fs::path html_file = out_dir / "tune_report.html";
    const auto written = kakuren_in(m_ws, "report --all -o '" + html_file.string() + "'");
    ASSERT_EQ(written.code, 0) << written.err;
    const std::string dom = kakuren::report::testing::chromium(m_ws, html_file, "--dump-dom");
    { std::ofstream(out_dir / "tune_report.dom.html") << dom; }
    const std::string section = between(dom, "<section class=\"tune\"", "</section>");
    ASSERT_FALSE(section.empty()) << dom.substr(0, 500);
    EXPECT_NE(section.find(m_tune["verdict"].as_string()), std::string::npos);

    // The ranked table: one row per candidate, in the tune's order.
    const std::string table = between(section, "<table class=\"tune-table\"", "</table>");
    std::size_t at = 0;
    for (const JsonValue& c : m_tune["candidates"].as_array()) {
        const std::string row =
            "<tr data-candidate=\"" + std::to_string(c["candidate"].as_int()) + "\">";
        const std::size_t found = table.find(row, at);
        ASSERT_NE(found, std::string::npos) << row << " after " << at;
        at = found + 1;
    }

    // The curves: one per candidate, its values the run's epochs in the database.
    const auto charts = kakuren::report::testing::charts(dom);
    ASSERT_EQ(charts.count("tune_curves-" + id), 1U);
    const auto& chart = charts.at("tune_curves-" + id);
    ASSERT_EQ(chart.polylines.size(), m_tune["candidates"].size());
    auto db = kakuren::db::Store::open(m_ws / "kakuren.db");
    for (const auto& line : chart.polylines) {
        const auto values = kakuren::report::testing::pairs(line.at("data-values"), ';');
        const auto epochs = db.epochs(line.at("data-run"));
        ASSERT_EQ(values.size(), epochs.size()) << line.at("data-run");
        for (std::size_t e = 0; e < epochs.size(); ++e) {
            EXPECT_EQ(values[e].first, static_cast<double>(epochs[e].epoch));
            EXPECT_DOUBLE_EQ(values[e].second, epochs[e].test_accuracy);
        }
    }

    // The rounds: a candidate trains in rounds 1..last_round, is dropped after its last round
    // unless that is the final one, and is out after.
    const std::string rounds = between(section, "<table class=\"tune-rounds\"", "</table>");
    for (const JsonValue& c : m_tune["candidates"].as_array()) {
        const std::string row = between(
            rounds, "<tr data-candidate=\"" + std::to_string(c["candidate"].as_int()) + "\">",
            "</tr>");
        const auto last = static_cast<std::size_t>(c["last_round"].as_int());
        const bool dropped = last < 3;
        EXPECT_EQ(count(row, "data-state=\"kept\""), dropped ? last - 1 : last) << row;
        EXPECT_EQ(count(row, "data-state=\"dropped\""), dropped ? 1U : 0U) << row;
        EXPECT_EQ(count(row, "data-state=\"out\""), 3 - last) << row;
    }

    // The screenshot shows the rounds grid: cells of kept (green) and dropped (red) candidates.
    const fs::path png = out_dir / "tune_report_screenshot.png";
    fs::remove(png);
    kakuren::report::testing::chromium(m_ws, html_file, "--screenshot='" + png.string() + "'",
                                       "1280,3200");
    ASSERT_TRUE(fs::exists(png));
    const auto img = kakuren::report::testing::read_png(png);
    EXPECT_GT(pixels(img, 0xdf, 0xf3, 0xe4), 2000U) << "kept cells drawn";
    EXPECT_GT(pixels(img, 0xfd, 0xe2, 0xe1), 2000U) << "dropped cells drawn";
}

} // namespace

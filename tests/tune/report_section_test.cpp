// kakuren report's tune sections from the records (tune/report_section.hpp), on a database
// written through db/ (no training): which tunes a report shows, the rounds' dropped
// candidates, and a tune whose recipe no longer parses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "db/tunes.hpp"
#include "report/render.hpp"
#include "support/temp_dir.hpp"
#include "tune/report_section.hpp"

namespace fs = std::filesystem;
namespace db = kakuren::db;

namespace {

std::string tiny_recipe_text() {
    std::ifstream in(fs::path(KAKUREN_SOURCE_DIR) / "recipes/synthetic_tiny.toml");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

class TuneReportSection : public ::testing::Test {
  protected:
    void SetUp() override {
        m_dir = kakuren::testing::make_temp_dir("kakuren-tune-section");
        m_store.emplace(db::Store::open(m_dir / "kakuren.db"));
    }
    void TearDown() override {
        m_store.reset();
        fs::remove_all(m_dir);
    }
    void add_tune(const std::string& id, const std::string& recipe_text) {
        db::TuneRow t;
        t.id = id;
        t.recipe_path = (fs::path(KAKUREN_SOURCE_DIR) / "recipes/synthetic_tiny.toml").string();
        t.recipe_text = recipe_text;
        t.budget = "12";
        t.budget_epochs = 12;
        db::insert_tune(*m_store, t,
                        {{0, "none", {"hiding.strategy=\"none\""}, ""},
                         {1, "rotate", {"hiding.strategy=\"rotate\""}, ""},
                         {2, "random F=0.30", {"hiding.strategy=\"random\""}, ""}});
        db::insert_tune_round(*m_store, id, {1, 2, {0, 1, 2}});
        db::insert_tune_round(*m_store, id, {2, 4, {0, 2}});
    }

    fs::path m_dir;
    std::optional<db::Store> m_store;
};

TEST_F(TuneReportSection, AllTunesWithTheirRoundsAndWhatEachDropped) {
    std::string text = tiny_recipe_text();
    text.insert(text.find("[run]\n") + 6, "target_accuracy = 0.9\n");
    add_tune("tune-a", text);
    const kakuren::report::Report empty;
    EXPECT_TRUE(kakuren::tune::report_sections(*m_store, empty, false).empty())
        << "no selected run of the tune";
    const auto sections = kakuren::tune::report_sections(*m_store, empty, true);
    ASSERT_EQ(sections.size(), 1U);
    const auto& s = sections[0];
    EXPECT_EQ(s.id, "tune-a");
    ASSERT_EQ(s.rows.size(), 3U) << "a row per candidate, none trained yet";
    ASSERT_EQ(s.rounds.size(), 2U);
    EXPECT_EQ(s.rounds[0].trained.size(), 3U);
    EXPECT_EQ(s.rounds[0].dropped, std::vector<std::string>{"rotate"});
    EXPECT_TRUE(s.rounds[1].dropped.empty()) << "the last round drops nobody";
    const std::string out = kakuren::report::tune_sections_text(sections);
    EXPECT_NE(out.find("round 1: 3 candidates to epoch 2; dropped after it: rotate"),
              std::string::npos)
        << out;
}

TEST_F(TuneReportSection, ATuneWhoseRecipeNoLongerParsesSaysSoInsteadOfFailingTheReport) {
    add_tune("tune-broken", "[schedule]\nepochs = \"many\"\n");
    const auto sections = kakuren::tune::report_sections(*m_store, kakuren::report::Report{}, true);
    ASSERT_EQ(sections.size(), 1U);
    EXPECT_NE(sections[0].heading.find("tune-broken: cannot be evaluated: "), std::string::npos)
        << sections[0].heading;
    EXPECT_TRUE(sections[0].rows.empty());
    const std::string html = kakuren::report::tune_sections_html(sections);
    EXPECT_NE(html.find("cannot be evaluated"), std::string::npos);
    EXPECT_EQ(html.find("tune_curves-"), std::string::npos) << "no chart without numbers";
}

} // namespace

// The headline cards on synthetic workspaces: one card per configuration with mean ± a 95%
// t-interval over seeds, the work saved first, the time ratio called unreliable under timing
// noise, the same card in text, JSON and HTML; time-to-target from task.target.
#include <gtest/gtest.h>

#include "html_probe.hpp"
#include "report/groups.hpp"
#include "report/json_reader.hpp"
#include "report/render.hpp"
#include "report/render_common.hpp"
#include "report/svg.hpp"
#include "support/temp_dir.hpp"
#include "synthetic_workspace.hpp"

namespace fs = std::filesystem;
using namespace kakuren;
using report::testing::add_synthetic_run;
using report::testing::SyntheticResult;
using report::testing::SyntheticRun;

namespace {

class Groups : public ::testing::Test {
  protected:
    void SetUp() override {
        m_dir = kakuren::testing::make_temp_dir("kakuren-groups");
        m_store = std::make_unique<db::Store>(db::Store::open(m_dir / "kakuren.db"));
    }
    void TearDown() override {
        m_store.reset();
        fs::remove_all(m_dir);
    }
    SyntheticResult add(const std::string& strategy, std::int64_t seed, double epoch_s,
                        std::vector<std::string> sets = {}) {
        SyntheticRun s;
        s.strategy = strategy;
        s.seed = seed;
        s.epoch_s = epoch_s;
        s.sets = std::move(sets);
        s.start_ms = m_clock;
        m_clock += 1'000'000;
        return add_synthetic_run(*m_store, m_dir, s);
    }
    report::Report all() {
        report::Request request;
        request.all = true;
        request.workspace = m_dir.string();
        return report::build_report(*m_store, request);
    }
    static const report::SeedGroup& group(const report::Report& r, const std::string& strategy) {
        for (const auto& g : r.groups) {
            if (g.strategy == strategy) {
                return g;
            }
        }
        throw std::runtime_error("no group " + strategy);
    }

    fs::path m_dir;
    std::unique_ptr<db::Store> m_store;
    std::int64_t m_clock = 1'790'000'000'000;
};

double seconds(const SyntheticResult& r) {
    return static_cast<double>(r.run_stop_ms - r.run_start_ms) / 1000.0;
}

} // namespace

TEST_F(Groups, OneCardPerConfigurationWithMeanAndIntervalOverSeeds) {
    // Same-seed pairs ran epoch 1 (identical work) in the same time, and the none seeds are
    // 1.10x apart at most: no timing noise, the ratio can be headlined.
    std::vector<double> hiding_s, none_s;
    for (int seed = 1; seed <= 3; ++seed) {
        const double epoch_s = 1.0 + 0.05 * (seed - 1);
        none_s.push_back(seconds(add("none", seed, epoch_s)));
        hiding_s.push_back(seconds(add("kakurenbo", seed, epoch_s)));
    }
    const auto r = all();
    ASSERT_EQ(r.groups.size(), 2U) << "2 configurations x 3 seeds: 2 groups, not 6 cards";
    const auto& h = group(r, "kakurenbo");
    const auto& b = group(r, "none");
    const auto expected = report::t_interval_95(hiding_s);
    EXPECT_EQ(h.time_to_train_ci.n, 3);
    EXPECT_NEAR(h.time_to_train_ci.mean, expected.mean, 1e-12);
    EXPECT_NEAR(*h.time_to_train_ci.half_width, *expected.half_width, 1e-12);
    EXPECT_NEAR(*b.time_to_train_ci.half_width, *report::t_interval_95(none_s).half_width, 1e-12);
    EXPECT_TRUE(h.time_ratio_reliable()) << (h.noise.empty() ? "" : h.noise[0].what);
    std::int64_t saved = 0, full = 0;
    for (const auto& id : h.run_ids) {
        saved += r.find(id)->sgd_steps_saved();
        full += r.find(id)->sgd_steps_full;
    }
    EXPECT_GT(saved, 0);
    EXPECT_EQ(h.sgd_steps_saved, saved);
    EXPECT_EQ(h.sgd_steps_full, full);

    const auto card = report::detail::group_card(r, h);
    EXPECT_EQ(card.title, "kakurenbo F=0.30 tau=0.70: 3 seeds (1, 2, 3) against none (3 seeds)");
    EXPECT_EQ(card.work.rfind("saved ", 0), 0U) << "the card leads with the work saved";
    EXPECT_NE(card.work.find("of the SGD steps (" + std::to_string(saved) + " of " +
                             std::to_string(full) + ")"),
              std::string::npos)
        << card.work;
    EXPECT_TRUE(card.time_reliable);
    EXPECT_EQ(card.time.find("unreliable"), std::string::npos) << card.time;
    EXPECT_NE(card.time.find(report::detail::interval_text(h.time_to_train_ci, "") + " vs " +
                             report::detail::interval_text(b.time_to_train_ci, "")),
              std::string::npos)
        << card.time;
    EXPECT_NE(card.time.find("(mean ± 95% t-interval over seeds)"), std::string::npos);
    EXPECT_NE(card.time.find("time ratio "), std::string::npos) << card.time;
}

TEST_F(Groups, NoisyTimingMakesTheRatioUnreliableInEveryFormat) {
    // Seed 2's baseline ran 1.5x slower: its epoch 1 (identical work in the pair) and its
    // time-to-train (the same work as the other none seeds) are timing noise.
    for (int seed = 1; seed <= 3; ++seed) {
        add("none", seed, seed == 2 ? 1.5 : 1.0);
        add("kakurenbo", seed, 1.0);
    }
    const auto r = all();
    const auto& h = group(r, "kakurenbo");
    const auto& b = group(r, "none");
    ASSERT_EQ(b.noise.size(), 1U);
    EXPECT_NE(b.noise[0].what.find("the 3 seeds of none did the same work but took"),
              std::string::npos)
        << b.noise[0].what;
    ASSERT_EQ(h.noise.size(), 2U) << "the baseline's seeds, and the pairs";
    // Epoch 1 of seed 2: train 1.5 s + eval 0.15 s against 1.0 s + 0.1 s.
    EXPECT_EQ(h.noise[1].what,
              "epoch 1 did identical work in both runs (2,048 samples trained) but took 1.50x as "
              "long in " +
                  r.comparisons[1].baseline_id + " (1.65 s vs 1.10 s)")
        << "one of three pairs: its own sentence";
    EXPECT_FALSE(h.time_ratio_reliable());

    const auto card = report::detail::group_card(r, h);
    EXPECT_NE(card.time.find("faster, unreliable (timing noise): time-to-train"), std::string::npos)
        << card.time;
    const std::string text = report::render_table(r);
    const auto json = report::parse_json(report::render_json(r));
    const std::string html = report::render_html(r);
    for (const auto& g : json["groups"].as_array()) {
        if (g["strategy"].as_string() != "kakurenbo") {
            continue;
        }
        EXPECT_FALSE(g["time_ratio_reliable"].as_bool(true));
        EXPECT_FALSE(g["card"]["time_ratio_reliable"].as_bool(true));
        ASSERT_EQ(g["timing_noise"].size(), 2U);
        // Every line of the card, word for word, in the text and the HTML too.
        for (const auto& line : g["card"]["lines"].as_array()) {
            EXPECT_NE(text.find(line.as_string()), std::string::npos) << line.as_string();
            EXPECT_NE(html.find(report::svg::escape(line.as_string())), std::string::npos)
                << line.as_string();
        }
    }
    EXPECT_NE(html.find("data-reliable=\"0\""), std::string::npos);
    EXPECT_NE(html.find("unreliable: timing noise"), std::string::npos);
}

TEST_F(Groups, OneSeedSaysSoAndLabelsNameOnlyTheSettingsThatDiffer) {
    add("none", 1, 1.0);
    add("none", 1, 1.0, {"optimizer.lr=0.1"});
    const auto r = all();
    ASSERT_EQ(r.groups.size(), 2U);
    EXPECT_EQ(r.groups[0].short_label, "none, optimizer.lr=0.05");
    EXPECT_EQ(r.groups[1].short_label, "none, optimizer.lr=0.1");
    const auto card = report::detail::group_card(r, r.groups[1]);
    EXPECT_NE(card.time.find("(1 seed, no interval)"), std::string::npos) << card.time;
    EXPECT_EQ(card.time.find("±"), std::string::npos) << card.time;
    // The charts' legends use the short labels, not run ids.
    const auto charts = report::testing::charts(report::render_html(r));
    const auto& acc = charts.at("accuracy_epoch");
    for (const auto& p : acc.polylines) {
        EXPECT_EQ(p.at("data-config").rfind("none, optimizer.lr=", 0), 0U);
    }
}

TEST_F(Groups, TimeToTargetFromTaskTargetWithoutTheTargetOption) {
    add("none", 1, 1.0, {"task.target=0.5"});
    const auto r = all();
    const auto& run = r.runs[0];
    ASSERT_TRUE(run.recipe.target_accuracy);
    EXPECT_DOUBLE_EQ(*run.recipe.target_accuracy, 0.5);
    ASSERT_TRUE(run.target);
    EXPECT_EQ(run.target->source, "recipe");
    EXPECT_TRUE(run.target->reached);
    EXPECT_EQ(report::detail::to_target_text(run).find("-"), std::string::npos);
    const auto card = report::detail::group_card(r, r.groups[0]);
    bool shown = false;
    for (const auto& line : card.more) {
        shown = shown || line.rfind("to target 50.00%: ", 0) == 0;
    }
    EXPECT_TRUE(shown);
}

TEST_F(Groups, ARunThatHidNothingIsNotFasterButNoisy) {
    add("none", 1, 1.0);
    SyntheticRun s;
    s.fraction = 0; // kakurenbo that hides nothing: the baseline's work, in less time
    s.epoch_s = 0.5;
    s.start_ms = m_clock;
    add_synthetic_run(*m_store, m_dir, s);
    const auto r = all();
    const auto& h = group(r, "kakurenbo");
    EXPECT_EQ(h.samples_saved, 0);
    ASSERT_TRUE(h.speedup_total);
    EXPECT_GT(*h.speedup_total, 1.5);
    EXPECT_FALSE(h.time_ratio_reliable());
    const bool said = std::any_of(h.noise.begin(), h.noise.end(), [](const auto& n) {
        return n.what.rfind("it hid nothing and did the same work as its baseline", 0) == 0;
    });
    EXPECT_TRUE(said);
    const std::string html = report::render_html(r);
    EXPECT_NE(html.find("<span class=\"work\">0.0% fewer SGD steps</span>"), std::string::npos)
        << "no work saved is not shown as good news";
}

TEST_F(Groups, TheHtmlTimeSplitShowsCommunicationAndDataRead) {
    SyntheticRun s;
    s.comm_s = 0.05;          // 4 epochs: 0.20 s waited on collectives
    s.bytes_read = 2'500'000; // 4 epochs: 10.0 MB read from the split's files
    s.start_ms = m_clock;
    const auto multi = add_synthetic_run(*m_store, m_dir, s);
    add("none", 2, 1.0); // in memory, one rank: neither
    const auto r = all();
    const std::string html = report::render_html(r);
    const std::size_t row = html.find("<tr data-run=\"" + multi.id + "\"><td>" + multi.id,
                                      html.find("<h2>Time split (seconds)</h2>"));
    ASSERT_NE(row, std::string::npos);
    const std::string cells = html.substr(row, html.find("</tr>", row) - row);
    EXPECT_NE(cells.find("<td class=\"n\" data-part=\"communication\">0.20</td>"),
              std::string::npos)
        << cells;
    EXPECT_NE(cells.find("<td class=\"n\" data-part=\"data_read\">10.0</td>"), std::string::npos)
        << cells;
    EXPECT_NE(html.find("<th>communication (in train)</th><th>data read (MB)</th>"),
              std::string::npos);
    const auto json = report::parse_json(report::render_json(r));
    EXPECT_EQ(json["runs"][0]["time_split_s"]["bytes_read"].as_int(), 10'000'000);
    EXPECT_TRUE(json["runs"][1]["time_split_s"]["bytes_read"].is_null());
}

// The output formats: JSON keeps its documented layout, CSV is rectangular, HTML is
// self-contained and plots exactly the database's numbers.
#include "report/render.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "html_probe.hpp"
#include "report/json_reader.hpp"
#include "support/temp_dir.hpp"
#include "synthetic_workspace.hpp"

namespace fs = std::filesystem;
using namespace kakuren;
using report::testing::add_synthetic_run;
using report::testing::SyntheticRun;

namespace {

class Rendered : public ::testing::Test {
  protected:
    void SetUp() override {
        m_dir = kakuren::testing::make_temp_dir("kakuren-render");
        m_store = std::make_unique<db::Store>(db::Store::open(m_dir / "kakuren.db"));
        SyntheticRun h;
        h.epoch_s = 0.8;
        h.start_ms = 1'790'000'000'000;
        m_hiding = add_synthetic_run(*m_store, m_dir, h).id;
        SyntheticRun b;
        b.strategy = "none";
        b.start_ms = 1'790'001'000'000;
        m_baseline = add_synthetic_run(*m_store, m_dir, b).id;
        SyntheticRun c = h;
        c.status = db::RunStatus::crashed;
        c.seed = 2;
        c.start_ms = 1'790'002'000'000;
        m_crashed = add_synthetic_run(*m_store, m_dir, c).id;
        report::Request request;
        request.all = true;
        request.workspace = m_dir.string();
        m_report = report::build_report(*m_store, request);
    }
    void TearDown() override {
        m_store.reset();
        fs::remove_all(m_dir);
    }

    fs::path m_dir;
    std::unique_ptr<db::Store> m_store;
    std::string m_hiding, m_baseline, m_crashed;
    report::Report m_report;
};

std::vector<std::string> keys(const report::JsonValue& v) {
    std::vector<std::string> out;
    for (const auto& [k, value] : v.as_object()) {
        out.push_back(k);
    }
    return out;
}

/// Splits one CSV line (RFC 4180 quotes, no embedded newlines in these tests).
std::vector<std::string> csv_cells(const std::string& line) {
    std::vector<std::string> cells(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                cells.back() += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                cells.back() += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            cells.emplace_back();
        } else {
            cells.back() += c;
        }
    }
    return cells;
}

using Keys = std::vector<std::string>;

// The layout docs/reports.md documents; adding a key is fine (extend these lists), renaming or
// removing one breaks scripts and needs k_json_version raised.
const Keys k_report_keys = {"kakuren_report", "generated_at", "workspace", "target_accuracy",
                            "runs",           "comparisons",  "groups",    "samples",
                            "notes",          "tunes"};
const Keys k_run_keys = {"id",
                         "name",
                         "role",
                         "status",
                         "outcome",
                         "reason",
                         "created_at",
                         "started_at",
                         "ended_at",
                         "run_dir",
                         "recipe",
                         "attempts",
                         "num_samples",
                         "epochs_done",
                         "epochs_planned",
                         "metric",
                         "final_accuracy",
                         "best_accuracy",
                         "best_epoch",
                         "time_to_train_s",
                         "elapsed_s",
                         "target",
                         "time_split_s",
                         "samples_per_s",
                         "mean_requested_fraction",
                         "mean_realised_fraction",
                         "hidden_total",
                         "moved_back_total",
                         "backward_passes",
                         "sgd_steps",
                         "epochs",
                         "mllog"};
const Keys k_recipe_keys = {"model",
                            "model_kind",
                            "dataset",
                            "strategy",
                            "fraction",
                            "tau",
                            "seed",
                            "ranks",
                            "batch_size",
                            "epochs",
                            "target_accuracy",
                            "lr_compensation",
                            "refresh_every",
                            "path",
                            "sha256",
                            "validated",
                            "note"};
const Keys k_time_split_keys = {"staging",    "init",  "train",         "hidden_pass", "eval",
                                "checkpoint", "other", "communication", "bytes_read",  "total"};
const Keys k_sgd_steps_keys = {"run", "without_hiding", "saved", "saved_fraction"};
const Keys k_epoch_keys = {"epoch",
                           "test_accuracy",
                           "test_loss",
                           "train_loss",
                           "train_accuracy",
                           "lr",
                           "lr_scale",
                           "lr_effective",
                           "requested_fraction",
                           "realised_fraction",
                           "visible",
                           "hidden",
                           "moved_back",
                           "candidates",
                           "refreshed",
                           "sgd_steps",
                           "sgd_steps_saved",
                           "train_s",
                           "hidden_pass_s",
                           "eval_s",
                           "checkpoint_s",
                           "total_s",
                           "samples_per_s",
                           "wall_s"};
const Keys k_mllog_keys = {"path",     "found", "records", "ok", "run_stop_status",
                           "problems", "notes"};
const Keys k_comparison_keys = {"run",
                                "baseline",
                                "automatic",
                                "same_seed",
                                "speedup_total",
                                "time_saved_s",
                                "speedup_to_target",
                                "accuracy_diff_final",
                                "accuracy_diff_best",
                                "timing_noise"};
const Keys k_group_keys = {"label",
                           "short_label",
                           "strategy",
                           "fraction",
                           "runs",
                           "incomplete_runs",
                           "seeds",
                           "time_to_train_s",
                           "final_accuracy",
                           "best_accuracy",
                           "time_to_target_s",
                           "intervals",
                           "target",
                           "work_saved",
                           "baseline_group",
                           "speedup_total",
                           "time_ratio_reliable",
                           "timing_noise",
                           "accuracy_diff_final",
                           "card"};
const Keys k_card_keys = {"title", "work_saved", "time_ratio", "time_ratio_reliable",
                          "time",  "lines"};

} // namespace

TEST_F(Rendered, JsonKeepsItsDocumentedLayout) {
    const auto v = report::parse_json(report::render_json(m_report));
    EXPECT_EQ(v["kakuren_report"].as_int(), report::k_json_version);
    EXPECT_EQ(keys(v), k_report_keys);
    ASSERT_EQ(v["runs"].size(), 3U);
    const auto& run = v["runs"][0];
    EXPECT_EQ(keys(run), k_run_keys);
    EXPECT_EQ(keys(run["recipe"]), k_recipe_keys);
    EXPECT_EQ(keys(run["time_split_s"]), k_time_split_keys);
    EXPECT_EQ(keys(run["sgd_steps"]), k_sgd_steps_keys);
    EXPECT_EQ(keys(run["epochs"][0]), k_epoch_keys);
    EXPECT_EQ(keys(run["mllog"]), k_mllog_keys);
    ASSERT_EQ(v["comparisons"].size(), 2U) << "the finished and the crashed hiding run";
    EXPECT_EQ(keys(v["comparisons"][0]), k_comparison_keys);
    ASSERT_EQ(v["groups"].size(), 2U) << "one per configuration, one seed each";
    EXPECT_EQ(keys(v["groups"][0]), k_group_keys);
    EXPECT_EQ(keys(v["groups"][0]["card"]), k_card_keys);
}

TEST_F(Rendered, JsonCarriesTheDatabaseNumbers) {
    const auto v = report::parse_json(report::render_json(m_report));
    for (const auto& run : v["runs"].as_array()) {
        const std::string id = run["id"].as_string();
        const auto epochs = m_store->epochs(id);
        ASSERT_EQ(run["epochs"].size(), epochs.size()) << id;
        for (std::size_t i = 0; i < epochs.size(); ++i) {
            const auto& e = run["epochs"][i];
            EXPECT_EQ(e["epoch"].as_int(), epochs[i].epoch);
            EXPECT_EQ(e["test_accuracy"].as_double(), epochs[i].test_accuracy);
            EXPECT_EQ(e["hidden"].as_int(), epochs[i].hidden);
            EXPECT_EQ(e["requested_fraction"].as_double(), epochs[i].max_fraction);
            EXPECT_EQ(e["train_s"].as_double(), epochs[i].train_s);
        }
        const auto row = m_store->find_run(id);
        EXPECT_EQ(run["status"].as_string(), db::to_string(row->status));
        EXPECT_EQ(run["final_accuracy"].as_double(), *row->final_accuracy);
    }
    const auto& crashed = v["runs"][2];
    EXPECT_EQ(crashed["id"].as_string(), m_crashed);
    EXPECT_EQ(crashed["status"].as_string(), "crashed");
    EXPECT_EQ(crashed["outcome"].as_string(), "failed");
    EXPECT_FALSE(crashed["reason"].as_string().empty());
    EXPECT_FALSE(crashed["mllog"]["ok"].as_bool(true));
    EXPECT_TRUE(v["runs"][0]["mllog"]["ok"].as_bool());
}

TEST_F(Rendered, CsvIsOneRowPerRunWithAStableHeader) {
    const std::string csv = report::render_csv(m_report);
    std::vector<std::string> lines;
    std::stringstream in(csv);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    ASSERT_EQ(lines.size(), 4U);
    const auto header = csv_cells(lines[0]);
    EXPECT_EQ(header.front(), "run_id");
    EXPECT_EQ(header.back(), "mllog_problems");
    EXPECT_EQ(header.size(), 49U);
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto cells = csv_cells(lines[i]);
        ASSERT_EQ(cells.size(), header.size()) << lines[i];
    }
    const auto hiding = csv_cells(lines[1]);
    EXPECT_EQ(hiding[0], m_hiding);
    const auto column = [&](const std::string& name) {
        return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) -
                                        header.begin());
    };
    EXPECT_EQ(hiding[column("baseline_id")], m_baseline);
    EXPECT_GT(std::stod(hiding[column("speedup_total")]), 1.0);
    const auto crashed = csv_cells(lines[3]);
    EXPECT_EQ(crashed[column("status")], "crashed");
    EXPECT_EQ(crashed[column("time_to_train_s")], "");
    EXPECT_NE(crashed[column("reason")].find("ended without"), std::string::npos);
}

TEST_F(Rendered, HtmlIsSelfContained) {
    const std::string html = report::render_html(m_report);
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0U);
    for (const char* forbidden : {"<link", " src=", " href=", "@import", "url(", "<img"}) {
        EXPECT_EQ(html.find(forbidden), std::string::npos) << forbidden;
    }
    // The only script is the data island, which browsers never execute.
    EXPECT_EQ(html.find("<script"), html.find("<script type=\"application/json\""));
    const auto island_start = html.find('>', html.find("id=\"kakuren-report-data\"")) + 1;
    const auto island =
        report::parse_json(html.substr(island_start, html.find("</script>") - island_start));
    EXPECT_EQ(island["runs"].size(), 3U);
    EXPECT_EQ(island["runs"][0]["id"].as_string(), m_hiding);
}

namespace {

using report::testing::Chart;

/// A per-epoch series of a chart and the database numbers it plots: (x, y) of an epoch row.
struct EpochSeries {
    const char* chart;
    const char* series;
    std::function<std::pair<double, double>(const db::EpochRow&)> point;
};

/// The per-epoch series the HTML report draws; n: the runs' number of samples.
std::vector<EpochSeries> epoch_series(std::int64_t n) {
    return {
        {"accuracy_epoch", "test_accuracy",
         [](const db::EpochRow& e) {
             return std::pair{double(e.epoch), e.test_accuracy};
         }},
        {"hidden_fraction", "requested",
         [](const db::EpochRow& e) {
             return std::pair{double(e.epoch), e.max_fraction};
         }},
        {"hidden_fraction", "realised",
         [n](const db::EpochRow& e) {
             return std::pair{double(e.epoch), double(e.hidden) / double(n)};
         }},
        {"learning_rate", "lr",
         [](const db::EpochRow& e) {
             return std::pair{double(e.epoch), e.lr};
         }},
        {"learning_rate", "lr_effective",
         [](const db::EpochRow& e) {
             return std::pair{double(e.epoch), e.lr * e.lr_scale};
         }},
    };
}

/// Run id's polyline of x in chart holds the epochs' numbers in data-values and draws each
/// where the chart's axes put it; adds the points checked to checked.
void expect_plots_epochs(const Chart& chart, const EpochSeries& x, const std::string& id,
                         const std::vector<db::EpochRow>& epochs, int& checked) {
    const auto it =
        std::find_if(chart.polylines.begin(), chart.polylines.end(), [&](const auto& p) {
            return p.at("data-run") == id && p.at("data-series") == x.series;
        });
    ASSERT_NE(it, chart.polylines.end()) << x.chart << " " << x.series << " " << id;
    const auto values = report::testing::pairs(it->at("data-values"), ';');
    const auto pixels = report::testing::pairs(it->at("points"), ' ');
    ASSERT_EQ(values.size(), epochs.size());
    ASSERT_EQ(pixels.size(), epochs.size());
    for (std::size_t i = 0; i < epochs.size(); ++i) {
        const auto [ex, ey] = x.point(epochs[i]);
        EXPECT_EQ(values[i].first, ex) << x.chart << " " << id;
        EXPECT_DOUBLE_EQ(values[i].second, ey) << x.chart << " " << id;
        const auto [px, py] = report::testing::to_pixels(chart.svg, ex, ey);
        EXPECT_NEAR(pixels[i].first, px, 0.01);
        EXPECT_NEAR(pixels[i].second, py, 0.01);
        ++checked;
    }
}

/// Wall-time x values: the log's eval_accuracy times since run_start.
void expect_wall_time_x(const Chart& time_chart, const std::vector<report::RunReport>& runs) {
    for (const auto& run : runs) {
        const auto it = std::find_if(time_chart.polylines.begin(), time_chart.polylines.end(),
                                     [&](const auto& p) { return p.at("data-run") == run.run.id; });
        ASSERT_NE(it, time_chart.polylines.end());
        const auto values = report::testing::pairs(it->at("data-values"), ';');
        const auto log = run.log.epochs_by_number();
        for (std::size_t i = 0; i < values.size(); ++i) {
            const auto& le = log.at(static_cast<int>(i) + 1);
            EXPECT_DOUBLE_EQ(values[i].first, double(*le.eval_ms - *run.log.run_start_ms) / 1000.0);
        }
    }
}

/// Stacked time split: one bar per run, its parts the report's split.
void expect_train_split(const Chart& split, const std::vector<report::RunReport>& runs) {
    for (const auto& run : runs) {
        double train = -1;
        for (const auto& rect : split.rects) {
            if (rect.count("data-part") != 0 && rect.at("data-part") == "train" &&
                rect.find("data-value") != rect.end() &&
                std::fabs(std::stod(rect.at("data-value")) - run.split.train_s) < 1e-12) {
                train = std::stod(rect.at("data-value"));
            }
        }
        EXPECT_DOUBLE_EQ(train, run.split.train_s) << run.run.id;
    }
}

} // namespace

TEST_F(Rendered, HtmlPlotsExactlyTheDatabaseNumbers) {
    const auto cs = report::testing::charts(report::render_html(m_report));
    for (const char* name :
         {"accuracy_epoch", "accuracy_time", "hidden_fraction", "time_split", "learning_rate"}) {
        ASSERT_EQ(cs.count(name), 1U) << name;
    }
    int checked = 0;
    for (const EpochSeries& x : epoch_series(2048)) {
        for (const std::string& id : {m_hiding, m_baseline, m_crashed}) {
            ASSERT_NO_FATAL_FAILURE(
                expect_plots_epochs(cs.at(x.chart), x, id, m_store->epochs(id), checked));
        }
    }
    EXPECT_EQ(checked, 5 * (4 + 4 + 2));
    ASSERT_NO_FATAL_FAILURE(expect_wall_time_x(cs.at("accuracy_time"), m_report.runs));
    expect_train_split(cs.at("time_split"), m_report.runs);
}

TEST_F(Rendered, TableAnswersTheQuestionsAtAGlance) {
    const std::string t = report::render_table(m_report);
    for (const char* part :
         {"AT A GLANCE", "of the SGD steps (", "per-sample backward passes",
          "x faster, unreliable (timing noise): time-to-train", "(1 seed, no interval)",
          "timing noise: epoch 1 did identical work in both runs", "accuracy: final",
          "SGD steps saved", "time went to init", "RUNS", "TIME SPLIT", "AGAINST BASELINE",
          "MLPERF LOG CHECK", "failed (crashed)", "REQUESTED F",
          "== " /* per-run detail for <= 4 runs */}) {
        EXPECT_NE(t.find(part), std::string::npos) << part << "\n" << t;
    }
}

TEST_F(Rendered, SamplesInEveryFormat) {
    report::Request request{{m_hiding}};
    request.samples = true;
    request.workspace = m_dir.string();
    const auto r = report::build_report(*m_store, request);
    const std::string csv = report::render_csv(r);
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2048 + 1);
    EXPECT_EQ(csv.substr(0, csv.find('\n')),
              "run_id,sample,times_hidden,latest_loss,hidden_in_loss_epoch,loss_epoch");
    const auto v = report::parse_json(report::render_json(r));
    ASSERT_EQ(v["samples"].size(), 1U);
    EXPECT_EQ(v["samples"][0]["times_hidden_histogram"].size(), 5U);
    EXPECT_EQ(v["samples"][0]["losses"]["epoch"].as_int(), 4);
    const std::string html = report::render_html(r);
    const auto cs = report::testing::charts(html);
    EXPECT_EQ(cs.count("times_hidden"), 1U);
    EXPECT_EQ(cs.count("loss_hidden_visible"), 1U);
    const std::string table = report::render_table(r);
    EXPECT_NE(table.find("TIMES HIDDEN"), std::string::npos);
    EXPECT_NE(table.find("only the latest per-sample losses"), std::string::npos);
}

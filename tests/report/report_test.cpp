// build_report on synthetic workspaces: selection, baselines, comparisons, seeds, crashed and
// running runs, time split, SGD steps, time-to-target, the per-sample view.
#include "report/report.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "report/recipe_summary.hpp"
#include "report/render.hpp"
#include "report/text.hpp"
#include "support/temp_dir.hpp"
#include "synthetic_workspace.hpp"

namespace fs = std::filesystem;
using namespace kakuren;
using report::testing::add_synthetic_run;
using report::testing::synthetic_accuracy;
using report::testing::SyntheticResult;
using report::testing::SyntheticRun;

namespace {

class Workspace : public ::testing::Test {
  protected:
    void SetUp() override {
        m_dir = kakuren::testing::make_temp_dir("kakuren-report");
        m_store = std::make_unique<db::Store>(db::Store::open(m_dir / "kakuren.db"));
    }
    void TearDown() override {
        m_store.reset();
        fs::remove_all(m_dir);
    }

    SyntheticResult add(SyntheticRun spec) {
        spec.start_ms = m_clock;
        m_clock += 1'000'000; // created_at orders runs as added
        return add_synthetic_run(*m_store, m_dir, spec);
    }

    report::Report build(report::Request request) {
        request.workspace = m_dir.string();
        return report::build_report(*m_store, request);
    }

    static SyntheticRun hiding(std::int64_t seed, double epoch_s = 0.8) {
        SyntheticRun s;
        s.seed = seed;
        s.epoch_s = epoch_s;
        return s;
    }
    static SyntheticRun baseline(std::int64_t seed, double epoch_s = 1.0) {
        SyntheticRun s;
        s.strategy = "none";
        s.fraction = 0.3;
        s.seed = seed;
        s.epoch_s = epoch_s;
        return s;
    }

    fs::path m_dir;
    std::unique_ptr<db::Store> m_store;
    std::int64_t m_clock = 1'790'000'000'000;
};

double run_time_s(const SyntheticResult& r) {
    return static_cast<double>(r.run_stop_ms - r.run_start_ms) / 1000.0;
}

} // namespace

TEST_F(Workspace, AHidingRunIsComparedWithTheBaselineOfItsSeed) {
    const auto run = add(hiding(1));
    add(baseline(2));
    const auto same_seed = add(baseline(1));
    SyntheticRun other = baseline(1);
    other.epochs = 5; // another recipe: never its baseline
    add(other);

    const auto r = build({{run.id}});
    ASSERT_EQ(r.runs.size(), 2U);
    EXPECT_EQ(r.runs[0].run.id, run.id);
    EXPECT_EQ(r.runs[0].role, "selected");
    EXPECT_EQ(r.runs[1].run.id, same_seed.id);
    EXPECT_EQ(r.runs[1].role, "baseline");
    ASSERT_EQ(r.comparisons.size(), 1U);
    const auto& c = r.comparisons[0];
    EXPECT_EQ(c.baseline_id, same_seed.id);
    EXPECT_TRUE(c.automatic);
    EXPECT_TRUE(c.same_seed);
    ASSERT_TRUE(c.speedup_total);
    EXPECT_NEAR(*c.speedup_total, run_time_s(same_seed) / run_time_s(run), 1e-12);
    EXPECT_GT(*c.speedup_total, 1.0) << "hiding trained fewer samples per epoch";
    EXPECT_NEAR(*c.time_saved_s, run_time_s(same_seed) - run_time_s(run), 1e-12);
    const auto db_run = m_store->find_run(run.id);
    const auto db_base = m_store->find_run(same_seed.id);
    EXPECT_NEAR(*c.accuracy_diff_final, *db_run->final_accuracy - *db_base->final_accuracy, 1e-12);
    EXPECT_NEAR(*c.accuracy_diff_best, *db_run->best_accuracy - *db_base->best_accuracy, 1e-12);
    EXPECT_FALSE(c.speedup_to_target) << "no target set";
    EXPECT_TRUE(r.notes.empty());
}

TEST_F(Workspace, AnotherSeedIsTheBaselineWhenTheSameSeedIsMissing) {
    const auto run = add(hiding(1));
    const auto other_seed = add(baseline(3));
    const auto r = build({{run.id}});
    ASSERT_EQ(r.comparisons.size(), 1U);
    EXPECT_EQ(r.comparisons[0].baseline_id, other_seed.id);
    EXPECT_FALSE(r.comparisons[0].same_seed);
}

TEST_F(Workspace, TheGivenBaselineWins) {
    const auto run = add(hiding(1));
    add(baseline(1));
    SyntheticRun slow = baseline(9, 2.0);
    slow.epochs = 5;
    slow.name = "slow";
    const auto given = add(slow);
    report::Request request{{run.id}};
    request.baseline = "slow-"; // a unique prefix of its id works too
    const auto r = build(request);
    ASSERT_EQ(r.comparisons.size(), 1U);
    EXPECT_EQ(r.comparisons[0].baseline_id, given.id);
    EXPECT_FALSE(r.comparisons[0].automatic);
}

TEST_F(Workspace, ABaselineOfAnotherModelOrTheRunItselfIsSaidNotSilentlyUsed) {
    // Before: another model's run was compared silently, and the run itself was dropped.
    const auto run = add(hiding(1));
    SyntheticRun other = baseline(1);
    other.sets = {"model.hidden=[32]"};
    const auto given = add(other);
    report::Request request{{run.id}};
    request.baseline = given.id;
    auto r = build(request);
    ASSERT_EQ(r.comparisons.size(), 1U);
    ASSERT_EQ(r.notes.size(), 1U);
    EXPECT_EQ(r.notes[0], "warning: baseline " + given.id + " trains mlp [32] on synthetic but " +
                              run.id +
                              " trains mlp [64] on synthetic: their accuracies and times "
                              "measure different problems");
    request.runs = {given.id};
    r = build(request);
    EXPECT_TRUE(r.comparisons.empty());
    ASSERT_EQ(r.notes.size(), 1U);
    EXPECT_EQ(r.notes[0], "--baseline " + given.id +
                              " is a run of the report itself: it is not compared with itself");
}

TEST_F(Workspace, AHidingRunWithoutBaselineGetsANote) {
    const auto run = add(hiding(1));
    const auto r = build({{run.id}});
    EXPECT_TRUE(r.comparisons.empty());
    ASSERT_EQ(r.notes.size(), 1U);
    EXPECT_EQ(r.notes[0], "no baseline for " + run.id +
                              ": run the same recipe with --set hiding.strategy=none, or pass "
                              "--baseline RUN");
}

TEST_F(Workspace, ACrashedRunIsFailedWithItsReasonNeverRunning) {
    SyntheticRun spec = hiding(1);
    spec.status = db::RunStatus::crashed;
    spec.crash_after = 2;
    const auto crashed = add(spec);
    const auto r = build({{crashed.id}});
    ASSERT_EQ(r.runs.size(), 1U);
    const auto& run = r.runs[0];
    EXPECT_EQ(db::to_string(run.run.status), "crashed");
    EXPECT_EQ(run.outcome, "failed");
    EXPECT_NE(run.run.reason.find("ended without recording an end"), std::string::npos);
    EXPECT_EQ(run.epochs.size(), 2U);
    EXPECT_FALSE(run.time_to_train_s);
    ASSERT_TRUE(run.elapsed_s);
    EXPECT_GT(*run.elapsed_s, 0);
    ASSERT_FALSE(run.log.problems.empty());
    EXPECT_NE(run.log.problems.back().message.find("no run_stop"), std::string::npos);

    const std::string table = report::render_table(r);
    EXPECT_NE(table.find("failed (crashed)"), std::string::npos) << table;
    EXPECT_NE(table.find("ended without recording an end"), std::string::npos);
    EXPECT_EQ(table.find("running"), std::string::npos) << table;
    const std::string json = report::render_json(r);
    EXPECT_NE(json.find(R"("outcome": "failed")"), std::string::npos);
    EXPECT_NE(json.find(R"("time_to_train_s": null)"), std::string::npos);
}

TEST_F(Workspace, ARunningRunIsRunningAndItsLogIsNotFaulted) {
    SyntheticRun spec = hiding(1);
    spec.status = db::RunStatus::running;
    spec.crash_after = 1;
    const auto running = add(spec);
    const auto r = build({{running.id}});
    const auto& run = r.runs[0];
    EXPECT_EQ(run.outcome, "running");
    EXPECT_TRUE(run.log.problems.empty()) << run.log.problems.front().message;
    ASSERT_FALSE(run.log.notes.empty());
    EXPECT_EQ(run.log.notes.back(), "no run_stop yet: the run is still running");
    EXPECT_NE(report::render_table(r).find("so far)"), std::string::npos);
}

TEST_F(Workspace, TheTimeSplitAddsUpToTheWallTime) {
    const auto added = add(hiding(1));
    const auto r = build({{added.id}});
    const auto& run = r.runs[0];
    const auto epochs = m_store->epochs(added.id);
    double train = 0, hidden = 0, eval = 0;
    for (const auto& e : epochs) {
        train += e.train_s;
        hidden += e.hidden_pass_s;
        eval += e.eval_s;
    }
    const auto& s = run.split;
    EXPECT_NEAR(s.train_s, train, 1e-12);
    EXPECT_NEAR(s.hidden_pass_s, hidden, 1e-12);
    EXPECT_NEAR(s.eval_s, eval, 1e-12);
    ASSERT_TRUE(s.init_s);
    EXPECT_NEAR(*s.init_s, added.init_s, 1e-9);
    EXPECT_FALSE(s.staging_s);
    EXPECT_FALSE(s.checkpoint_s);
    EXPECT_NEAR(s.total_s,
                static_cast<double>(added.run_stop_ms - (added.run_start_ms - 400)) / 1000.0, 1e-9);
    EXPECT_NEAR(*s.init_s + s.train_s + s.hidden_pass_s + s.eval_s + s.other_s, s.total_s, 1e-9);
    EXPECT_GE(s.other_s, 0);
    ASSERT_TRUE(run.time_to_train_s);
    EXPECT_NEAR(*run.time_to_train_s, run_time_s(added), 1e-12);
}

TEST_F(Workspace, CommunicationTimeIsSummedOverEpochsAndNotAddedToTheTotal) {
    SyntheticRun two_ranks = hiding(1);
    two_ranks.comm_s = 0.05;
    const auto multi = add(two_ranks);
    const auto single = add(hiding(2));
    const auto r = build({{multi.id, single.id}});
    const auto& s = r.runs[0].split;
    ASSERT_TRUE(s.communication_s);
    EXPECT_NEAR(*s.communication_s, 4 * 0.05, 1e-12);
    EXPECT_NEAR(*s.init_s + s.train_s + s.hidden_pass_s + s.eval_s + s.other_s, s.total_s, 1e-9)
        << "communication is a part of train, hidden pass and eval, not another part";
    EXPECT_FALSE(r.runs[1].split.communication_s) << "a one-rank run waits on nobody";
    EXPECT_NE(report::render_table(r).find("ranks waited on each other's collectives"),
              std::string::npos);
}

TEST_F(Workspace, AnErrorMetricIsBestAtItsLowestAndReachesItsTargetFromAbove) {
    // A regression run (task.kind = "regression") records MAE, where lower is better. The
    // synthetic values grow epoch by epoch, so as an error epoch 1 is the best and the first to
    // be at or below a target between epochs 1 and 2 (as an accuracy it would be epoch 2).
    SyntheticRun mae = baseline(1);
    mae.metric = "MAE";
    const auto added = add(mae);
    const double e1 = synthetic_accuracy(mae, 1), e2 = synthetic_accuracy(mae, 2);
    ASSERT_LT(e1, e2);
    report::Request request;
    request.runs = {added.id};
    request.target = (e1 + e2) / 2;
    const auto r = build(request);
    ASSERT_EQ(r.runs.size(), 1U);
    const auto& run = r.runs[0];
    EXPECT_EQ(run.best_epoch, 1);
    ASSERT_TRUE(run.target);
    EXPECT_TRUE(run.target->reached);
    EXPECT_EQ(run.target->epoch, 1);
    const std::string text = report::render_table(r);
    EXPECT_NE(text.find("TEST MAE"), std::string::npos) << text;
    EXPECT_NE(text.find(report::metric_value("MAE", e1)), std::string::npos) << text;
    EXPECT_EQ(text.find(report::percent(e1, 2)), std::string::npos)
        << "an error is not a percentage\n"
        << text;
    EXPECT_NE(report::render_json(r).find(R"("metric": "MAE")"), std::string::npos);
}

TEST_F(Workspace, TheHtmlReportNamesTheRunsMetricAndJudgesAnErrorByItsDirection) {
    // The synthetic hiding run records 0.004 less than its baseline: as an MAE that is better
    // (good, a number), as an IoU worse by 0.4 points (bad, in percentage points).
    for (const auto& [metric, seed] : {std::pair<std::string, int>{"MAE", 1}, {"IoU", 2}}) {
        SCOPED_TRACE(metric);
        SyntheticRun run = hiding(seed);
        SyntheticRun base = baseline(seed);
        run.metric = base.metric = metric;
        const auto added_run = add(run);
        add(base);
        report::Request request;
        request.runs = {added_run.id};
        const auto r = build(request);
        ASSERT_EQ(r.comparisons.size(), 1U);
        const double diff = *r.comparisons[0].accuracy_diff_final;
        ASSERT_LT(diff, 0);
        const std::string html = report::render_html(r);
        const bool error = metric == "MAE";
        const std::string diff_text = error ? report::fixed(diff, 4) : report::points_text(diff);
        EXPECT_EQ(report::metric_diff_text(metric, diff), diff_text);
        // The at-a-glance card: good when the metric improved (an MAE fell, an IoU rose).
        std::string card = std::string("<span class=\"") + (error ? "good" : "bad") + "\">";
        card += diff_text;
        card += " ";
        card += metric;
        card += "</span>";
        EXPECT_NE(html.find(card), std::string::npos) << html;
        EXPECT_NE(html.find("Test " + metric + " per epoch"), std::string::npos);
        EXPECT_NE(html.find(error ? "test MAE, lower is better" : "test IoU (%)"),
                  std::string::npos);
        EXPECT_NE(html.find("<th>final " + metric + " diff</th>"), std::string::npos);
        EXPECT_NE(html.find(">" + diff_text + "</td>"), std::string::npos)
            << "the comparison table gives the difference in the metric's own unit";
        EXPECT_NE(
            html.find(">" + report::metric_value(metric, synthetic_accuracy(run, 1)) + "</td>"),
            std::string::npos)
            << "the per-epoch table";
        for (const char* accuracy_text :
             {"Test accuracy", "test accuracy", "accuracy</span>", "acc</th>", "acc diff</th>"}) {
            EXPECT_EQ(html.find(accuracy_text), std::string::npos)
                << "a " << metric << " report shows no " << accuracy_text;
        }
        if (error) {
            EXPECT_EQ(html.find(report::points_text(diff)), std::string::npos)
                << "an MAE difference is not in percentage points";
        }
        const std::string text = report::render_table(r);
        EXPECT_NE(text.find(metric + ": final "), std::string::npos) << text;
        EXPECT_NE(text.find("FINAL " + std::string(error ? "MAE" : "IOU") + " DIFF"),
                  std::string::npos)
            << text;
        EXPECT_EQ(text.find("ACC"), std::string::npos) << text;
        EXPECT_NE(text.find("(" + diff_text + ")"), std::string::npos) << text;
    }
}

TEST_F(Workspace, SgdStepsSavedAreFullEpochStepsMinusStepsRun) {
    const auto added = add(hiding(1));
    const auto r = build({{added.id}});
    const auto& run = r.runs[0];
    std::int64_t run_steps = 0;
    for (const auto& e : m_store->epochs(added.id)) {
        run_steps += (e.visible + 127) / 128;
    }
    EXPECT_EQ(run.sgd_steps_full, 4 * 16); // 2048 samples / batch 128, 4 epochs
    EXPECT_EQ(run.sgd_steps_run, run_steps);
    EXPECT_GT(run.sgd_steps_saved(), 0);
    EXPECT_EQ(run.epochs[0].sgd_steps_saved, 0) << "epoch 1 hides nothing";
}

TEST_F(Workspace, RequestedAndRealisedFractionsPerEpoch) {
    const auto added = add(hiding(1));
    const auto r = build({{added.id}});
    const auto epochs = m_store->epochs(added.id);
    ASSERT_EQ(r.runs[0].epochs.size(), epochs.size());
    for (std::size_t i = 0; i < epochs.size(); ++i) {
        const auto& p = r.runs[0].epochs[i];
        EXPECT_EQ(p.row.max_fraction, epochs[i].max_fraction);
        EXPECT_DOUBLE_EQ(p.realised_fraction, static_cast<double>(epochs[i].hidden) / 2048.0);
        EXPECT_LE(p.realised_fraction, p.row.max_fraction + 1e-12);
        EXPECT_DOUBLE_EQ(p.lr_effective, epochs[i].lr * epochs[i].lr_scale);
    }
}

TEST_F(Workspace, TimeToTargetFromTheLog) {
    SyntheticRun spec = hiding(1);
    spec.epochs = 8;
    const auto added = add(spec);
    const double target = 0.8;
    report::Request request{{added.id}};
    request.target = target;
    const auto r = build(request);
    const auto& t = r.runs[0].target;
    ASSERT_TRUE(t);
    EXPECT_EQ(t->source, "--target");
    int expected_epoch = 0;
    for (int e = 1; e <= 8 && expected_epoch == 0; ++e) {
        if (report::testing::synthetic_accuracy(spec, e) >= target) {
            expected_epoch = e;
        }
    }
    ASSERT_GT(expected_epoch, 0);
    EXPECT_TRUE(t->reached);
    EXPECT_EQ(t->epoch, expected_epoch);
    const auto log = r.runs[0].log.epochs_by_number();
    EXPECT_NEAR(*t->time_s,
                static_cast<double>(*log.at(expected_epoch).eval_ms - added.run_start_ms) / 1000.0,
                1e-12);

    request.target = 0.999;
    const auto missed = build(request);
    EXPECT_FALSE(missed.runs[0].target->reached);
    EXPECT_NE(report::render_table(missed).find("not reached"), std::string::npos);
}

TEST_F(Workspace, TheRecipeTargetAndSucceededRuns) {
    SyntheticRun spec = hiding(1);
    spec.epochs = 8;
    spec.target = 0.8;
    spec.status = db::RunStatus::succeeded;
    const auto added = add(spec);
    const auto r = build({{added.id}});
    const auto& run = r.runs[0];
    EXPECT_EQ(db::to_string(run.run.status), "succeeded");
    ASSERT_TRUE(run.target);
    EXPECT_EQ(run.target->source, "recipe");
    EXPECT_TRUE(run.target->reached);
    EXPECT_EQ(static_cast<int>(run.epochs.size()), run.target->epoch) << "stopped at the target";
    EXPECT_TRUE(run.log.problems.empty()) << run.log.problems.front().message;
}

TEST_F(Workspace, SeedsAreGroupedWithMeanStdAndOlympicMean) {
    std::vector<double> hiding_times, baseline_times;
    for (int seed = 1; seed <= 5; ++seed) {
        hiding_times.push_back(run_time_s(add(hiding(seed, 0.7 + 0.05 * seed))));
        baseline_times.push_back(run_time_s(add(baseline(seed, 1.0 + 0.03 * seed))));
    }
    report::Request request;
    request.all = true;
    const auto r = build(request);
    EXPECT_EQ(r.runs.size(), 10U);
    EXPECT_EQ(r.comparisons.size(), 5U);
    ASSERT_EQ(r.groups.size(), 2U);
    const auto& h = r.groups[0].strategy == "none" ? r.groups[1] : r.groups[0];
    const auto& b = r.groups[0].strategy == "none" ? r.groups[0] : r.groups[1];
    EXPECT_EQ(h.run_ids.size(), 5U);
    EXPECT_EQ(h.seeds, (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
    const auto expected = report::spread(hiding_times);
    EXPECT_NEAR(h.time_to_train_s.mean, expected.mean, 1e-12);
    ASSERT_TRUE(h.time_to_train_s.olympic);
    std::sort(hiding_times.begin(), hiding_times.end());
    EXPECT_NEAR(*h.time_to_train_s.olympic,
                (hiding_times[1] + hiding_times[2] + hiding_times[3]) / 3.0, 1e-12);
    ASSERT_TRUE(h.baseline_group);
    EXPECT_EQ(&r.groups[*h.baseline_group], &b);
    std::sort(baseline_times.begin(), baseline_times.end());
    const double b_olympic = (baseline_times[1] + baseline_times[2] + baseline_times[3]) / 3.0;
    ASSERT_TRUE(h.speedup_total);
    EXPECT_NEAR(*h.speedup_total, b_olympic / *h.time_to_train_s.olympic, 1e-12);
    EXPECT_NEAR(*h.accuracy_diff_final, *h.final_accuracy.olympic - *b.final_accuracy.olympic,
                1e-12);
}

TEST(Spread, MeanSampleStdAndOlympic) {
    const auto s = report::spread({1, 2, 3, 4, 10});
    EXPECT_EQ(s.n, 5);
    EXPECT_DOUBLE_EQ(s.mean, 4.0);
    EXPECT_NEAR(s.std, std::sqrt((9 + 4 + 1 + 0 + 36) / 4.0), 1e-12);
    ASSERT_TRUE(s.olympic);
    EXPECT_DOUBLE_EQ(*s.olympic, 3.0);
    EXPECT_FALSE(report::spread({1, 2, 3, 4}).olympic) << "olympic needs >= 5 runs";
    EXPECT_EQ(report::spread({2.5}).std, 0.0);
    EXPECT_EQ(report::spread({}).n, 0);
}

TEST_F(Workspace, SelectionNewestByDefaultGlobsAndErrors) {
    EXPECT_THROW(build({}), UsageError) << "an empty workspace";
    SyntheticRun a = hiding(1);
    a.name = "alpha";
    SyntheticRun b = baseline(1);
    b.name = "beta";
    const auto ra = add(a);
    const auto rb = add(b);
    const auto newest = build({});
    ASSERT_EQ(newest.runs.size(), 1U);
    EXPECT_EQ(newest.runs[0].run.id, rb.id);

    report::Request by_name;
    by_name.name_pattern = "alph*";
    const auto named = build(by_name);
    ASSERT_EQ(named.runs.size(), 2U) << "alpha, and beta as its baseline (names do not matter)";
    EXPECT_EQ(named.runs[0].run.id, ra.id);
    EXPECT_EQ(named.runs[0].role, "selected");
    EXPECT_EQ(named.runs[1].role, "baseline");

    by_name.name_pattern = "gamma*";
    EXPECT_THROW(build(by_name), UsageError);
    EXPECT_THROW(build({{"nope"}}), UsageError);
    report::Request bad_baseline{{ra.id}};
    bad_baseline.baseline = "nope";
    EXPECT_THROW(build(bad_baseline), UsageError);
}

TEST_F(Workspace, ARunWithoutLogFallsBackToTheDatabase) {
    SyntheticRun spec = hiding(1);
    spec.write_log = false;
    const auto added = add(spec);
    const auto r = build({{added.id}});
    const auto& run = r.runs[0];
    EXPECT_FALSE(run.log.found);
    ASSERT_EQ(run.log.problems.size(), 1U);
    EXPECT_NE(run.log.problems[0].message.find("no MLPerf log at"), std::string::npos);
    double total = 0;
    for (const auto& e : m_store->epochs(added.id)) {
        total += e.total_s;
    }
    ASSERT_TRUE(run.time_to_train_s);
    EXPECT_NEAR(*run.time_to_train_s, total, 1e-12);
    EXPECT_FALSE(run.split.init_s);
}

TEST_F(Workspace, SamplesCountHowOftenEachSampleWasHidden) {
    const auto added = add(hiding(1));
    report::Request request{{added.id}};
    request.samples = true;
    const auto r = build(request);
    ASSERT_EQ(r.samples.size(), 1U);
    const auto& s = r.samples[0];
    EXPECT_EQ(s.num_samples, 2048);
    EXPECT_EQ(s.epochs_recorded, 4);
    ASSERT_EQ(s.histogram.size(), 5U);
    EXPECT_EQ(std::accumulate(s.histogram.begin(), s.histogram.end(), std::int64_t{0}), 2048);
    std::int64_t hidden_total = 0, weighted = 0;
    for (const auto& e : m_store->epochs(added.id)) {
        hidden_total += e.hidden;
    }
    for (std::size_t k = 0; k < s.histogram.size(); ++k) {
        weighted += static_cast<std::int64_t>(k) * s.histogram[k];
    }
    EXPECT_EQ(weighted, hidden_total);
    EXPECT_EQ(s.never_hidden, s.histogram[0]);
    ASSERT_FALSE(s.most_hidden.empty());
    for (std::size_t i = 1; i < s.most_hidden.size(); ++i) {
        EXPECT_GE(s.most_hidden[i - 1].second, s.most_hidden[i].second);
    }
    // Sample history agrees for the most hidden sample.
    const auto history = m_store->sample_history(added.id, s.most_hidden[0].first);
    int times = 0;
    for (const auto& [epoch, was_hidden] : history) {
        times += was_hidden ? 1 : 0;
    }
    EXPECT_EQ(times, s.most_hidden[0].second);

    ASSERT_TRUE(s.have_losses);
    EXPECT_EQ(s.loss_epoch, 4);
    EXPECT_EQ(s.state_epoch, 4);
    EXPECT_EQ(s.hidden.count, m_store->epochs(added.id).back().hidden);
    EXPECT_EQ(s.hidden.count + s.visible.count, 2048);
    EXPECT_LT(s.hidden.mean, s.visible.mean) << "hidden samples are the low-loss ones";
    EXPECT_NE(s.note.find("only the latest per-sample losses"), std::string::npos);
    const auto hist_total =
        std::accumulate(s.loss_hist_hidden.begin(), s.loss_hist_hidden.end(), std::int64_t{0}) +
        std::accumulate(s.loss_hist_visible.begin(), s.loss_hist_visible.end(), std::int64_t{0});
    EXPECT_EQ(hist_total, 2048);

    request.sample_epoch = 2;
    EXPECT_EQ(build(request).samples[0].hidden.count, m_store->epochs(added.id)[1].hidden);
    request.sample_epoch = 9;
    EXPECT_THROW(build(request), UsageError);
}

TEST(RecipeSummary, ReadsLenientlyWhenTheRecipeNoLongerValidates) {
    const std::string text = "[run]\nname = \"x\"\nseed = 3\n\n[data]\ndataset = \"idx\"\n"
                             "path = \"/nonexistent/data\"\nbatch_size = 64\n\n[model]\n"
                             "kind = \"cnn\"\nchannels = [8, 16]\nfc = 32\n\n[hiding]\n"
                             "strategy = \"kakurenbo\"\nfraction = 0.25\n";
    const auto s = report::summarize_recipe(text, "runs/x/recipe.toml");
    EXPECT_FALSE(s.validated);
    EXPECT_NE(s.note.find("does not exist"), std::string::npos) << s.note;
    EXPECT_EQ(s.model, "cnn [8, 16] fc 32");
    EXPECT_EQ(s.seed, 3);
    EXPECT_EQ(s.batch_size, 64);
    EXPECT_DOUBLE_EQ(s.fraction, 0.25);
    EXPECT_EQ(s.baseline_key.find("seed"), std::string::npos);
    EXPECT_EQ(s.baseline_key.find("hiding."), std::string::npos);
    EXPECT_NE(s.group_key.find("hiding.fraction=0.25"), std::string::npos);
}

TEST(RecipeSummary, LabelsEachStrategyWithItsOwnParameters) {
    const std::string synthetic = "[data]\ndataset = \"synthetic\"\n\n[hiding]\n";
    const auto label = [&](const std::string& hiding) {
        return report::summarize_recipe(synthetic + hiding, "x.toml").hiding_label;
    };
    EXPECT_EQ(label("strategy = \"kakurenbo\"\nfraction = 0.4\n"), "kakurenbo F=0.40 tau=0.70");
    // Not KAKURENBO's F and tau, which rotate and infobatch do not read.
    EXPECT_EQ(label("strategy = \"rotate\"\nfraction = 0.4\nrotate_ratio = 0.5\n"),
              "rotate share=0.90 r=0.50 full=1 tau=0.90");
    EXPECT_EQ(label("strategy = \"infobatch\"\nfraction = 0.4\n"), "infobatch r=0.50 delta=0.875");
    EXPECT_EQ(label("strategy = \"none\"\n"), "none");
    // runs and show read the stored text the same way, also when it no longer validates.
    EXPECT_EQ(report::hiding_label(report::flat_toml(
                  "[hiding]\nstrategy = \"selective_backprop\"\nsb_beta = 2.0\n")),
              "selective_backprop beta=2.00");
    EXPECT_EQ(report::hiding_label(report::flat_toml("[hiding]\nstrategy = \"rotate\"\n")),
              "rotate share=? r=? full=? tau=?");
    EXPECT_EQ(report::hiding_label(report::flat_toml("[run]\nname = \"x\"\n")), "?");
}

TEST_F(Workspace, ARunThatDiedBeforeItsFirstEpochRendersInEveryFormat) {
    SyntheticRun spec = hiding(1);
    spec.status = db::RunStatus::crashed;
    spec.crash_after = 0;
    const auto added = add(spec);
    report::Request request{{added.id}};
    request.samples = true;
    const auto r = build(request);
    const auto& run = r.runs[0];
    EXPECT_TRUE(run.epochs.empty());
    EXPECT_EQ(run.outcome, "failed");
    EXPECT_EQ(run.split.train_s, 0.0);
    EXPECT_NE(report::render_table(r).find("no epochs recorded"), std::string::npos);
    EXPECT_NE(report::render_html(r).find("no epochs recorded yet"), std::string::npos);
    EXPECT_NE(report::render_json(r).find(R"("final_accuracy": null)"), std::string::npos);
    EXPECT_FALSE(report::render_csv(r).empty());
    EXPECT_FALSE(r.samples[0].have_losses);
}

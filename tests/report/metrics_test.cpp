// util/metrics.hpp is the one table of evaluation metrics: every consumer (the recipe's task
// kinds, the database's best epoch, the report's best epoch, value formatting and comparison, the
// MLPerf key) follows each row, and every task kind has a row.
#include "util/metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "db/store.hpp"
#include "recipes/kinds.hpp"
#include "report/report.hpp"
#include "report/text.hpp"
#include "support/temp_dir.hpp"
#include "synthetic_workspace.hpp"
#include "util/mlperf_keys.hpp"

namespace kakuren {
namespace {

namespace metrics = util::metrics;

bool lower(const metrics::Metric& m) {
    return m.direction == metrics::Direction::lower_is_better;
}

TEST(Metrics, EveryTaskKindHasOneRowAndTheRecipeLayerNamesIt) {
    for (const recipes::KindInfo& kind : recipes::task_kinds()) {
        const auto rows =
            std::count_if(std::begin(metrics::k_metrics), std::end(metrics::k_metrics),
                          [&](const metrics::Metric& m) { return m.task_kind == kind.name; });
        EXPECT_EQ(rows, 1) << kind.name;
        EXPECT_EQ(recipes::task_metric(kind.name), metrics::of_task(kind.name).name);
    }
    for (const metrics::Metric& m : metrics::k_metrics) {
        EXPECT_TRUE(recipes::has_kind(recipes::task_kinds(), m.task_kind)) << m.task_kind;
        EXPECT_EQ(recipes::task_metric(m.task_kind), m.name);
        EXPECT_EQ(metrics::find(m.name), &m);
        // The recipe reference states the direction of a lower-is-better metric.
        const std::string summary(
            std::find_if(recipes::task_kinds().begin(), recipes::task_kinds().end(),
                         [&](const recipes::KindInfo& k) { return k.name == m.task_kind; })
                ->summary);
        EXPECT_EQ(summary.find("lower is better") != std::string::npos, lower(m)) << summary;
    }
    EXPECT_EQ(recipes::task_metric("an unknown kind"), metrics::name::accuracy);
}

TEST(Metrics, ReportsFormatAndCompareByTheRow) {
    for (const metrics::Metric& m : metrics::k_metrics) {
        EXPECT_EQ(report::lower_is_better(m.name), lower(m)) << m.name;
        const bool fraction = m.unit == metrics::Unit::fraction;
        EXPECT_EQ(report::metric_value(m.name, 0.25), fraction ? "25.00%" : "0.2500") << m.name;
        EXPECT_EQ(report::metric_diff_text(m.name, 0.0031), fraction ? "+0.31 pp" : "+0.0031");
        const util::mlperf::Key* key = util::mlperf::find_key(m.mlperf_key);
        ASSERT_NE(key, nullptr) << m.mlperf_key;
        EXPECT_EQ(key->phase, util::mlperf::Phase::epoch);
    }
    // Runs of older versions have no metric: accuracy.
    EXPECT_FALSE(report::lower_is_better(""));
    EXPECT_EQ(report::metric_value("", 0.25), "25.00%");
}

TEST(Metrics, TheDatabaseAndTheReportPickTheBestEpochByTheDirection) {
    for (const metrics::Metric& m : metrics::k_metrics) {
        testing::TempDir dir;
        db::Store store = db::Store::open(dir.path() / "kakuren.db");
        report::testing::SyntheticRun spec;
        spec.epochs = 4;
        spec.metric = std::string(m.name);
        const auto written = report::testing::add_synthetic_run(store, dir.path(), spec);
        // The generator's metric grows with the epoch: the best is the first epoch's value for a
        // lower-is-better metric, the last one's otherwise.
        const int best = lower(m) ? 1 : spec.epochs;
        const auto run = store.find_run(written.id);
        ASSERT_TRUE(run.has_value());
        ASSERT_TRUE(run->best_accuracy.has_value()) << m.name;
        EXPECT_NEAR(*run->best_accuracy, report::testing::synthetic_accuracy(spec, best), 1e-12)
            << m.name;
        EXPECT_EQ(report::build_run(store, *run, std::nullopt).best_epoch, best) << m.name;
    }
}

} // namespace
} // namespace kakuren

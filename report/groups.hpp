#pragma once
// Parts of build_report: a run compared with its baseline, and the report's configurations (seed
// groups) with their intervals, the work they saved and the timing noise behind their time
// ratios. Exposed for tests.
#include <optional>
#include <vector>

#include "report/report.hpp"

namespace kakuren::report {

/// The comparison of run with baseline: time ratios, accuracy differences, timing noise.
Comparison compare(const RunReport& run, const RunReport& baseline, bool automatic);

/// The epoch that did identical work in both runs (same samples trained, hidden and refreshed)
/// whose seconds (train + hidden pass + eval) differ the most, when they differ by
/// k_noise_ratio or more; nullopt otherwise.
std::optional<TimingNoise> pair_noise(const RunReport& run, const RunReport& baseline);

/// Seeds of strategy none do the same work: their times-to-train k_noise_ratio or more apart
/// are noise. label names them in the sentence. nullopt when they agree or fewer than 2.
std::optional<TimingNoise> seed_noise(const std::string& label, const std::vector<double>& seconds);

/// The configurations of the report's completed runs (report.runs and report.comparisons must
/// be built), in the order of their first run.
std::vector<SeedGroup> build_groups(const Report& report);

} // namespace kakuren::report

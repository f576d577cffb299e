#pragma once
// Wording shared by the text and HTML renderers (private to report/).
#include <optional>
#include <string>
#include <vector>

#include "report/report.hpp"

namespace kakuren::report::detail {

/// "finished", "succeeded", "running", "interrupted", "failed", "failed (crashed)".
std::string status_text(const RunReport& r);
/// The run's hiding label (RecipeSummary::hiding_label): "kakurenbo F=0.30 tau=0.70",
/// "infobatch r=0.50 delta=0.875", or "none" ("?" when the recipe names no strategy).
std::string strategy_text(const RecipeSummary& r);
/// Time-to-train as shown: "12.3 s"; "(4.5 s so far)" / "(4.5 s, no run_stop)" without run_stop.
std::string time_to_train_text(const RunReport& r);
/// Time to the target: "3.2 s (epoch 3)", "not reached", or "-" without a target.
std::string to_target_text(const RunReport& r);

struct SplitPart {
    const char*
        key; ///< JSON / CSV name: staging, init, train, hidden_pass, eval, checkpoint, other
    const char* label; ///< shown: "hidden pass"
    std::optional<double> seconds;
};
/// The parts of a time split in display order; absent parts have no seconds.
std::vector<SplitPart> split_parts(const TimeSplit& s);

/// The sentences that answer "how much time did hiding save, at what accuracy cost, and where
/// did the time go" for one comparison.
/// The metric all of the report's runs record (accuracy | IoU | MAE); "" when they differ.
std::string report_metric(const Report& report);
/// The metric of a comparison's run (its baseline records the same one when comparable).
std::string comparison_metric(const Report& report, const Comparison& c);
/// The metric of a seed group's runs.
std::string group_metric(const Report& report, const SeedGroup& g);

std::vector<std::string> headline(const Report& report, const Comparison& c);
/// The same for a run without a baseline.
std::vector<std::string> headline(const RunReport& r);

} // namespace kakuren::report::detail

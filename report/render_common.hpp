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

/// "time went to init 26%, train 27%, ... of 0.12 s (init included)"; "" without a total.
std::string where_time_went(const RunReport& r);
std::string where_time_went(const TimeSplit& s); ///< the same for one split
/// "hid 11.0% of the samples per epoch (28.5% requested), ...; 6 of 64 SGD steps saved (9.4%)".
std::string hiding_sentence(const RunReport& r);

/// The sentences that answer "how much time did hiding save, at what accuracy cost, and where
/// did the time go" for one comparison.
/// The metric all of the report's runs record (accuracy | IoU | MAE); "" when they differ.
std::string report_metric(const Report& report);
/// The metric of a comparison's run (its baseline records the same one when comparable).
std::string comparison_metric(const Report& report, const Comparison& c);
/// The metric of a seed group's runs.
std::string group_metric(const Report& report, const SeedGroup& g);

std::vector<std::string> headline(const Report& report, const Comparison& c);

/// The headline card of one configuration (a seed group), the same in every format. It leads
/// with the work saved; the time ratio stands beside it, called unreliable under timing noise.
struct Card {
    std::string title;    ///< "kakurenbo F=0.30 tau=0.70: 3 seeds (1, 2, 3) against none (3 seeds)"
    std::string work_big; ///< "9.4% fewer SGD steps" ("no hiding" for strategy none)
    std::string work;     ///< the lead sentence: SGD steps and per-sample backward passes saved
    std::optional<double> time_ratio; ///< baseline time-to-train / this (central figures)
    bool time_reliable = true;        ///< no timing noise behind the ratio
    std::string time;                 ///< time-to-train, mean ± interval, and the ratio
    std::vector<std::string> noise;   ///< "timing noise: ..." sentences
    std::vector<std::string> more;    ///< accuracy, target, hiding, left-out runs
    /// title, work, time, noise, more: the text format's lines.
    std::vector<std::string> lines() const;
};
Card group_card(const Report& report, const SeedGroup& g);
/// "0.09 s ± 0.01 s" or "0.09 s (1 seed, no interval)"; seconds when metric is empty.
std::string interval_text(const Interval& i, const std::string& metric);
/// Whether a run has a card of its own (its configuration has no completed run).
bool has_own_card(const Report& report, const RunReport& r);
/// The index of the group (configuration) of a run; nullopt when it has none.
std::optional<std::size_t> group_of(const Report& report, const std::string& run_id);

/// HTML: an SVG chart in a <figure> with its caption.
void figure(std::string& out, const std::string& svg_markup, const std::string& caption);
/// HTML: the "Plots" section (render_charts.cpp).
void charts(std::string& out, const Report& report);
/// The same for a run without a baseline.
std::vector<std::string> headline(const RunReport& r);

} // namespace kakuren::report::detail

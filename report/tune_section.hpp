#pragma once
// The report's section on `kakuren tune`: each tune's ranked table, its verdict, the candidates'
// learning curves and the rounds of successive halving. report/ only draws it: the numbers
// (projections, ranking, verdict) are tune/'s, which fills this struct from the tune's records
// (tune/report_section.hpp), since tune/ sits above report/.
#include <string>
#include <vector>

#include "util/json.hpp"

namespace kakuren::report {

struct TuneSection {
    std::string id;
    std::string heading; ///< "tune ID (done): target accuracy 88.00%, ranked by ..., budget 24"
    std::string metric;  ///< accuracy | IoU | MAE
    double target = 0;
    std::string verdict;                        ///< one sentence
    std::vector<std::string> columns;           ///< the ranked table's header
    std::vector<std::vector<std::string>> rows; ///< best first, one cell per column

    /// One candidate's learning curve: the test metric after each epoch its run trained.
    struct Curve {
        int candidate = 0; ///< 0 = none, the baseline
        std::string label, run_id;
        std::vector<double> metrics;
    };
    std::vector<Curve> curves; ///< in ranked order

    /// One round of successive halving: the candidates it trained to `epochs`, and those of
    /// them that did not go on to the next round (empty for the last round).
    struct Round {
        int round = 1;
        int epochs = 0;
        std::vector<std::string> trained, dropped; ///< candidate labels
    };
    std::vector<Round> rounds;
    util::Json json; ///< the tune as `kakuren tune --format json` prints it
};

/// The TUNES part of the text report ("" without tunes).
std::string tune_sections_text(const std::vector<TuneSection>& tunes);
/// The HTML section: heading, verdict, ranked table, learning-curve chart and rounds per tune
/// ("" without tunes). Every chart and table carries data-tune.
std::string tune_sections_html(const std::vector<TuneSection>& tunes);
/// The JSON report's "tunes" array.
util::Json tune_sections_json(const std::vector<TuneSection>& tunes);

} // namespace kakuren::report

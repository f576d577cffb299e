#pragma once
// How a tune's outcome is told: the verdict sentence, the ranked table, the JSON document.
#include <string>
#include <vector>

#include "tune/tune.hpp"
#include "util/json.hpp"

namespace kakuren::tune {

/// One sentence that claims only what the numbers support: the winner's saving against none
/// ("rotate r=0.65 saves about 31 % ± 6 % of the time to the target at -0.20 pp accuracy"),
/// "may save ..., within its uncertainty" when the interval reaches 0, "no interval" when a fit
/// had 2 points, "no hiding pays here" when none wins, and the strategies none of whose
/// candidates beat none ("kakurenbo does not pay here").
std::string verdict(const Outcome& outcome);

/// The ranked table (rank, candidate, run, epochs, last round, final metric, realised hidden,
/// projected time and work to the target and their ratios to none, confidence), the rounds, and
/// the verdict.
std::string table_text(const Outcome& outcome);
/// The ranked table's header and its rows (best first), as table_text shows them.
std::vector<std::string> table_columns(const Outcome& outcome);
std::vector<std::vector<std::string>> table_rows(const Outcome& outcome);
/// "ID (done): target accuracy 88.00%, ranked by projected work to the target, budget 24".
std::string heading(const Outcome& outcome);

/// The same as a JSON document; written = the winner's recipe file ("" = not written).
util::Json to_json(const Outcome& outcome, const std::string& written);

/// "±18 % (5 points)", "measured", "no interval (2 points)", "not improving", "too few points".
std::string confidence_text(const Projection& p);

} // namespace kakuren::tune

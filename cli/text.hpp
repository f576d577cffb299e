#pragma once
// Text helpers for the CLI: the report layer's number formatting and tables, plus an ETA clock.
#include <string>

#include "report/text.hpp"

namespace kakuren::cli {

using report::fixed;
using report::percent;
using report::Table;
using report::thousands;

std::string duration(double seconds); ///< 83.2 -> "1:23", 4000 -> "1:06:40"; "?" if unknown

} // namespace kakuren::cli

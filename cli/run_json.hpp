#pragma once
// A run as `runs --format json` and `show --format json` write it.
#include <optional>
#include <string>

#include "db/store.hpp"
#include "util/json.hpp"

namespace kakuren::cli {

/// A measured number, or null when there is none yet (a run that never evaluated).
util::Json optional_number(const std::optional<double>& v);

/// The run's row; `state` is what `kakuren runs` shows (a submitted run's job state).
util::JsonObject run_to_json(const db::RunRow& r, const std::string& state);

} // namespace kakuren::cli

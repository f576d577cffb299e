#pragma once
// Number formatting and plain-text tables for reports (cli/text.hpp is a layer above report/).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kakuren::report {

std::string thousands(std::int64_t n); ///< 60000 -> "60,000"
/// printf %.*f; a value that is not finite is "nan", "inf" or "-inf" (never "-nan").
std::string fixed(double value, int digits);
/// 0.1234 -> "12.3%"; not finite: as fixed().
std::string percent(double fraction, int digits = 1);
/// A value of the metric named `metric`: accuracy and IoU as percent(value, 2), MAE (an error
/// in the targets' units) as fixed(value, 4).
std::string metric_value(std::string_view metric, double value);
/// Seconds as "12.3 s", "4:05 min" or "1:02:03 h"; "-" when absent or not finite.
std::string seconds_text(const std::optional<double>& seconds);
/// A signed difference of fractions in percentage points: 0.0031 -> "+0.31 pp".
std::string points_text(double fraction_diff);
/// Whether a smaller value of the metric named `metric` is better (MAE, an error).
bool lower_is_better(std::string_view metric);
/// A signed difference of two values of the metric named `metric`: accuracy and IoU in
/// percentage points (points_text), MAE as a signed number in the targets' units: -0.0012 ->
/// "-0.0012" (negative: the run's error is smaller).
std::string metric_diff_text(std::string_view metric, double diff);
/// What a report calls the metric in prose: "accuracy", "IoU", "MAE".
std::string metric_noun(std::string_view metric);
/// A speed-up factor: 1.234 -> "1.23x"; "-" when absent.
std::string factor_text(const std::optional<double>& factor);
/// Columns of UTF-8 text as displayed (code points, not bytes).
std::size_t display_width(const std::string& s);

/// A plain-text table: left-aligned columns separated by two spaces, header first.
class Table {
  public:
    explicit Table(std::vector<std::string> header) : m_rows{std::move(header)} {}
    void add(std::vector<std::string> row) { m_rows.push_back(std::move(row)); }
    std::string render() const;

  private:
    std::vector<std::vector<std::string>> m_rows;
};

} // namespace kakuren::report

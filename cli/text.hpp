#pragma once
// Small text helpers for human-readable output.
#include <cstdint>
#include <string>
#include <vector>

namespace kakuren::cli {

std::string thousands(std::int64_t n);          ///< 60000 -> "60,000"
std::string percent(double fraction, int digits = 1); ///< 0.1234 -> "12.3%"
std::string duration(double seconds);           ///< 83.2 -> "1:23", 4000 -> "1:06:40"
std::string fixed(double value, int digits);

/// A plain-text table with left-aligned columns separated by two spaces.
class Table {
  public:
    explicit Table(std::vector<std::string> header) : m_rows{std::move(header)} {}
    void add(std::vector<std::string> row) { m_rows.push_back(std::move(row)); }
    std::string render() const;

  private:
    std::vector<std::vector<std::string>> m_rows;
};

} // namespace kakuren::cli

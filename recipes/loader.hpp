#pragma once
// Private to recipes/ (never included from outside it): the state of one recipe load, shared by
// the files that implement it: recipe.cpp (parse, walk, --set), values.cpp (types and ranges),
// rules.cpp and slurm_rules.cpp (cross-field rules), file_checks.cpp (paths that must exist),
// key_messages.cpp (unknown key and section messages), slurm_time.cpp (Slurm time limits).

#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recipes/recipe.hpp"
#include "recipes/schema.hpp"

namespace kakuren::recipes::loading {

namespace fs = std::filesystem;
using detail::Field;
using detail::Kind;
using detail::Value;

/// Characters a [slurm] value may hold: enough for Slurm's names and expressions, never a quote,
/// space, $, backquote, ; or newline (values are quoted in the batch script as well).
bool only_chars(std::string_view text, std::string_view extra_allowed);

/// Non-negative decimal integer of at most 9 digits, else nullopt.
std::optional<int> small_number(std::string_view text);

/// Where a message points: a place in the recipe, a --set, or the recipe as a whole.
struct Location {
    int group = 0;                      ///< 0: the file; 1: --set (reported after the file)
    std::uint32_t line = 0, column = 0; ///< 0: the file as a whole
    std::size_t order = 0;              ///< --set: its index
    std::string prefix;                 ///< "recipes/x.toml:3:8", "--set k=v", "recipes/x.toml"
};

struct Problem {
    Location where;
    std::string message;
};

/// Spaces and tabs only: a CR stays.
std::string trim(std::string_view s);

/// "string \"ten\"", "float 2.0", "table": what a user wrote, for type errors.
std::string describe(const toml::node& node);

bool is_section(std::string_view name);

/// "unknown key hiding.fractoin; did you mean hiding.fraction?" for a key in a known section.
std::string unknown_key_in_section(const std::string& section, const std::string& name);

/// The message for a dotted key outside any known section (a top-level key, a --set typo).
std::string unknown_key(const std::string& key);

std::string unknown_section(const std::string& section);

/// One load: collects every problem, then either throws them all or returns the recipe.
class Loader {
  public:
    Loader(const fs::path& file, const std::string& text);

    Recipe run(const std::vector<std::string>& overrides);

  private:
    [[nodiscard]] Location at(const toml::source_region& region) const {
        const auto& begin = region.begin;
        if (begin.line == 0) {
            return whole_file();
        }
        return Location{0, begin.line, begin.column, 0,
                        m_file + ":" + std::to_string(begin.line) + ":" +
                            std::to_string(begin.column)};
    }

    [[nodiscard]] Location whole_file() const { return Location{0, 0, 0, 0, m_file}; }

    void error(const Location& where, std::string message) {
        m_problems.push_back(Problem{where, std::move(message)});
    }

    [[nodiscard]] bool ok(std::initializer_list<std::string_view> keys) const {
        return std::none_of(keys.begin(), keys.end(),
                            [this](std::string_view k) { return m_bad.count(std::string(k)); });
    }

    /// The location of the first of keys that was set, else the fallback (the whole file).
    [[nodiscard]] Location place(std::initializer_list<std::string_view> keys,
                                 const std::optional<Location>& fallback = std::nullopt) const {
        for (auto k : keys) {
            if (auto it = m_where.find(std::string(k)); it != m_where.end()) {
                return it->second;
            }
        }
        return fallback ? *fallback : whole_file();
    }

    [[nodiscard]] Location place(const std::vector<std::string>& keys) const {
        for (const auto& k : keys) {
            if (auto it = m_where.find(k); it != m_where.end()) {
                return it->second;
            }
        }
        return whole_file();
    }

    void walk(const toml::table& root);
    void apply_override(const std::string& text, std::size_t index);
    /// Converts, checks and stores one value; records the problem instead when it is bad.
    void take(const Field& f, const toml::node& node, const Location& where, bool in_file,
              const std::string& origin, const fs::path& base);
    std::optional<Value> convert(const Field& f, const toml::node& node, const Location& where,
                                 bool in_file);
    /// The list kinds of convert(): an array whose elements are all integers (or numbers).
    std::optional<Value> convert_list(const Field& f, const toml::node& node, const Location& where,
                                      bool in_file);
    /// A list of strings (slurm.setup), each element a string.
    std::optional<Value> string_list(const Field& f, const toml::node& node, const Location& where,
                                     bool in_file);
    bool validate(const Field& f, const Value& value, const Location& where);
    /// The integer kind of validate(): an allowed value, within the range and the field's type.
    bool validate_int(const Field& f, std::int64_t x, const Location& where,
                      const std::string& head);
    /// The string kind of validate(): not empty where the field needs a value, not too long.
    bool validate_string(const Field& f, const std::string& s, const Location& where,
                         const std::string& head);
    /// The list kinds of validate(): element count, then each element's range.
    bool validate_list(const Field& f, const Value& value, const Location& where);
    /// "<head> is out of range; expected <expected>" at where; returns false.
    bool report_out_of_range(const Location& where, const std::string& head,
                             const std::string& expected);
    /// x within f.int_min..f.int_max, else the out-of-range error for it (named name).
    bool check_int_fits(const Field& f, std::int64_t x, std::string_view name,
                        const Location& where, const std::string& head);

    /// Rules that tie fields together; each is checked only when its fields are valid.
    void check_rules();
    /// The schedule's warm-up, milestones and decay factors against its epochs.
    void check_schedule();
    /// data.image_size's two elements, and augmentation only for data.dataset = "images".
    void check_images();
    /// What the task needs of the data, the hiding settings and the targets.
    void check_task();
    /// [slurm] strings reach a shell script and Slurm: each must have its documented form.
    void check_slurm();
    /// slurm.extra: allowed sbatch options only, each with or without a value as it needs.
    void check_slurm_extra();
    [[nodiscard]] Value find_value(std::string_view key) const;
    [[nodiscard]] std::string resolve(std::string_view key, const std::string& value) const;

    /// A torchscript model's file must exist and be a zip archive (what torch.jit's save writes);
    /// afterwards model.path holds the absolute path. The module itself is checked when loaded.
    void check_model_file();
    /// Every IDX file must exist; afterwards the four file fields hold absolute paths.
    void check_data_files();
    /// npy / hdf5: data.train and data.test must name an existing folder (npy) or file or
    /// folder (hdf5); afterwards they hold absolute paths. Their content is checked when the
    /// data is opened when training starts (kakuren data inspect checks every sample ahead).
    void check_stream_splits();
    /// Splits given as files and their targets keys, data.layout (recipes/data_rules.hpp).
    void check_split_files();

    std::string m_file; ///< as given, for messages
    fs::path m_dir;     ///< relative paths in the file are relative to this
    Recipe m_recipe;
    std::vector<Problem> m_problems;
    std::set<std::string> m_bad;             ///< keys whose value was rejected
    std::map<std::string, Location> m_where; ///< keys set by the file or --set
    std::map<std::string, fs::path> m_base;  ///< folder a relative path value is relative to
    std::optional<Location> m_data_table;    ///< the [data] table, when there is one
};

} // namespace kakuren::recipes::loading

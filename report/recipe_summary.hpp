#pragma once
// What a report needs from a run's resolved recipe (runs.recipe_text): a one-line summary and the
// keys that decide which runs can be compared.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kakuren::report {

struct RecipeSummary {
    bool validated = false; ///< recipes::parse accepted the text (else read leniently)
    std::string note;       ///< why it was read leniently, empty otherwise
    std::string model_kind; ///< model.kind
    std::string model;      ///< e.g. "cnn [16, 32] fc 64"
    std::string dataset;    ///< data.dataset
    std::string strategy;   ///< hiding.strategy (a name in hiding::strategies())
    double fraction = 0, tau = 0;
    /// The strategy and its own parameters, as hiding::label writes them:
    /// "kakurenbo F=0.30 tau=0.70", "rotate share=0.90 r=0.65 full=1 tau=0.90", "none".
    std::string hiding_label;
    std::int64_t seed = 0;
    int batch_size = 0;
    int epochs = 0;
    int threads = 0;
    std::optional<double> target_accuracy; ///< task.target, else run.target_accuracy
    std::string lr_compensation;
    int refresh_every = 1;
    /// The resolved recipe as (section.key, value text) pairs, in the recipe's order.
    std::vector<std::pair<std::string, std::string>> values;
    /// Equal for runs of the same recipe apart from run.name, run.notes, run.seed and [hiding]:
    /// a run and its baseline share it.
    std::string baseline_key;
    /// Equal for runs of the same recipe apart from run.name, run.notes and run.seed: the seeds
    /// of one configuration share it.
    std::string group_key;
};

/// Summarises recipe text. Tries recipes::parse first (typed, validated); if that fails (for
/// example the data files have moved since), reads the canonical `key = value` lines leniently
/// and says so in note. Never throws for bad text: unknown values stay empty or zero.
RecipeSummary summarize_recipe(const std::string& recipe_text, const std::string& origin);

/// The hiding label of a resolved recipe read by flat_toml: hiding::label of hiding.strategy with
/// the values of hiding.<key> ("kakurenbo F=0.30 tau=0.70"); "?" without a strategy.
std::string hiding_label(const std::vector<std::pair<std::string, std::string>>& values);

/// Reads canonical TOML (`[section]` headers and `key = value` lines) into dotted keys.
std::vector<std::pair<std::string, std::string>> flat_toml(const std::string& text);

} // namespace kakuren::report

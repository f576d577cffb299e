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
    std::string model_kind; ///< mlp | cnn | resnet18
    std::string model;      ///< e.g. "cnn [16, 32] fc 64"
    std::string dataset;    ///< fashion-mnist | idx | synthetic
    std::string strategy;   ///< none | kakurenbo | ...
    double fraction = 0, tau = 0;
    std::int64_t seed = 0;
    int batch_size = 0;
    int epochs = 0;
    int threads = 0;
    std::optional<double> target_accuracy;
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

/// Reads canonical TOML (`[section]` headers and `key = value` lines) into dotted keys.
std::vector<std::pair<std::string, std::string>> flat_toml(const std::string& text);

} // namespace kakuren::report

// `kakuren data inspect`, `kakuren data convert` and `kakuren data synth`: the work runs inside
// the training module (the sources and generators need LibTorch and libhdf5); this side prints.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/commands.hpp"
#include "cli/config_map.hpp"
#include "cli/text.hpp"
#include "launcher/staging.hpp"
#include "recipes/recipe.hpp"
#include "trainer/module.hpp"
#include "util/error.hpp"

namespace kakuren::cli {

int data_inspect_command(const CommonOptions& common, const DataOptions& options) {
    const bool json = common.format == Format::json;
    std::error_code ec;
    const bool recipe = std::filesystem::path(options.path).extension() == ".toml" &&
                        std::filesystem::is_regular_file(options.path, ec);
    if (!recipe && !options.overrides.empty()) {
        throw UsageError("data inspect: --set applies to a recipe (.toml); " + options.path +
                         " is not one");
    }
    std::optional<trainer::Config> config;
    if (recipe) { // throws RecipeError (exit 2) for a bad recipe
        config = trainer_config(recipes::load(options.path, options.overrides));
    }
    const std::string out = trainer::data_command_via_module(
        "inspect", {options.path, json ? "json" : "text"}, config ? &*config : nullptr);
    std::cout << out << std::flush;
    // A problem found is a failure of the data, for scripts that check before they train.
    const bool problems =
        out.find(json ? "\"problems_found\": 0" : "problems found: 0\n") == std::string::npos;
    return problems ? k_exit_failure : k_exit_ok;
}

void check_recipe_data(const recipes::Recipe& recipe, const trainer::Config& config) {
    if (config.data.dataset != "npy" && config.data.dataset != "hdf5") {
        return; // IDX files are checked by the recipe loader, synthetic data has none
    }
    std::vector<trainer::DataProblem> problems = trainer::check_data_via_module(config);
    if (problems.empty() && recipe.data.stage == "node-local") {
        // The lists staging would refuse are refused here too, by recipe check, run and submit
        // alike: `kakuren run` reads in place what a submitted job could not stage (issue 23,
        // #15), so a recipe must not pass one and fail the other.
        try {
            launcher::check_stageable(config.data.train_path, config.data.test_path);
        } catch (const RuntimeFailure& e) {
            problems.push_back(
                {"data.stage", std::string("data.stage = \"node-local\": ") + e.what()});
        }
    }
    if (problems.empty()) {
        return;
    }
    std::vector<std::string> messages;
    for (const trainer::DataProblem& p : problems) {
        const auto it = recipe.origins.find(p.key);
        // A key the file does not set (a default) is reported against the file as a whole.
        const std::string origin = it == recipe.origins.end() || it->second == "default"
                                       ? recipe.file.string()
                                       : it->second;
        messages.push_back(origin + ": error: " + p.message);
    }
    throw recipes::RecipeError(std::move(messages));
}

int data_convert_command(const DataOptions& options) {
    std::cout << trainer::data_command_via_module("convert",
                                                  {options.from, options.to, options.out})
              << std::flush;
    return k_exit_ok;
}

int data_synth_command(trainer::SynthConfig config) {
    if (config.validation == 0) { // not given (a given 0 is refused by the parser)
        config.validation = std::max<std::int64_t>(1, config.train / 4);
    }
    const trainer::SynthResult r = trainer::write_standin_via_module(config);
    const auto samples = static_cast<double>(config.train + config.validation);
    std::cout << "wrote " << config.kind << " stand-in: " << thousands(config.train) << " train + "
              << thousands(config.validation) << " validation samples, " << thousands(r.files)
              << " files, " << fixed(static_cast<double>(r.bytes) / (1 << 20), 1) << " MiB to "
              << config.out << " in " << fixed(r.seconds, 1) << " s (";
    const double rate = r.seconds > 0 ? samples / r.seconds : 0;
    if (rate < 10) { // full-size samples: a few seconds each
        std::cout << fixed(rate, 2);
    } else {
        std::cout << thousands(static_cast<std::int64_t>(rate));
    }
    std::cout << " samples/s)\n";
    return k_exit_ok;
}

} // namespace kakuren::cli

#include "cli/hidden_files.hpp"

#include <algorithm>

#include "cli/config_map.hpp"
#include "recipes/recipe.hpp"
#include "trainer/module.hpp"
#include "util/error.hpp"

namespace kakuren::cli {

std::string SampleFiles::relative(std::size_t i) const {
    const std::string prefix = root + (root.ends_with('/') ? "" : "/");
    const std::string& f = files.at(i);
    return f.rfind(prefix, 0) == 0 ? f.substr(prefix.size()) : f;
}

std::optional<SampleFiles>
sample_files_of(const db::RunRow& run, const std::vector<std::int64_t>& ids, std::string& note) {
    try {
        const recipes::Recipe recipe = recipes::parse(run.recipe_text, run.recipe_path, {});
        if (recipe.data.dataset != "images" && recipe.data.dataset != "npy") {
            return std::nullopt;
        }
        const trainer::Config config = trainer_config(recipe);
        std::vector<std::string> files = trainer::sample_files_via_module(config, ids);
        if (files.size() != ids.size() ||
            std::all_of(files.begin(), files.end(),
                        [](const std::string& f) { return f.empty(); })) {
            return std::nullopt; // npy arrays: the samples share one file
        }
        return SampleFiles{config.data.train_path, std::move(files)};
    } catch (const recipes::RecipeError& e) {
        note = "no file names: the run's recipe no longer loads (" + std::string(e.what()) + ")";
    } catch (const Error& e) {
        note = "no file names: " + std::string(e.what());
    }
    return std::nullopt;
}

} // namespace kakuren::cli

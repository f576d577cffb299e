// `kakuren recipe check|show|reference`.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/config_map.hpp"
#include "recipes/recipe.hpp"
#include "util/json.hpp"

namespace kakuren::cli {

int recipe_check_command(const std::string& file, const std::vector<std::string>& overrides) {
    const recipes::Recipe recipe = recipes::load(file, overrides); // throws RecipeError -> exit 2
    const trainer::Config config = trainer_config(recipe);
    check_recipe_data(recipe, config);  // npy / hdf5 headers
    check_recipe_model(recipe, config); // one forward pass of a zero batch
    std::cout << file << ": ok (" << recipe.model.kind << " on " << recipe.data.dataset << ", "
              << recipe.schedule.epochs << " epochs, hiding " << recipe.hiding.strategy << ")\n";
    return k_exit_ok;
}

int recipe_show_command(const CommonOptions& common, const std::string& file,
                        const std::vector<std::string>& overrides) {
    const recipes::Recipe recipe = recipes::load(file, overrides);
    if (common.format == Format::json) {
        util::JsonObject origins;
        for (const auto& [key, origin] : recipe.origins) {
            origins.emplace_back(key, origin);
        }
        std::cout << util::Json(util::JsonObject{{"file", file},
                                                 {"resolved_toml", recipes::to_toml(recipe)},
                                                 {"origins", std::move(origins)}})
                         .dump_pretty()
                  << std::endl;
        return k_exit_ok;
    }
    std::cout << recipes::show(recipe);
    return k_exit_ok;
}

int recipe_reference_command() {
    std::cout << recipes::reference_markdown();
    return k_exit_ok;
}

} // namespace kakuren::cli

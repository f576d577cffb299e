// `kakuren recipe check|show|reference`.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/command_line.hpp"
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

void register_recipe(CLI::App& app, CommonOptions& common, Commands& commands) {
    struct Args {
        std::string recipe_file;
        std::vector<std::string> recipe_overrides;
    };
    const auto state = std::make_shared<Args>();
    auto& [recipe_file, recipe_overrides] = *state;
    CLI::App* recipe = app.add_subcommand("recipe", "Validate recipes and explain their values");
    recipe->require_subcommand(1);
    CLI::App* check = recipe->add_subcommand(
        "check", "Validate a recipe: every error with file:line:col; exit 2 if any (npy / hdf5 "
                 "data: also opens both splits' headers and builds the model for their shape)");
    check->add_option("file", recipe_file, "Recipe file (TOML)")->required();
    add_overrides(check, recipe_overrides);
    CLI::App* show_recipe = recipe->add_subcommand(
        "show", "Print every resolved value and where it came from (file:line, --set, default)");
    show_recipe->add_option("file", recipe_file, "Recipe file (TOML)")->required();
    add_overrides(show_recipe, recipe_overrides);
    add_common(show_recipe, common, true);
    CLI::App* reference =
        recipe->add_subcommand("reference", "Print the recipe reference (every key, as Markdown)");
    commands.push_back(
        {check,
         [state] { return recipe_check_command(state->recipe_file, state->recipe_overrides); }});
    commands.push_back({show_recipe, [&common, state] {
                            return recipe_show_command(common, state->recipe_file,
                                                       state->recipe_overrides);
                        }});
    commands.push_back({reference, [] { return recipe_reference_command(); }});
}

} // namespace kakuren::cli

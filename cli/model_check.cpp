// The model against the data before anything is recorded: kakuren recipe check, kakuren run and
// its dry run (trainer::check_model_fit through the module).
#include "cli/commands.hpp"
#include "recipes/recipe.hpp"
#include "trainer/module.hpp"

namespace kakuren::cli {

void check_recipe_model(const recipes::Recipe& recipe, const trainer::Config& config) {
    throw_recipe_problems(recipe, trainer::check_model_fit_via_module(config));
}

} // namespace kakuren::cli

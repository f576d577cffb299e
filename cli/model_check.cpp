// The model against the data before anything is recorded: kakuren recipe check, kakuren run and
// its dry run (trainer::check_model_fit through the module).
#include "cli/commands.hpp"
#include "recipes/recipe.hpp"
#include "trainer/module.hpp"

namespace kakuren::cli {

void check_recipe_model(const recipes::Recipe& recipe, const trainer::Config& config) {
    const std::vector<trainer::DataProblem> problems = trainer::check_model_fit_via_module(config);
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

} // namespace kakuren::cli

#pragma once
// The science workloads' facts a recipe check needs before any data is built: the DeepCAM
// stand-in's class count, the science models' default depths, and the rules that tie the task,
// the model and the synthetic data together (each rule checked at `recipe check`, so that `run`
// records nothing for a recipe that cannot train). The trainer builds its models from the same
// constants.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kakuren::recipes {

struct Recipe;

/// data.synthetic_kind = "deepcam": classes 0 (background), 1 (vortices), 2 (filaments).
inline constexpr int k_deepcam_standin_classes = 3;
/// model.depth = 0 for model.kind = "deepcam": 4 encoder stages (output stride 16).
inline constexpr int k_deepcam_default_depth = 4;
/// model.depth = 0 for model.kind = "cosmoflow": 5 conv blocks (the reference).
inline constexpr int k_cosmoflow_default_depth = 5;

/// One broken rule: the keys it is about (the first one set in the recipe is where it is
/// reported) and the message (what is wrong, what is allowed).
struct RuleProblem {
    std::vector<std::string> keys;
    std::string message;
};

/// The rules between task.class_weights, model.kind / model.depth and synthetic data; valid(key)
/// says whether a key's own value passed its check (a rule is skipped when one of its keys did
/// not). Returns every broken rule; throws nothing.
std::vector<RuleProblem> science_rules(const Recipe& recipe,
                                       const std::function<bool(std::string_view)>& valid);

} // namespace kakuren::recipes

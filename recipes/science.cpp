#include "recipes/science.hpp"

#include <cstdint>

#include "recipes/recipe.hpp"

namespace kakuren::recipes {
namespace {

std::string quoted(const std::string& v) {
    return "\"" + v + "\"";
}

/// The largest depth whose stages (each halving) leave at least one pixel of side.
int max_depth(std::int64_t side) {
    int depth = 0;
    while ((std::int64_t{2} << depth) <= side) {
        ++depth;
    }
    return depth;
}

/// The synthetic data's kind ("blobs", "cosmoflow", "deepcam"), or "" when the data is read from
/// files (its shape is known only when it is opened).
std::string synthetic_kind(const Recipe& r, const std::function<bool(std::string_view)>& valid) {
    if (!valid("data.dataset") || !valid("data.synthetic_kind") || r.data.dataset != "synthetic") {
        return {};
    }
    return r.data.synthetic_kind;
}

void check_class_weights(const Recipe& r, const std::function<bool(std::string_view)>& valid,
                         std::vector<RuleProblem>& out) {
    const auto& weights = r.task.class_weights;
    if (weights.empty() || !valid("task.class_weights") || !valid("task.kind") ||
        r.task.kind != "segmentation" || synthetic_kind(r, valid) != "deepcam") {
        return;
    }
    if (weights.size() != static_cast<std::size_t>(k_deepcam_standin_classes)) {
        out.push_back({{"task.class_weights"},
                       "task.class_weights has " + std::to_string(weights.size()) +
                           (weights.size() == 1 ? " entry" : " entries") +
                           "; data.synthetic_kind = \"deepcam\" has " +
                           std::to_string(k_deepcam_standin_classes) +
                           " classes (0 background, 1 vortices, 2 filaments): expected one "
                           "weight per class, or [] for all 1"});
    }
}

/// model.kind deepcam / cosmoflow on synthetic data: the model's own data kind, and enough
/// pixels for every stage to halve them.
void check_science_model(const Recipe& r, const std::function<bool(std::string_view)>& valid,
                         std::vector<RuleProblem>& out) {
    const auto& m = r.model;
    if (!valid("model.kind") || (m.kind != "deepcam" && m.kind != "cosmoflow")) {
        return;
    }
    if (m.kind == "deepcam" && valid("task.kind") && r.task.kind != "segmentation") {
        out.push_back({{"model.kind", "task.kind"},
                       "model.kind = \"deepcam\" predicts a class per pixel; task.kind = " +
                           quoted(r.task.kind) + ": expected task.kind = \"segmentation\""});
        return;
    }
    const std::string kind = synthetic_kind(r, valid);
    if (kind.empty()) {
        return;
    }
    if (kind != m.kind) {
        out.push_back({{"model.kind", "data.synthetic_kind"},
                       "model.kind = " + quoted(m.kind) + " cannot learn data.synthetic_kind = " +
                           quoted(kind) + "; expected data.synthetic_kind = " + quoted(m.kind) +
                           ", or a model.kind for " + quoted(kind) + " data"});
        return;
    }
    if (!valid("model.depth") || !valid("data.synthetic_size")) {
        return;
    }
    const bool deepcam = m.kind == "deepcam";
    const int depth =
        m.depth > 0 ? m.depth : (deepcam ? k_deepcam_default_depth : k_cosmoflow_default_depth);
    const std::int64_t min_side = std::int64_t{1} << depth;
    if (r.data.synthetic_size < min_side) {
        const std::string unit = deepcam ? "images" : "cubes";
        out.push_back({{"model.depth", "data.synthetic_size"},
                       "model.kind = " + quoted(m.kind) + " with model.depth = " +
                           std::to_string(depth) + (m.depth > 0 ? "" : " (the default for 0)") +
                           " halves the " + unit + " " + std::to_string(depth) +
                           " times and needs data.synthetic_size >= " + std::to_string(min_side) +
                           "; data.synthetic_size is " + std::to_string(r.data.synthetic_size) +
                           ": expected a larger data.synthetic_size or model.depth <= " +
                           std::to_string(max_depth(r.data.synthetic_size))});
    }
}

} // namespace

std::vector<RuleProblem> science_rules(const Recipe& recipe,
                                       const std::function<bool(std::string_view)>& valid) {
    std::vector<RuleProblem> out;
    check_class_weights(recipe, valid, out);
    check_science_model(recipe, valid, out);
    return out;
}

} // namespace kakuren::recipes

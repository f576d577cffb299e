#include <algorithm>
#include <string>
#include <string_view>

#include "recipes/loader.hpp"
#include "recipes/schema.hpp"
#include "recipes/science.hpp"

namespace kakuren::recipes::loading {

/// The schedule's warm-up, milestones and decay factors against its epochs.
void Loader::check_schedule() {
    const auto& s = m_recipe.schedule;
    if (ok({"schedule.epochs", "schedule.warmup_epochs"}) && s.warmup_epochs >= s.epochs) {
        error(place({"schedule.warmup_epochs", "schedule.epochs"}),
              "schedule.warmup_epochs = " + std::to_string(s.warmup_epochs) +
                  " must be less than schedule.epochs = " + std::to_string(s.epochs) +
                  " (leave it unset and the default warm-up fits any schedule.epochs)");
    }
    if (ok({"schedule.kind", "schedule.milestones"}) &&
        (s.kind == "step" || s.kind == "multistep")) {
        const std::string head =
            "schedule.milestones = " + detail::render(find_value("schedule.milestones"));
        const bool increasing =
            std::adjacent_find(s.milestones.begin(), s.milestones.end(),
                               [](int a, int b) { return b <= a; }) == s.milestones.end();
        if (!increasing) {
            error(place({"schedule.milestones"}), head + " is not strictly increasing");
        } else if (ok({"schedule.epochs"}) && std::any_of(s.milestones.begin(), s.milestones.end(),
                                                          [&](int m) { return m >= s.epochs; })) {
            error(place({"schedule.milestones", "schedule.epochs"}),
                  head + " is out of range; expected each element < schedule.epochs = " +
                      std::to_string(s.epochs) +
                      " (leave schedule.milestones unset and the default ones scale with "
                      "schedule.epochs)");
        }
    }
    if (ok({"schedule.kind", "schedule.milestones", "schedule.decay_factors"}) &&
        (s.kind == "step" || s.kind == "multistep") && !s.decay_factors.empty() &&
        s.decay_factors.size() != s.milestones.size()) {
        error(place({"schedule.decay_factors", "schedule.milestones"}),
              "schedule.decay_factors = " + detail::render(find_value("schedule.decay_factors")) +
                  " has " + std::to_string(s.decay_factors.size()) +
                  " entries; expected one per schedule.milestones entry (" +
                  std::to_string(s.milestones.size()) + ")");
    }
}

/// data.image_size's two elements, and augmentation only for data.dataset = "images".
void Loader::check_images() {
    const auto& d = m_recipe.data;
    if (ok({"data.image_size"}) && !d.image_size.empty() && d.image_size.size() != 2) {
        const std::size_t n = d.image_size.size();
        error(place({"data.image_size"}),
              "data.image_size = " + detail::render(find_value("data.image_size")) + " has " +
                  std::to_string(n) + (n == 1 ? " element" : " elements") +
                  "; expected [height, width], or [] for the first image's size");
    }
    if (ok({"data.dataset", "data.random_crop", "data.hflip"}) && d.dataset != "images" &&
        (d.random_crop > 0 || d.hflip)) {
        const std::string key = d.random_crop > 0 ? "data.random_crop" : "data.hflip";
        std::string message = key + " = " + detail::render(find_value(key));
        message += R"( augments data.dataset = "images" only; this recipe reads ")";
        message += d.dataset + "\"";
        error(place({key}), message);
    }
}

/// Rules that tie fields together; each is checked only when its fields are valid.
void Loader::check_rules() {
    check_schedule();
    const auto& o = m_recipe.optimizer;
    if (ok({"optimizer.nesterov", "optimizer.momentum"}) && o.nesterov && o.momentum == 0) {
        error(place({"optimizer.nesterov", "optimizer.momentum"}),
              "optimizer.nesterov = true needs optimizer.momentum > 0 (it is " +
                  detail::render_float(o.momentum) + ")");
    }
    check_images();
    check_task();
    for (const RuleProblem& p :
         science_rules(m_recipe, [this](std::string_view key) { return ok({key}); })) {
        error(place(p.keys), p.message);
    }
    check_slurm();
}

/// What the task needs of the data, the hiding settings and the targets.
void Loader::check_task() {
    const auto& t = m_recipe.task;
    const auto quoted = [](const std::string& v) { return "\"" + v + "\""; };
    if (ok({"task.kind", "hiding.confidence"}) && t.kind != "classification" &&
        m_recipe.hiding.confidence == "batch") {
        error(place({"hiding.confidence", "task.kind"}),
              "hiding.confidence = \"batch\" (softmax over the batch, the reference quirk) is "
              "defined for classification only; task.kind = " +
                  quoted(t.kind) + " needs hiding.confidence = \"class\"");
    }
    if (ok({"task.kind", "run.target_accuracy"}) && t.kind == "regression" &&
        m_recipe.run.target_accuracy) {
        error(place({"run.target_accuracy", "task.kind"}),
              "run.target_accuracy is an accuracy (higher is better); task.kind = "
              "\"regression\" measures MAE (lower is better): set task.target instead");
    }
    if (ok({"task.target", "run.target_accuracy"}) && t.target && m_recipe.run.target_accuracy) {
        error(place({"task.target", "run.target_accuracy"}),
              "task.target and run.target_accuracy are both set; keep one");
    }
    if (ok({"task.target", "task.kind"}) && t.target && t.kind != "regression" && *t.target > 1) {
        error(place({"task.target"}), "task.target = " + detail::render_float(*t.target) +
                                          " is out of range; expected task.target <= 1 for "
                                          "task.kind = " +
                                          quoted(t.kind));
    }
    if (ok({"task.kind", "task.class_weights"}) && !t.class_weights.empty() &&
        t.kind != "segmentation") {
        error(place({"task.class_weights", "task.kind"}),
              "task.class_weights is for task.kind = \"segmentation\"; task.kind is " +
                  quoted(t.kind));
    }
    const auto& d = m_recipe.data;
    if (ok({"data.dataset", "data.synthetic_kind", "task.kind"}) && d.dataset == "synthetic") {
        const std::string needs = d.synthetic_kind == "cosmoflow" ? "regression"
                                  : d.synthetic_kind == "deepcam" ? "segmentation"
                                                                  : "classification";
        if (t.kind != needs) {
            error(place({"task.kind", "data.synthetic_kind"}),
                  "data.synthetic_kind = " + quoted(d.synthetic_kind) + " is a " + needs +
                      " data set; task.kind = " + quoted(t.kind) +
                      " cannot learn it (set "
                      "task.kind = " +
                      quoted(needs) + ")");
        }
    }
    if (ok({"data.synthetic_difficulty", "data.synthetic_kind"}) &&
        d.synthetic_difficulty != "uniform" && d.synthetic_kind != "deepcam") {
        error(place({"data.synthetic_difficulty", "data.synthetic_kind"}),
              "data.synthetic_difficulty = " + quoted(d.synthetic_difficulty) +
                  " is for data.synthetic_kind = \"deepcam\"; data.synthetic_kind is " +
                  quoted(d.synthetic_kind));
    }
}

Value Loader::find_value(std::string_view key) const {
    return detail::find_field(key)->get(m_recipe);
}

} // namespace kakuren::recipes::loading

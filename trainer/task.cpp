// The task registry: each kind named once, with its constructor.
#include <algorithm>
#include <array>

#include "trainer/task.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

struct TaskKind {
    const char* name;
    std::unique_ptr<Task> (*build)(const TaskConfig&, const StatsConfig&);
};

constexpr std::array<TaskKind, 3> k_task_kinds = {{
    {"classification", make_classification},
    {"segmentation", make_segmentation},
    {"regression", make_regression},
}};

} // namespace

std::vector<std::string> task_kinds() {
    std::vector<std::string> out;
    for (const TaskKind& kind : k_task_kinds) {
        out.emplace_back(kind.name);
    }
    return out;
}

std::unique_ptr<Task> make_task(const TaskConfig& config, const StatsConfig& stats) {
    const auto* kind = std::find_if(k_task_kinds.begin(), k_task_kinds.end(),
                                    [&](const TaskKind& k) { return config.kind == k.name; });
    if (kind == k_task_kinds.end()) {
        std::string names;
        for (const TaskKind& k : k_task_kinds) {
            names += (names.empty() ? "" : ", ") + std::string(k.name);
        }
        throw UsageError("unknown task.kind \"" + config.kind + "\"; expected one of " + names);
    }
    if (stats.confidence_over_batch && config.kind != "classification") {
        // The reference quirk normalises class scores over the batch; it has no meaning for
        // per-pixel scores or regression outputs.
        throw UsageError("hiding.confidence = \"batch\" is defined for task.kind = "
                         "\"classification\" only; use \"class\" with task.kind = \"" +
                         config.kind + "\"");
    }
    return kind->build(config, stats);
}

} // namespace kakuren::trainer

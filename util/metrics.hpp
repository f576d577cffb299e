#pragma once
// The evaluation metrics, declared once: name, unit, direction and the MLPerf key that carries
// it. The trainer's tasks name their metric from here, recipes/kinds.hpp maps a task kind to it,
// the database picks a run's best epoch by its direction, and reports format and compare values
// by its unit and direction. tests/report/metrics_test.cpp checks every consumer against it.
#include <string_view>

#include "util/mlperf_keys.hpp"

namespace kakuren::util::metrics {

/// The names, each spelled once (as records, the database and output write them).
namespace name {
inline constexpr std::string_view accuracy = "accuracy";
inline constexpr std::string_view iou = "IoU";
inline constexpr std::string_view mae = "MAE";
} // namespace name

enum class Direction { higher_is_better, lower_is_better };

/// What a value is measured in: a fraction in [0, 1] (shown in percent, differences in
/// percentage points) or the targets' own units (shown as a plain number).
enum class Unit { fraction, target_units };

struct Metric {
    std::string_view name;
    std::string_view task_kind; ///< the task.kind that evaluates it
    Unit unit;
    Direction direction;
    std::string_view mlperf_key; ///< the per-epoch record that holds the value
};

inline constexpr Metric k_metrics[] = {
    {name::accuracy, "classification", Unit::fraction, Direction::higher_is_better,
     mlperf::key::eval_accuracy},
    {name::iou, "segmentation", Unit::fraction, Direction::higher_is_better,
     mlperf::key::eval_accuracy},
    {name::mae, "regression", Unit::target_units, Direction::lower_is_better,
     mlperf::key::eval_error},
};

/// The metric named name, nullptr for an unknown name.
constexpr const Metric* find(std::string_view metric) {
    for (const Metric& m : k_metrics) {
        if (m.name == metric) {
            return &m;
        }
    }
    return nullptr;
}

/// The metric task_kind evaluates; accuracy for a kind without its own.
constexpr const Metric& of_task(std::string_view task_kind) {
    for (const Metric& m : k_metrics) {
        if (m.task_kind == task_kind) {
            return m;
        }
    }
    return k_metrics[0];
}

/// Whether a smaller value is better; false for an unknown name (older runs: accuracy).
constexpr bool lower_is_better(std::string_view metric) {
    const Metric* m = find(metric);
    return m != nullptr && m->direction == Direction::lower_is_better;
}

/// "lower is better" or "higher is better": the direction in prose.
constexpr std::string_view direction_text(const Metric& m) {
    return m.direction == Direction::lower_is_better ? "lower is better" : "higher is better";
}

/// Whether values are fractions in [0, 1]; an unknown name is taken as accuracy (older runs).
constexpr bool is_fraction(std::string_view metric) {
    const Metric* m = find(metric);
    return m == nullptr || m->unit == Unit::fraction;
}

} // namespace kakuren::util::metrics

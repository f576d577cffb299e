#pragma once
// The names a recipe may choose among, each defined once with a one-line description: model,
// schedule, task and data set kinds, and the sbatch options slurm.extra may hold. The recipe
// schema takes its allowed values and reference text from here; the trainer checks that it has
// an implementation for every kind, the launcher maps every sbatch option (a switch on the id, so
// the compiler names a missing one). Hiding strategies have their own registry
// (hiding/registry.hpp), as they carry parameters and a factory.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/metrics.hpp"

namespace kakuren::recipes {

/// One choice of an enumerated recipe key.
struct KindInfo {
    std::string_view name;    ///< the value in the recipe: "resnet18"
    std::string_view summary; ///< a clause for the reference: "a CIFAR-style ResNet-18"
};

/// model.kind
inline const std::vector<KindInfo>& model_kinds() {
    static const std::vector<KindInfo> kinds = {
        {"mlp", "a multilayer perceptron (model.hidden)"},
        {"cnn", "a small network of two conv layers and one hidden fc layer (model.channels, "
                "model.fc)"},
        {"resnet18", "a CIFAR-style ResNet-18 (model.width)"},
        {"resnet50", "torchvision's ResNet-50 for images of at least 32x32 (model.width)"},
        {"cosmoflow", "the MLPerf HPC CosmoFlow network for cubes [C, S, S, S] and regression "
                      "(model.width, model.depth, model.dropout)"},
        {"deepcam", "a DeepLabv3+-family segmentation network: encoder, ASPP, decoder to full "
                    "resolution (model.width, model.depth)"},
        {"torchscript", "your own PyTorch module (model.path, model.inputs; docs/models.md)"},
    };
    return kinds;
}

/// schedule.kind
inline const std::vector<KindInfo>& schedule_kinds() {
    static const std::vector<KindInfo> kinds = {
        {"step", "multiply the LR by gamma at each milestone"},
        {"multistep", "the same as step (DeepCAM's name)"},
        {"cosine", "cosine decay to 0"},
    };
    return kinds;
}

/// task.kind: what a sample's target is, its loss and its metric; the trainer's task registry
/// has each.
inline const std::vector<KindInfo>& task_kinds() {
    // The metric's direction as util/metrics.hpp declares it.
    static const std::string mae(util::metrics::name::mae);
    static const std::string regression =
        "a vector of floats per sample: MSE loss, metric " + mae + " (" +
        std::string(util::metrics::direction_text(util::metrics::of_task("regression"))) +
        "; correct = " + mae + " <= task.tolerance)";
    static const std::vector<KindInfo> kinds = {
        {"classification", "one class label per sample: cross-entropy loss, accuracy"},
        {"segmentation",
         "a class per pixel: per-pixel cross-entropy (task.class_weights) averaged over the "
         "pixels, metric IoU (per sample, averaged over classes; correct = IoU >= "
         "task.iou_threshold)"},
        {"regression", regression},
    };
    return kinds;
}

/// The evaluation metric of a task kind, as records, the database and output name it
/// (util/metrics.hpp): "accuracy" (classification), "IoU" (segmentation), "MAE" (regression).
inline std::string_view task_metric(std::string_view task_kind) {
    return util::metrics::of_task(task_kind).name;
}

/// data.dataset
inline const std::vector<KindInfo>& dataset_kinds() {
    static const std::vector<KindInfo> kinds = {
        {"fashion-mnist", "the four IDX files in data.path (default "
                          "/usr/share/datasets/fashion-mnist)"},
        {"idx", "any IDX data set"},
        {"synthetic", "generated in memory (data.synthetic_kind): Gaussian blobs, or the "
                      "CosmoFlow / DeepCAM stand-ins"},
        {"npy", "numpy arrays streamed from disk: data.train / data.test folders with data.npy + "
                "targets.npy, or files_data.lst + files_label.lst (one .npy per sample)"},
        {"hdf5", "HDF5 streamed from disk: data.train / data.test .h5 files with datasets "
                 "data.data_key and data.target_key, or folders of DeepCAM per-sample files"},
        {"images", "JPEG / PNG files streamed from disk: data.train / data.test folders with one "
                   "sub-folder per class (the ImageNet layout)"},
    };
    return kinds;
}

/// The names of kinds, in order.
std::vector<std::string> kind_names(const std::vector<KindInfo>& kinds);

/// "name: summary; name: summary." — a reference description listing every kind.
std::string kinds_text(const std::vector<KindInfo>& kinds);

/// Whether name is one of kinds.
bool has_kind(const std::vector<KindInfo>& kinds, std::string_view name);

/// The sbatch options slurm.extra may hold (the others have their own [slurm] keys).
enum class SbatchOption {
    exclusive,
    reservation,
    nodelist,
    exclude,
    comment,
    licenses,
    mail_type,
    mail_user,
    dependency
};

struct SbatchOptionInfo {
    SbatchOption id;
    std::string_view name; ///< "--reservation"
    bool takes_value;      ///< "--reservation=NAME" (true) or "--exclusive" (false)
};

/// Every allowed option, in the order the reference lists them.
const std::vector<SbatchOptionInfo>& sbatch_options();

/// The option named name ("--exclude", without a value), or nullptr.
const SbatchOptionInfo* find_sbatch_option(std::string_view name);

/// "--exclusive, --reservation=, ...": the options as the reference and messages list them.
std::string sbatch_options_text();

/// The options of a validated slurm.extra ("--exclusive --reservation=maint"), in order, each with
/// its value ("" for a flag). Words that are not allowed options are skipped (recipes::load has
/// rejected them already).
std::vector<std::pair<SbatchOption, std::string>> parse_sbatch_extra(std::string_view extra);

} // namespace kakuren::recipes

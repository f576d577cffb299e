#include "recipes/schema.hpp"

#include "hiding/registry.hpp"
#include "recipes/kinds.hpp"
#include "util/assert.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <type_traits>
#include <utility>

namespace kakuren::recipes::detail {

namespace {

std::string render_bound(double x) {
    if (std::floor(x) == x && std::abs(x) < 1e15) {
        return std::to_string(static_cast<std::int64_t>(x));
    }
    return render_float(x);
}

template <class T> Value to_value(const T& v) {
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, double> ||
                  std::is_same_v<T, std::string> || std::is_same_v<T, std::vector<double>> ||
                  std::is_same_v<T, StringList>) {
        return v;
    } else if constexpr (std::is_integral_v<T>) {
        return static_cast<std::int64_t>(v);
    } else if constexpr (std::is_same_v<T, std::optional<double>>) {
        return v ? Value{*v} : Value{};
    } else {
        static_assert(std::is_same_v<T, std::vector<int>>);
        return IntList(v.begin(), v.end());
    }
}

// Values reaching a setter were type- and range-checked against the member's type first.
template <class T> T from_value(const Value& v) {
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, double> ||
                  std::is_same_v<T, std::string>) {
        return std::get<T>(v);
    } else if constexpr (std::is_integral_v<T>) {
        return static_cast<T>(std::get<std::int64_t>(v));
    } else if constexpr (std::is_same_v<T, std::optional<double>>) {
        if (std::holds_alternative<std::monostate>(v)) {
            return std::nullopt;
        }
        return std::get<double>(v);
    } else if constexpr (std::is_same_v<T, std::vector<double>>) {
        return std::get<FloatList>(v);
    } else if constexpr (std::is_same_v<T, StringList>) {
        return std::get<StringList>(v);
    } else {
        static_assert(std::is_same_v<T, std::vector<int>>);
        const auto& list = std::get<IntList>(v);
        T out;
        out.reserve(list.size());
        for (auto x : list) {
            out.push_back(static_cast<int>(x));
        }
        return out;
    }
}

template <class T> constexpr Kind kind_of() {
    if constexpr (std::is_same_v<T, bool>) {
        return Kind::boolean;
    } else if constexpr (std::is_integral_v<T>) {
        return Kind::integer;
    } else if constexpr (std::is_same_v<T, double>) {
        return Kind::floating;
    } else if constexpr (std::is_same_v<T, std::string>) {
        return Kind::string;
    } else if constexpr (std::is_same_v<T, std::optional<double>>) {
        return Kind::optional_float;
    } else if constexpr (std::is_same_v<T, std::vector<double>>) {
        return Kind::float_list;
    } else if constexpr (std::is_same_v<T, StringList>) {
        return Kind::string_list;
    } else {
        static_assert(std::is_same_v<T, std::vector<int>>);
        return Kind::int_list;
    }
}

/// A field bound to recipe.*S.*M; kind and integer limits follow the member's type.
template <auto S, auto M>
Field make(std::string_view section, std::string_view name, std::string_view description) {
    using T = std::remove_cvref_t<decltype((std::declval<Recipe&>().*S).*M)>;
    Field f;
    f.section = section;
    f.name = name;
    f.description = description;
    f.kind = kind_of<T>();
    using Int = std::conditional_t<std::is_same_v<T, std::vector<int>>, int,
                                   std::conditional_t<std::is_integral_v<T>, T, std::int64_t>>;
    f.int_min = std::numeric_limits<Int>::min();
    f.int_max = std::numeric_limits<Int>::max();
    f.get = [](const Recipe& r) { return to_value((r.*S).*M); };
    f.set = [](Recipe& r, const Value& v) { (r.*S).*M = from_value<T>(v); };
    return f;
}

Range range_of(const hiding::Bounds& b) {
    Range r;
    r.lo_inclusive = b.lo_inclusive;
    r.hi_inclusive = b.hi_inclusive;
    if (std::isfinite(b.lo)) {
        r.lo = b.lo;
    }
    if (std::isfinite(b.hi)) {
        r.hi = b.hi;
    }
    return r;
}

const hiding::ParamInfo& shared_param(std::string_view key) {
    const hiding::ParamInfo* p = hiding::find_param(key);
    KAKUREN_ASSERT(p != nullptr, "the schema reads a shared hiding key the registry lacks");
    return *p;
}

std::vector<std::string> lr_compensation_names() {
    std::vector<std::string> out;
    for (const hiding::LrCompensation c : hiding::lr_compensations()) {
        out.push_back(hiding::to_string(c));
    }
    return out;
}

std::vector<std::string> strategy_names() {
    std::vector<std::string> out;
    for (const hiding::StrategyInfo* s : hiding::strategies()) {
        out.emplace_back(s->name);
    }
    return out;
}

// "none: train on every sample; kakurenbo: ...; rotate: ...".
std::string strategies_text() {
    std::string out;
    for (const hiding::StrategyInfo* s : hiding::strategies()) {
        out += (out.empty() ? "" : "; ") + std::string(s->name) + ": " + std::string(s->summary);
    }
    return out + ".";
}

/// A strategy's own parameter as the field hiding.<key>, stored in HidingSection::params.
Field strategy_param(const hiding::StrategyInfo& strategy, const hiding::ParamInfo& param) {
    Field f;
    f.section = "hiding";
    f.name = param.key;
    f.description = std::string(strategy.name) + ": " + std::string(param.summary);
    f.range = range_of(param.bounds);
    if (param.kind == hiding::ParamKind::integer) {
        f.kind = Kind::integer;
        f.int_min = std::numeric_limits<int>::min();
        f.int_max = std::numeric_limits<int>::max();
    } else {
        f.kind = Kind::floating;
    }
    const std::string key(param.key);
    const bool integer = param.kind == hiding::ParamKind::integer;
    f.get = [key, integer](const Recipe& r) -> Value {
        const double v = r.hiding.params.at(key);
        return integer ? Value{static_cast<std::int64_t>(v)} : Value{v};
    };
    f.set = [key, integer](Recipe& r, const Value& v) {
        r.hiding.params[key] =
            integer ? static_cast<double>(std::get<std::int64_t>(v)) : std::get<double>(v);
    };
    return f;
}

std::vector<Field> build_schema() { // NOLINT(readability-function-size): table
    using R = Recipe;
    std::vector<Field> f;
    // [run]
    f.push_back(make<&R::run, &RunSection::name>(
                    "run", "name",
                    "Name of the run in the database and in its output folder (the run id is "
                    "the name and a 21-character time stamp, one folder name).")
                    .non_empty()
                    .at_most_chars(k_max_run_name_chars));
    f.push_back(make<&R::run, &RunSection::seed>(
                    "run", "seed",
                    "Seed for initialisation, shuffling and the hiding policy (synthetic data: "
                    "data.synthetic_seed).")
                    .in(above(0)));
    f.push_back(make<&R::run, &RunSection::threads>(
                    "run", "threads",
                    "Intra-op CPU threads; 0 = the CPUs of the allocation. At run time also at "
                    "most 8 x the CPUs of the allocation.")
                    .in(interval(0, true, k_max_threads, true)));
    f.push_back(make<&R::run, &RunSection::device>(
        "run", "device",
        "Where each rank trains: auto (the rank's local GPU, SLURM_LOCALID, when this kakuren's "
        "LibTorch has CUDA and a GPU is visible, else the CPU), cpu, cuda (the rank's local GPU) "
        "or cuda:N. cuda without a GPU, or with a CPU-only LibTorch, is refused (exit 2)."));
    f.push_back(make<&R::run, &RunSection::precision>(
                    "run", "precision",
                    "Forward-pass precision: fp32, bf16 (autocast; CPU or GPU) or fp16 (autocast "
                    "with a dynamic loss scale; GPU only). Losses and per-sample statistics stay "
                    "fp32.")
                    .one_of({"fp32", "bf16", "fp16"}));
    f.push_back(make<&R::run, &RunSection::memory_format>(
                    "run", "memory_format",
                    "Layout of 4-D image batches: channels_last, contiguous, or auto "
                    "(channels_last: faster for convolutions on the CPU and on a GPU, "
                    "bench/device_bench.py memory_format).")
                    .one_of({"auto", "contiguous", "channels_last"}));
    f.push_back(make<&R::run, &RunSection::deterministic>(
        "run", "deterministic",
        "Deterministic algorithms only (cuDNN, cuBLAS with a fixed workspace): a resumed GPU run "
        "ends bit-identical. CPU runs are deterministic either way."));
    f.push_back(make<&R::run, &RunSection::target_accuracy>(
                    "run", "target_accuracy",
                    "Stop once test accuracy (segmentation: IoU) reaches this; unset = train all "
                    "epochs. Regression: use task.target.")
                    .in(interval(0, false, 1, true)));
    f.push_back(make<&R::run, &RunSection::notes>("run", "notes", "Free text kept with the run."));
    f.push_back(make<&R::run, &RunSection::stop_on_nan>(
        "run", "stop_on_nan",
        "End the run (status failed, exit code 4) at the first training step whose loss is not "
        "finite (NaN or infinite), before any checkpoint of it is written: `kakuren resume` "
        "continues from the last checkpoint, whose losses were finite. false: train on and "
        "record the loss as nan."));
    f.push_back(make<&R::run, &RunSection::stop_grace_s>(
                    "run", "stop_grace_s",
                    "After a stop request (SIGINT, SIGTERM, SIGUSR1): seconds the step in "
                    "progress may take to reach its end. A step that does not (a module whose "
                    "forward never returns) is abandoned: the process exits with code 75 without "
                    "a checkpoint, the run marked interrupted and resumable from its last "
                    "checkpoint.")
                    .in(interval(0, false, 3600, true)));
    // [data]
    f.push_back(
        make<&R::data, &DataSection::dataset>("data", "dataset", kinds_text(dataset_kinds()))
            .one_of(kind_names(dataset_kinds())));
    f.push_back(make<&R::data, &DataSection::path>(
        "data", "path",
        "Folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
        "and t10k-labels-idx1-ubyte (.gz for fashion-mnist; either for idx). Relative to the "
        "recipe's folder."));
    f.push_back(make<&R::data, &DataSection::train_images>(
        "data", "train_images",
        "Training images file; overrides data.path. After loading: the resolved absolute path."));
    f.push_back(make<&R::data, &DataSection::train_labels>(
        "data", "train_labels",
        "Training labels file; overrides data.path. After loading: the resolved absolute path."));
    f.push_back(make<&R::data, &DataSection::test_images>(
        "data", "test_images",
        "Test images file; overrides data.path. After loading: the resolved absolute path."));
    f.push_back(make<&R::data, &DataSection::test_labels>(
        "data", "test_labels",
        "Test labels file; overrides data.path. After loading: the resolved absolute path."));
    f.push_back(make<&R::data, &DataSection::train_limit>(
                    "data", "train_limit", "Use only the first n training samples; 0 = all.")
                    .in(at_least(0)));
    f.push_back(make<&R::data, &DataSection::test_limit>(
                    "data", "test_limit", "Use only the first n test samples; 0 = all.")
                    .in(at_least(0)));
    f.push_back(make<&R::data, &DataSection::batch_size>(
                    "data", "batch_size", "Training mini-batch size (global, over all ranks).")
                    .in(at_least(1)));
    f.push_back(make<&R::data, &DataSection::eval_batch_size>(
                    "data", "eval_batch_size", "Batch size of evaluation and forward-only passes.")
                    .in(at_least(1)));
    f.push_back(
        make<&R::data, &DataSection::accumulation_steps>(
            "data", "accumulation_steps",
            "Gradient accumulation: each rank splits its share of a step (batch_size / ranks "
            "samples) into this many micro-batches of at most ceil(share / k), runs them forward "
            "and backward in turn, and all-reduces and steps once. Steps, LR schedule, "
            "statistics and hiding plans are those of data.batch_size; activations are those of "
            "a micro-batch (BatchNorm sees micro-batches). Logged as gradient_accumulation_steps.")
            .in(at_least(1)));
    f.push_back(make<&R::data, &DataSection::normalize>(
        "data", "normalize", "Subtract data.mean and divide by data.std."));
    f.push_back(make<&R::data, &DataSection::mean>(
        "data", "mean", "Normalisation mean; unset = computed from the training set."));
    f.push_back(make<&R::data, &DataSection::std>(
                    "data", "std",
                    "Normalisation standard deviation; unset = computed from the training set.")
                    .in(above(0)));
    f.push_back(make<&R::data, &DataSection::synthetic_train>(
                    "data", "synthetic_train", "synthetic: number of training samples.")
                    .in(at_least(1)));
    f.push_back(make<&R::data, &DataSection::synthetic_test>("data", "synthetic_test",
                                                             "synthetic: number of test samples.")
                    .in(at_least(1)));
    f.push_back(make<&R::data, &DataSection::synthetic_classes>("data", "synthetic_classes",
                                                                "synthetic: number of classes.")
                    .in(interval(2, true, 1000, true)));
    f.push_back(make<&R::data, &DataSection::synthetic_channels>("data", "synthetic_channels",
                                                                 "synthetic: image channels.")
                    .one_of_ints({1, 3}));
    f.push_back(make<&R::data, &DataSection::synthetic_size>(
                    "data", "synthetic_size", "synthetic: image height and width in pixels.")
                    .in(interval(8, true, 256, true)));
    f.push_back(make<&R::data, &DataSection::synthetic_noise>(
                    "data", "synthetic_noise",
                    "synthetic: standard deviation of the per-pixel noise around each class mean.")
                    .in(at_least(0)));
    f.push_back(make<&R::data, &DataSection::synthetic_kind>(
                    "data", "synthetic_kind",
                    "synthetic: blobs: Gaussian blobs per class (classification); cosmoflow: the "
                    "CosmoFlow stand-in, 4 x S^3 log(1 + counts) cubes with 4 targets in [-1, 1] "
                    "(regression); deepcam: the DeepCAM stand-in, 16 x S x S climate-like fields "
                    "with per-pixel classes 0/1/2 (segmentation); S = data.synthetic_size. The "
                    "same samples `kakuren data synth` writes.")
                    .one_of({"blobs", "cosmoflow", "deepcam"}));
    f.push_back(make<&R::data, &DataSection::synthetic_difficulty>(
                    "data", "synthetic_difficulty",
                    "synthetic, deepcam: uniform: every sample has one or two vortices and one or "
                    "two filaments of similar size and contrast; spread: each sample draws its own "
                    "difficulty: a quarter have no event at all, the others large clear events or "
                    "small, thin, faint ones (docs/benchmarks.md). `kakuren data synth deepcam "
                    "--difficulty` writes the same samples.")
                    .one_of({"uniform", "spread"}));
    f.push_back(make<&R::data, &DataSection::synthetic_seed>(
                    "data", "synthetic_seed",
                    "synthetic: the generators' seed (the data; run.seed seeds the rest). The "
                    "default is `kakuren data synth --seed`'s.")
                    .in(above(0)));
    f.push_back(
        make<&R::data, &DataSection::stage>(
            "data", "stage",
            "none: read the data files where they are; node-local: copy them once per "
            "node to $SLURM_TMPDIR, $TMPDIR or /dev/shm before training (logged as "
            "staging_start/staging_stop); npy / hdf5 / images: every file of both splits (each "
            "epoch deals every rank a new share of the samples).")
            .one_of({"none", "node-local"}));
    f.push_back(make<&R::data, &DataSection::train>(
        "data", "train",
        "npy / hdf5 / images: the training split, relative to the recipe's folder. npy: a folder "
        "with "
        "data.npy + targets.npy ([N, ...] each) or files_data.lst + files_label.lst (one .npy "
        "per sample, paths relative to the folder), or an array file with data.train_targets. "
        "hdf5: a .h5 file with the datasets "
        "data.data_key and data.target_key ([N, ...] each), a dataset FILE:/DATASET with "
        "data.train_targets, or a folder of per-sample DeepCAM "
        "files (climate/data, climate/labels_0; stats.h5 beside or above). images: a folder "
        "with one sub-folder of .jpg / .jpeg / .png files per class (class ids = the sorted "
        "folder names, as torchvision's ImageFolder; an optional files.lst of CLASS/FILE lines "
        "sets the sample order). After loading: the resolved absolute path."));
    f.push_back(make<&R::data, &DataSection::test>(
        "data", "test",
        "npy / hdf5 / images: the test split, laid out as data.train (images: class ids are "
        "data.train's folders)."));
    f.push_back(make<&R::data, &DataSection::data_key>(
        "data", "data_key", "hdf5: name of the input dataset in a single-file split."));
    f.push_back(make<&R::data, &DataSection::target_key>(
        "data", "target_key", "hdf5: name of the target dataset in a single-file split."));
    f.push_back(make<&R::data, &DataSection::train_targets>(
        "data", "train_targets",
        "npy: the targets file ([N] or [N, ...]) of a data.train given as an array file "
        "(x_train.npy); hdf5: the targets dataset, FILE:/DATASET, of a data.train given as one "
        "(all.h5:/train/images). Relative to the recipe's folder; unset for a folder split."));
    f.push_back(make<&R::data, &DataSection::test_targets>("data", "test_targets",
                                                           "data.train_targets for data.test."));
    f.push_back(make<&R::data, &DataSection::layout>(
                    "data", "layout",
                    "npy / hdf5: the channel order of the arrays on disk: nchw ([N, C, H, W]) or "
                    "nhwc ([N, H, W, C], transposed to [C, H, W] as samples are read).")
                    .one_of({"nchw", "nhwc"}));
    f.push_back(make<&R::data, &DataSection::transform>(
                    "data", "transform",
                    "npy / hdf5: none, or log1p: log(1 + x) after the cast to float and before "
                    "the normalisation (CosmoFlow's apply_log).")
                    .one_of({"none", "log1p"}));
    f.push_back(
        make<&R::data, &DataSection::reader_threads>(
            "data", "reader_threads",
            "npy / hdf5 / images: threads that read batches ahead of the step; 0 = read each "
            "batch when the step needs it.")
            .in(interval(0, true, 64, true)));
    f.push_back(
        make<&R::data, &DataSection::prefetch_batches>(
            "data", "prefetch_batches",
            "npy / hdf5 / images: batches the reader threads may read ahead of the step (the "
            "bound on the loader's memory).")
            .in(interval(1, true, 256, true)));
    f.push_back(make<&R::data, &DataSection::image_size>(
                    "data", "image_size",
                    "images: [height, width] every image is resized to (bilinear, antialiased "
                    "when shrinking, as torchvision's Resize); unset = the first image's size, "
                    "which every image must then have.")
                    .in(interval(1, true, 65536, true))
                    .note("[] or 2 elements"));
    f.push_back(make<&R::data, &DataSection::image_channels>(
                    "data", "image_channels",
                    "images: 1 = grey, 3 = RGB (grey images repeated, colour ones converted with "
                    "Pillow's convert(\"L\") weights); 0 = the first image's.")
                    .one_of_ints({0, 1, 3}));
    f.push_back(make<&R::data, &DataSection::random_crop>(
                    "data", "random_crop",
                    "images, training pass only: torchvision's RandomCrop(size, padding=n): pad "
                    "every side with n black pixels, then crop the image size back at a random "
                    "offset, drawn from (run.seed, epoch, sample id); 0 = off.")
                    .in(interval(0, true, 1024, true)));
    f.push_back(make<&R::data, &DataSection::hflip>(
        "data", "hflip",
        "images, training pass only: mirror left-right with probability 0.5 (after the crop), "
        "drawn from (run.seed, epoch, sample id), so ranks and resumed runs agree."));
    // [model]
    f.push_back(make<&R::model, &ModelSection::kind>("model", "kind", kinds_text(model_kinds()))
                    .one_of(kind_names(model_kinds())));
    f.push_back(make<&R::model, &ModelSection::path>(
        "model", "path",
        "torchscript: the file torch.jit.script(model).save(path) or "
        "torch.jit.trace(...).save(path) "
        "wrote. Relative to the recipe's folder; after loading the resolved absolute path."));
    f.push_back(
        make<&R::model, &ModelSection::inputs>(
            "model", "inputs",
            "The input shape of one sample the model expects ([C, H, W]; cosmoflow [C, D, H, "
            "W]), checked against the data before training; [] = not checked (built-in models "
            "take their size from the data).")
            .in(at_least(1)));
    f.push_back(model_output_field());
    f.push_back(make<&R::model, &ModelSection::hidden>(
                    "model", "hidden", "mlp: hidden layer widths ([] = a linear classifier).")
                    .in(at_least(1)));
    f.push_back(make<&R::model, &ModelSection::channels>(
                    "model", "channels", "cnn: output channels of its two conv layers.")
                    .size(2)
                    .in(at_least(1)));
    f.push_back(make<&R::model, &ModelSection::fc>("model", "fc", "cnn: hidden fc layer width.")
                    .in(at_least(1)));
    f.push_back(make<&R::model, &ModelSection::width>(
                    "model", "width",
                    "resnet18, resnet50: base channel width (64 = torchvision's); cosmoflow: "
                    "filters of the first conv block, doubling per block (32 = the reference); "
                    "deepcam: channels of the stem (encoder 2w, 4w, 8w; ASPP and decoder 2w).")
                    .in(at_least(1)));
    f.push_back(make<&R::model, &ModelSection::depth>(
                    "model", "depth",
                    "cosmoflow: conv blocks, each halving the cube (0 = 5, the reference); "
                    "deepcam: encoder stages, each halving the image (0 = 4: output stride 16).")
                    .in(interval(0, true, 8, true)));
    f.push_back(make<&R::model, &ModelSection::dropout>(
                    "model", "dropout", "cosmoflow: dropout of the two hidden dense layers.")
                    .in(interval(0, true, 1, false)));
    // [optimizer]
    f.push_back(make<&R::optimizer, &OptimizerSection::kind>(
                    "optimizer", "kind",
                    "sgd: SGD with momentum; adam: Adam (weight_decay added to the gradient); "
                    "adamw: AdamW (decoupled weight decay).")
                    .one_of({"sgd", "adam", "adamw"}));
    f.push_back(make<&R::optimizer, &OptimizerSection::lr>(
                    "optimizer", "lr", "Peak learning rate (reached after warm-up).")
                    .in(above(0)));
    f.push_back(
        make<&R::optimizer, &OptimizerSection::momentum>("optimizer", "momentum", "SGD momentum.")
            .in(interval(0, true, 1, false)));
    f.push_back(make<&R::optimizer, &OptimizerSection::weight_decay>("optimizer", "weight_decay",
                                                                     "L2 weight decay.")
                    .in(at_least(0)));
    f.push_back(make<&R::optimizer, &OptimizerSection::betas>(
                    "optimizer", "betas", "adam, adamw: the moment decay rates (beta1, beta2).")
                    .size(2)
                    .in(interval(0, true, 1, false)));
    f.push_back(make<&R::optimizer, &OptimizerSection::eps>(
                    "optimizer", "eps", "adam, adamw: the denominator's epsilon.")
                    .in(above(0)));
    f.push_back(make<&R::optimizer, &OptimizerSection::nesterov>(
                    "optimizer", "nesterov", "Nesterov momentum (needs momentum > 0).")
                    .note("needs optimizer.momentum > 0"));
    // [schedule]
    f.push_back(
        make<&R::schedule, &ScheduleSection::epochs>("schedule", "epochs", "Training epochs.")
            .in(at_least(1)));
    f.push_back(make<&R::schedule, &ScheduleSection::warmup_epochs>(
                    "schedule", "warmup_epochs",
                    "Epochs of linear LR warm-up; hiding's LR compensation starts after them. "
                    "Left unset, at most schedule.epochs - 1.")
                    .in(at_least(0))
                    .note("< schedule.epochs"));
    f.push_back(make<&R::schedule, &ScheduleSection::warmup_steps>(
                    "schedule", "warmup_steps",
                    "> 0: LR warm-up over this many optimizer steps of a full epoch instead of "
                    "schedule.warmup_epochs (hiding's LR compensation still starts after "
                    "warmup_epochs).")
                    .in(at_least(0)));
    f.push_back(make<&R::schedule, &ScheduleSection::warmup_factor>(
                    "schedule", "warmup_factor",
                    "1: warm-up rises from lr / steps to optimizer.lr; > 1: from optimizer.lr to "
                    "warmup_factor x optimizer.lr, where the decay then starts (DeepCAM and "
                    "CosmoFlow).")
                    .in(at_least(1)));
    f.push_back(
        make<&R::schedule, &ScheduleSection::kind>("schedule", "kind", kinds_text(schedule_kinds()))
            .one_of(kind_names(schedule_kinds())));
    f.push_back(
        make<&R::schedule, &ScheduleSection::milestones>(
            "schedule", "milestones",
            "step: epochs (0-based) at which the LR is multiplied by gamma; the hiding "
            "fraction decays there too. Left unset, when the defaults fall outside a shorter "
            "run they keep their fraction of it instead (4 epochs: [2, 3]).")
            .in(at_least(1))
            .note("strictly increasing, each < schedule.epochs"));
    f.push_back(make<&R::schedule, &ScheduleSection::gamma>("schedule", "gamma",
                                                            "step: LR factor at each milestone.")
                    .in(interval(0, false, 1, true)));
    f.push_back(make<&R::schedule, &ScheduleSection::decay_factors>(
                    "schedule", "decay_factors",
                    "step: the LR factor after each milestone, relative to the base LR and not "
                    "compounding (CosmoFlow's reference: [0.25, 0.125] at [32, 64]); replaces "
                    "gamma; [] = gamma at each milestone.")
                    .in(interval(0, false, 1, true))
                    .note("one per schedule.milestones entry"));
    // [task]
    f.push_back(make<&R::task, &TaskSection::kind>("task", "kind", kinds_text(task_kinds()))
                    .one_of(kind_names(task_kinds())));
    f.push_back(make<&R::task, &TaskSection::class_weights>(
                    "task", "class_weights",
                    "segmentation: loss weight per class (DeepCAM: frequency^-0.125); [] = all 1.")
                    .in(above(0)));
    f.push_back(make<&R::task, &TaskSection::iou_threshold>(
                    "task", "iou_threshold",
                    "segmentation: a sample counts as correct for hiding at IoU >= this.")
                    .in(interval(0, true, 1, true)));
    f.push_back(make<&R::task, &TaskSection::tolerance>(
                    "task", "tolerance",
                    "regression: a sample counts as correct for hiding at MAE <= this; its "
                    "confidence is max(0, 1 - MAE / tolerance).")
                    .in(above(0)));
    f.push_back(make<&R::task, &TaskSection::target>(
                    "task", "target",
                    "Stop once the task's metric reaches this: accuracy or IoU >= target, MAE <= "
                    "target (the MLPerf quality target); unset = run.target_accuracy.")
                    .in(above(0)));
    // [hiding]
    f.push_back(make<&R::hiding, &HidingSection::strategy>("hiding", "strategy", strategies_text())
                    .one_of(strategy_names()));
    f.push_back(make<&R::hiding, &HidingSection::fraction>("hiding", "fraction",
                                                           shared_param("fraction").summary)
                    .in(range_of(shared_param("fraction").bounds)));
    f.push_back(make<&R::hiding, &HidingSection::tau>("hiding", "tau", shared_param("tau").summary)
                    .in(range_of(shared_param("tau").bounds)));
    f.push_back(make<&R::hiding, &HidingSection::fraction_decay>(
                    "hiding", "fraction_decay",
                    "F multiplier after k LR milestones: entry min(k, size - 1).")
                    .non_empty()
                    .in(interval(0, true, 1, true)));
    f.push_back(make<&R::hiding, &HidingSection::lr_compensation>(
                    "hiding", "lr_compensation",
                    "LR multiplier 1/(1-f) after warm-up, f = the scheduled F of the epoch, the "
                    "realised hidden fraction, or off (1).")
                    .one_of(lr_compensation_names()));
    f.push_back(make<&R::hiding, &HidingSection::confidence>(
                    "hiding", "confidence",
                    "class: softmax over classes; batch: softmax over the batch dimension (as "
                    "the reference implementation does; classification only).")
                    .one_of({"class", "batch"}));
    f.push_back(make<&R::hiding, &HidingSection::hidden_pass>(
                    "hiding", "hidden_pass",
                    "Mode of the forward refresh of hidden samples: eval, or train (as the "
                    "reference implementation does).")
                    .one_of({"eval", "train"}));
    f.push_back(make<&R::hiding, &HidingSection::refresh_every>(
                    "hiding", "refresh_every", shared_param("refresh_every").summary)
                    .in(range_of(shared_param("refresh_every").bounds)));
    // Each strategy's own knobs, in registry order.
    for (const hiding::StrategyInfo* s : hiding::strategies()) {
        for (const hiding::ParamInfo& p : s->params) {
            f.push_back(strategy_param(*s, p));
        }
    }
    // [checkpoint]
    f.push_back(make<&R::checkpoint, &CheckpointSection::every_epochs>(
                    "checkpoint", "every_epochs",
                    "Write a checkpoint at the end of every k-th epoch and of the last; 0 = only "
                    "the last (and when a signal stops the run).")
                    .in(at_least(0)));
    f.push_back(make<&R::checkpoint, &CheckpointSection::every_steps>(
                    "checkpoint", "every_steps",
                    "Also write one every n batches inside an epoch (training steps and refresh "
                    "batches); 0 = off.")
                    .in(at_least(0)));
    f.push_back(make<&R::checkpoint, &CheckpointSection::every_seconds>(
                    "checkpoint", "every_seconds",
                    "Also write one inside an epoch once this many seconds passed since the last; "
                    "0 = off.")
                    .in(at_least(0)));
    f.push_back(make<&R::checkpoint, &CheckpointSection::keep_last>(
                    "checkpoint", "keep_last",
                    "Keep the newest n checkpoints; older ones are deleted once a newer one is "
                    "committed.")
                    .in(at_least(1)));
    f.push_back(make<&R::checkpoint, &CheckpointSection::keep_best>(
        "checkpoint", "keep_best",
        "Also keep the epoch-end checkpoint with the best test accuracy."));
    // [slurm]
    f.push_back(make<&R::slurm, &SlurmSection::partition>(
        "slurm", "partition", "Partition (--partition); empty = the cluster's default."));
    f.push_back(make<&R::slurm, &SlurmSection::account>(
        "slurm", "account", "Account to charge (--account); empty = your default."));
    f.push_back(make<&R::slurm, &SlurmSection::qos>(
        "slurm", "qos", "Quality of service (--qos); empty = default."));
    f.push_back(make<&R::slurm, &SlurmSection::time>(
        "slurm", "time",
        "Time limit (--time): minutes, MM:SS, HH:MM:SS or D-HH[:MM[:SS]]; empty = the "
        "partition's."));
    f.push_back(make<&R::slurm, &SlurmSection::nodes>("slurm", "nodes", "Nodes (--nodes).")
                    .in(at_least(1)));
    f.push_back(make<&R::slurm, &SlurmSection::ntasks_per_node>(
                    "slurm", "ntasks_per_node",
                    "Ranks per node (--ntasks-per-node); ranks = nodes x ntasks_per_node, also "
                    "for the local backend.")
                    .in(at_least(1)));
    f.push_back(make<&R::slurm, &SlurmSection::cpus_per_task>(
                    "slurm", "cpus_per_task",
                    "CPUs per rank (--cpus-per-task); 0 = run.threads when set; with "
                    "run.threads = 0 as well, no --cpus-per-task: each rank uses its share of "
                    "the CPUs the job gets on its node (the job script says so).")
                    .in(at_least(0)));
    f.push_back(make<&R::slurm, &SlurmSection::gpus_per_node>(
                    "slurm", "gpus_per_node", "GPUs per node (--gpus-per-node); 0 = none.")
                    .in(at_least(0)));
    f.push_back(make<&R::slurm, &SlurmSection::memory>(
        "slurm", "memory", "Memory per node (--mem), e.g. 4G or 500M; empty = the default."));
    f.push_back(make<&R::slurm, &SlurmSection::constraint>(
        "slurm", "constraint", "Node features (--constraint), e.g. \"skylake&ib\"."));
    f.push_back(make<&R::slurm, &SlurmSection::extra>(
        "slurm", "extra",
        "More sbatch options, space-separated, e.g. \"--exclusive --reservation=maint\"; "
        "allowed: " +
            sbatch_options_text() + " (the others have their own [slurm] keys)."));
    f.push_back(make<&R::slurm, &SlurmSection::signal_grace_s>(
                    "slurm", "signal_grace_s",
                    "Ask for SIGUSR1 this many seconds before the time limit (--signal=B:USR1@s): "
                    "the ranks checkpoint and the job requeues itself; 0 = no warning.")
                    .in(at_least(0)));
    f.push_back(make<&R::slurm, &SlurmSection::max_requeues>(
                    "slurm", "max_requeues",
                    "Requeues after the warning signal or a preemption before the run stops "
                    "as interrupted.")
                    .in(at_least(0)));
    f.push_back(make<&R::slurm, &SlurmSection::setup>(
                    "slurm", "setup",
                    "Shell lines the job script runs before it starts the ranks, e.g. "
                    "[\"module load cuda/12.4\", \"source ~/venv/bin/activate\"]; run as "
                    "written (your own shell, not quoted), in the batch shell on the first node "
                    "(srun passes its environment on to the ranks).")
                    .note("one line each: no newline"));
    f.push_back(make<&R::slurm, &SlurmSection::array_parallel>(
                    "slurm", "array_parallel",
                    "A sweep's job array runs at most this many tasks at once (--array=0-N%P); "
                    "0 = as many as Slurm starts.")
                    .in(at_least(0)));
    // [launcher]
    f.push_back(make<&R::launcher, &LauncherSection::backend>(
                    "launcher", "backend",
                    "Where kakuren submit sends the run: slurm, local (detached on this "
                    "machine), or auto (slurm when a controller is configured and answers, "
                    "else local).")
                    .one_of({"auto", "slurm", "local"}));
    f.push_back(make<&R::launcher, &LauncherSection::collective_timeout_s>(
                    "launcher", "collective_timeout_s",
                    "Seconds a rank waits for the others (rendezvous, gradient exchange) before "
                    "the run fails with a clear message.")
                    .in(above(0)));
    f.push_back(make<&R::launcher, &LauncherSection::bucket_mb>(
                    "launcher", "bucket_mb",
                    "Multi-rank: gradient bucket size in MB. Each bucket is all-reduced as soon as "
                    "the backward pass has produced its gradients (last layers first, the first "
                    "bucket at most 1 MB, as PyTorch DDP), overlapping communication with the "
                    "rest of the backward pass; 0 = one all-reduce of every gradient once the "
                    "backward pass has ended (no overlap).")
                    .in(at_least(0)));
    return f;
}

} // namespace

bool Range::contains(double x) const {
    if (std::isnan(x)) {
        return false;
    }
    if (lo && (lo_inclusive ? x < *lo : x <= *lo)) {
        return false;
    }
    if (hi && (hi_inclusive ? x > *hi : x >= *hi)) {
        return false;
    }
    return true;
}

std::string Range::text(std::string_view name) const {
    std::string out;
    if (lo && hi) {
        out = render_bound(*lo) + (lo_inclusive ? " <= " : " < ") + std::string(name) +
              (hi_inclusive ? " <= " : " < ") + render_bound(*hi);
    } else if (lo) {
        out = std::string(name) + (lo_inclusive ? " >= " : " > ") + render_bound(*lo);
    } else if (hi) {
        out = std::string(name) + (hi_inclusive ? " <= " : " < ") + render_bound(*hi);
    }
    return out;
}

Range at_least(double lo) {
    return Range{lo, std::nullopt, true, true};
}
Range above(double lo) {
    return Range{lo, std::nullopt, false, true};
}
Range interval(double lo, bool lo_inclusive, double hi, bool hi_inclusive) {
    return Range{lo, hi, lo_inclusive, hi_inclusive};
}

const std::vector<Field>& schema() {
    static const std::vector<Field> fields = build_schema();
    return fields;
}

const Field* find_field(std::string_view key) {
    for (const auto& f : schema()) {
        if (f.key() == key) {
            return &f;
        }
    }
    return nullptr;
}

const std::vector<std::string>& section_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto& f : schema()) {
            if (std::find(out.begin(), out.end(), f.section) == out.end()) {
                out.push_back(f.section);
            }
        }
        return out;
    }();
    return names;
}

std::string type_name(const Field& field) {
    switch (field.kind) {
    case Kind::integer:
        return "integer";
    case Kind::floating:
        return "float";
    case Kind::boolean:
        return "boolean";
    case Kind::string:
    case Kind::enumeration:
        return "string";
    case Kind::int_list:
        return "list of integers";
    case Kind::float_list:
        return "list of floats";
    case Kind::string_list:
        return "list of strings";
    case Kind::optional_float:
        return "float (optional)";
    case Kind::key_or_index:
        return "string or integer";
    }
    return "?";
}

std::string constraint_text(const Field& field) {
    std::vector<std::string> parts;
    const bool list = field.kind == Kind::int_list || field.kind == Kind::float_list ||
                      field.kind == Kind::string_list;
    if (field.kind == Kind::enumeration) {
        std::string s = "one of ";
        for (std::size_t i = 0; i < field.allowed.size(); ++i) {
            s += (i ? ", " : "") + field.allowed[i];
        }
        parts.push_back(s);
    }
    if (!field.allowed_ints.empty()) {
        std::string s = "one of ";
        for (std::size_t i = 0; i < field.allowed_ints.size(); ++i) {
            s += (i ? ", " : "") + std::to_string(field.allowed_ints[i]);
        }
        parts.push_back(s);
    }
    if (field.exact_size) {
        parts.push_back(std::to_string(*field.exact_size) + " elements");
    } else if (list && field.min_size > 0) {
        parts.push_back("at least " + std::to_string(field.min_size) + " element" +
                        (field.min_size == 1 ? "" : "s"));
    } else if (field.kind == Kind::string && field.min_size > 0) {
        parts.emplace_back("non-empty");
    }
    if (field.kind == Kind::string && field.max_size) {
        parts.push_back("at most " + std::to_string(*field.max_size) + " characters");
    }
    if (field.range) {
        parts.push_back(field.range->text(list ? "each element" : field.name));
    }
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        out += (i ? ", " : "") + parts[i];
    }
    return out;
}

std::string render_float(double x) {
    if (std::isnan(x)) {
        return "nan";
    }
    if (std::isinf(x)) {
        return x < 0 ? "-inf" : "inf";
    }
    std::array<char, 64> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), x);
    std::string s(buf.data(), end);
    // to_chars writes "5e-04"; TOML reads that too, but "5e-4" is what people write.
    if (auto e = s.find('e'); e != std::string::npos) {
        std::string mantissa = s.substr(0, e);
        std::string exponent = s.substr(e + 1);
        std::string sign;
        if (!exponent.empty() && (exponent[0] == '-' || exponent[0] == '+')) {
            sign = exponent[0] == '-' ? "-" : "";
            exponent.erase(0, 1);
        }
        exponent.erase(0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
        return mantissa + "e" + sign + exponent;
    }
    if (s.find('.') == std::string::npos) {
        s += ".0";
    }
    return s;
}

std::string quote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                std::array<char, 8> buf{};
                std::snprintf(buf.data(), buf.size(), "\\u%04x", static_cast<unsigned char>(c));
                out += buf.data();
            } else {
                out += c;
            }
        }
    }
    out += '"';
    return out;
}

std::string render(const Value& value) {
    return std::visit(
        [](const auto& v) -> std::string {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
                return "unset";
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
                return std::to_string(v);
            } else if constexpr (std::is_same_v<T, double>) {
                return render_float(v);
            } else if constexpr (std::is_same_v<T, bool>) {
                return v ? "true" : "false";
            } else if constexpr (std::is_same_v<T, std::string>) {
                return quote(v);
            } else {
                std::string out = "[";
                for (std::size_t i = 0; i < v.size(); ++i) {
                    out += i ? ", " : "";
                    if constexpr (std::is_same_v<T, IntList>) {
                        out += std::to_string(v[i]);
                    } else if constexpr (std::is_same_v<T, StringList>) {
                        out += quote(v[i]);
                    } else {
                        out += render_float(v[i]);
                    }
                }
                return out + "]";
            }
        },
        value);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    const std::size_t n = a.size(), m = b.size();
    std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
    for (std::size_t i = 0; i <= n; ++i) {
        d[i][0] = i;
    }
    for (std::size_t j = 0; j <= m; ++j) {
        d[0][j] = j;
    }
    for (std::size_t i = 1; i <= n; ++i) {
        for (std::size_t j = 1; j <= m; ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[n][m];
}

std::optional<std::string> nearest(std::string_view name,
                                   const std::vector<std::string>& candidates) {
    std::optional<std::string> best;
    std::size_t best_distance = std::numeric_limits<std::size_t>::max();
    for (const auto& c : candidates) {
        const std::size_t d = edit_distance(name, c);
        if (d < best_distance) {
            best_distance = d;
            best = c;
        }
    }
    // A third of the name (at least 2 edits, 1 for short names) is a typo; more is another word.
    const std::size_t limit = name.size() <= 3 ? 1 : std::max<std::size_t>(2, name.size() / 3);
    if (best && best_distance <= limit) {
        return best;
    }
    // "warmup" for "warmup_epochs", "decay" for "fraction_decay": a clear part of one key.
    if (name.size() >= 4) {
        std::optional<std::string> only;
        for (const auto& c : candidates) {
            if (c.find(name) != std::string::npos) {
                if (only) {
                    return std::nullopt;
                }
                only = c;
            }
        }
        return only;
    }
    return std::nullopt;
}

} // namespace kakuren::recipes::detail

#pragma once
// Recipe structs, TOML loading and validation. Every error names file:line:col.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hiding/registry.hpp"
#include "util/error.hpp"

namespace kakuren::recipes {

/// Limits on what a recipe may ask for (docs/recipes.md).
inline constexpr std::int64_t k_max_recipe_bytes = 1 << 20; ///< a recipe file: 1 MiB
inline constexpr int k_max_threads = 1024;                  ///< run.threads
/// run.name: the run id adds 21 characters and must fit one folder name (255 bytes).
inline constexpr std::size_t k_max_run_name_chars = 200;

struct RunSection {
    std::string name = "run";
    std::int64_t seed = 1;                 ///< > 0
    int threads = 0;                       ///< intra-op threads; 0 = the allocation's CPUs
    std::string device = "auto";           ///< auto | cpu | cuda | cuda:N
    std::string precision = "fp32";        ///< fp32 | bf16 | fp16
    std::string memory_format = "auto";    ///< auto | contiguous | channels_last
    bool deterministic = false;            ///< deterministic algorithms only
    std::optional<double> target_accuracy; ///< stop once test accuracy >= this (0 < x <= 1)
    std::string notes;
    bool stop_on_nan = true;  ///< end the run (failed, exit 4) at a non-finite training loss
    double stop_grace_s = 10; ///< after a stop request: seconds the step may take to end
};

struct DataSection {
    std::string dataset = "fashion-mnist"; ///< a name in dataset_kinds() (recipes/kinds.hpp)
    std::string path;                      ///< folder with the four IDX files (fashion-mnist, idx)
    std::string train_images, train_labels, test_images, test_labels; ///< idx: explicit files
    std::int64_t train_limit = 0;    ///< use only the first n training samples (0 = all)
    std::int64_t test_limit = 0;     ///< use only the first n test samples (0 = all)
    int batch_size = 128;            ///< training mini-batch (global)
    int eval_batch_size = 256;       ///< evaluation and forward-only passes
    int accumulation_steps = 1;      ///< micro-batches per optimizer step
    bool normalize = true;           ///< subtract mean / divide by std
    std::optional<double> mean, std; ///< normalisation constants; unset = computed from train
    // synthetic
    std::int64_t synthetic_train = 4096, synthetic_test = 1024;
    int synthetic_classes = 10, synthetic_channels = 1, synthetic_size = 28;
    double synthetic_noise = 1.0;
    std::string synthetic_kind = "blobs";         ///< blobs | cosmoflow | deepcam
    std::string synthetic_difficulty = "uniform"; ///< deepcam: uniform | spread
    std::int64_t synthetic_seed = 20231010;       ///< the generators' seed, > 0
    std::string stage = "none"; ///< none | node-local: copy the data files to node-local storage
    // npy / hdf5 (streamed from disk)
    std::string train, test; ///< each split's folder or file; absolute after loading
    std::string data_key = "data", target_key = "targets"; ///< hdf5: dataset names
    /// npy: the targets file of a split given as an array file; hdf5: the targets dataset
    /// ("FILE:/DATASET") of a split given as one; absolute after loading ("" = none)
    std::string train_targets, test_targets;
    std::string layout = "nchw";    ///< npy / hdf5: channel order on disk, nchw | nhwc
    std::string transform = "none"; ///< none | log1p, after the cast to float
    int reader_threads = 2;         ///< threads reading batches ahead of the step
    int prefetch_batches = 4;       ///< batches they may read ahead
    // images
    std::vector<int> image_size; ///< [height, width] to resize to; [] = the first image's size
    int image_channels = 0;      ///< 0 = the first image's, 1 = grey, 3 = RGB
    int random_crop = 0;         ///< training: pad every side, crop back at random; 0 = off
    bool hflip = false;          ///< training: left-right flip with probability 0.5
};

struct ModelSection {
    std::string kind = "cnn";             ///< a name in model_kinds() (recipes/kinds.hpp)
    std::string path;                     ///< torchscript: the module file (absolute after load)
    std::vector<int> inputs;              ///< torchscript: expected input shape; [] = any
    std::vector<int> hidden = {256, 128}; ///< mlp hidden widths
    std::vector<int> channels = {16, 32}; ///< cnn conv channels
    int fc = 64;                          ///< cnn hidden fc width
    int width = 64;                       ///< resnet18 / resnet50 / cosmoflow / deepcam width
    int depth = 0;                        ///< cosmoflow / deepcam blocks; 0 = reference
    double dropout = 0.5;                 ///< cosmoflow dense-layer dropout
    /// torchscript, forward returning a dict / a tuple or list: model.output = "key" (output_key)
    /// or = index (output_index) picks the tensor trained on; "" and -1 = unset.
    std::string output_key;
    std::int64_t output_index = -1;
};

struct OptimizerSection {
    std::string kind = "sgd"; ///< sgd | adam | adamw
    double lr = 0.05, momentum = 0.9, weight_decay = 5e-4;
    bool nesterov = false;
    std::vector<double> betas = {0.9, 0.999}; ///< adam, adamw
    double eps = 1e-8;                        ///< adam, adamw
};

struct ScheduleSection {
    int epochs = 15;
    int warmup_epochs = 1;
    std::int64_t warmup_steps = 0; ///< > 0: warm-up in optimizer steps instead of epochs
    double warmup_factor = 1.0;    ///< warm-up from lr to warmup_factor x lr (when > 1)
    std::string kind = "step";     ///< a name in schedule_kinds() (recipes/kinds.hpp)
    std::vector<int> milestones = {10, 13};
    double gamma = 0.1;
    std::vector<double> decay_factors; ///< LR factor after each milestone; [] = gamma^k
};

/// [task]: what is learned (recipes/kinds.hpp task_kinds()).
struct TaskSection {
    std::string kind = "classification";
    std::vector<double> class_weights; ///< segmentation loss weights per class; [] = all 1
    double iou_threshold = 0.8;        ///< segmentation: correct at IoU >= this
    double tolerance = 0.1;            ///< regression: correct at MAE <= this
    std::optional<double> target;      ///< stop at metric >= target (MAE: <= target)
};

struct HidingSection {
    std::string strategy = "kakurenbo"; ///< a name in hiding::strategies()
    double fraction = 0.3;
    double tau = 0.7;
    std::vector<double> fraction_decay = {1.0, 0.8, 0.6, 0.4};
    std::string lr_compensation = "scheduled"; ///< scheduled | realised | off
    std::string confidence = "class";          ///< class | batch
    std::string hidden_pass = "eval";          ///< eval | train
    int refresh_every = 1;
    /// Every strategy's own parameters, whatever the strategy (recipe keys hiding.<key>; see
    /// hiding/registry.hpp): each registered key is present, at its default unless set.
    hiding::Params params = hiding::default_params();
};

/// [checkpoint]: when checkpoints are written and which are kept (see
/// docs/checkpoints.md).
struct CheckpointSection {
    int every_epochs = 1;         ///< at the end of every k-th epoch and of the last; 0 = last only
    std::int64_t every_steps = 0; ///< also every n batches inside an epoch; 0 = off
    double every_seconds = 0;     ///< also after this many seconds; 0 = off
    int keep_last = 2;            ///< newest checkpoints kept
    bool keep_best = true;        ///< also keep the epoch-end checkpoint with the best accuracy
};

/// [slurm]: the allocation `kakuren submit` asks for (docs/slurm.md). Every string that reaches
/// the batch script is checked against a safe character set here and quoted there.
struct SlurmSection {
    std::string partition, account, qos; ///< empty = the cluster's default
    std::string time = "";               ///< [D-]HH:MM[:SS] or minutes; empty = partition default
    int nodes = 1;
    int ntasks_per_node = 1; ///< ranks per node; world size = nodes x ntasks_per_node
    int cpus_per_task = 0;   ///< 0 = run.threads if set, else none (ranks share the node's)
    int gpus_per_node = 0;
    std::string memory;     ///< per node, e.g. "4G", "500M"; empty = default
    std::string constraint; ///< node features, e.g. "skylake&ib"
    std::string extra; ///< more sbatch options, "--exclusive --reservation=x" (sbatch_options())
    int signal_grace_s = 120; ///< warning signal this long before the time limit; 0 = none
    int max_requeues = 3;     ///< requeues after the warning signal or a preemption
    /// Shell lines the job script runs before the launch ("module load ...", "source
    /// venv/bin/activate"): trusted like the user's own shell, written as they are.
    std::vector<std::string> setup;
    int array_parallel = 0; ///< a sweep's array: at most this many tasks at once (%N); 0 = all
};

/// [launcher]: where a submitted run goes and how its ranks talk.
struct LauncherSection {
    std::string backend = "auto";      ///< auto | slurm | local
    double collective_timeout_s = 300; ///< a rank waiting longer for the others fails the run
    double bucket_mb = 25;             ///< gradient all-reduce bucket size (MB)
};

/// Where a resolved value came from: "recipes/x.toml:12:9", "--set", or "default".
using Origins = std::map<std::string, std::string>;

struct Recipe {
    std::filesystem::path file; ///< as given
    std::string text;           ///< the file's text, exactly
    RunSection run;
    DataSection data;
    ModelSection model;
    OptimizerSection optimizer;
    ScheduleSection schedule;
    TaskSection task;
    HidingSection hiding;
    CheckpointSection checkpoint;
    SlurmSection slurm;
    LauncherSection launcher;
    Origins origins; ///< dotted key -> origin, for every known key
};

/// Every located problem in a recipe; what() joins them one per line.
class RecipeError : public UsageError {
  public:
    explicit RecipeError(std::vector<std::string> messages);
    const std::vector<std::string>& messages() const { return m_messages; }

  private:
    std::vector<std::string> m_messages;
};

/// Loads, applies overrides ("section.key=value", value parsed as TOML, else taken as a
/// string), and validates. Throws RecipeError listing every problem
/// ("file:line:col: error: ..."), or RecipeError for an unreadable file.
Recipe load(const std::filesystem::path& file, const std::vector<std::string>& overrides = {});

/// Same, from text (file is used only in messages).
Recipe parse(const std::string& text, const std::filesystem::path& file,
             const std::vector<std::string>& overrides = {});

/// One line per known key: "section.key = value  # origin", in schema order.
std::string show(const Recipe& recipe);

/// The resolved recipe as canonical TOML text (all keys, resolved values).
std::string to_toml(const Recipe& recipe);

/// Minutes of a Slurm time limit ("90", "1:30:00", "2-00:00:00", "45:00" = 45 min); nullopt
/// when the text is not one of those forms. Empty text = 0 (the partition default).
std::optional<int> time_limit_minutes(const std::string& text);

/// Every valid dotted key, in schema order (for help and suggestions).
std::vector<std::string> known_keys();

/// The recipe reference as a Markdown table (key, type, default, allowed, description), one row
/// per known key in schema order; docs/recipes.md's reference is this text.
std::string reference_markdown();

} // namespace kakuren::recipes

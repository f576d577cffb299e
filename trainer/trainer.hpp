#pragma once
// The training loop: data, model, SGD with schedule, per-sample statistics, the hiding policy's
// plan each epoch, a forward-only refresh of hidden samples, evaluation each epoch.
// No torch in this header: other modules include it.
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/state.hpp"
#include "hiding/policy.hpp"
#include "util/mllog.hpp"
#include "util/sample_stats.hpp"

namespace kakuren::trainer {

struct DataConfig {
    std::string dataset =
        "fashion-mnist"; ///< fashion-mnist | idx | synthetic | npy | hdf5 | images
    std::string train_images, train_labels, test_images, test_labels; ///< IDX files, gz or raw
    /// npy / hdf5: each split's folder or file (absolute), the HDF5 dataset names, the transform
    /// after the cast to float (none | log1p), and the streaming loader: reader threads and the
    /// batches they may read ahead of the step.
    std::string train_path, test_path;
    std::string data_key = "data", target_key = "targets";
    /// npy: each split's targets file when the split is an array file; hdf5: its targets
    /// dataset ("FILE:/DATASET") when the split is one ("" = a folder or whole-file split).
    std::string train_targets_path, test_targets_path;
    /// npy / hdf5: the arrays' channel order on disk: nchw, or nhwc ([N, H, W, C], transposed
    /// to [C, H, W] as samples are read).
    std::string layout = "nchw";
    std::string transform = "none";
    int reader_threads = 2, prefetch_batches = 4;
    /// images: every image resized to [height, width] ({} = the first image's size, which all
    /// must have) and converted to image_channels (0 = the first image's, 1 grey, 3 RGB).
    std::vector<std::int64_t> image_size;
    int image_channels = 0;
    /// images, training pass only: pad-and-crop by random_crop pixels (0 = off) and a
    /// left-right flip with probability 0.5, drawn from (augment_seed, epoch, sample id).
    int random_crop = 0;
    bool hflip = false;
    std::uint64_t augment_seed = 1;               ///< the run's seed (run.seed)
    std::int64_t train_limit = 0, test_limit = 0; ///< 0 = all
    int batch_size = 128, eval_batch_size = 256;
    /// Micro-batches per optimizer step (data.accumulation_steps): each rank's share of a step
    /// (batch_size / world samples) is split into this many micro-batches of at most
    /// ceil(share / accumulation_steps), whose gradients add up before the one all-reduce and
    /// optimizer step. Steps, schedule, statistics and hiding plans are those of batch_size.
    int accumulation_steps = 1;
    bool normalize = true;
    std::optional<double> mean, std;
    std::int64_t synthetic_train = 4096, synthetic_test = 1024;
    int synthetic_classes = 10, synthetic_channels = 1, synthetic_size = 28;
    double synthetic_noise = 1.0;
    /// synthetic: blobs (classification) | cosmoflow (4 x S^3 counts, 4 regression targets) |
    /// deepcam (16 x S x S climate-like fields, per-pixel classes 0/1/2); S = synthetic_size.
    std::string synthetic_kind = "blobs";
    /// deepcam: uniform (every sample alike) | spread (a per-sample difficulty:
    /// trainer/standins.hpp)
    std::string synthetic_difficulty = "uniform";
    /// The synthetic generators' seed (data.synthetic_seed; `kakuren data synth --seed`'s default).
    std::uint64_t synthetic_seed = 20231010;
};

struct ModelConfig {
    std::string kind = "cnn"; ///< recipes/kinds.hpp: mlp | cnn | resnet18 | ... | torchscript
    std::string path;         ///< torchscript: the module file (absolute)
    std::vector<std::int64_t> inputs; ///< torchscript: the input shape it expects; empty = any
    /// torchscript, forward returning a dict / a tuple or list: the entry trained on
    /// (model.output = "key" / = index; trainer/script_output.hpp); "" and -1 = unset.
    std::string output_key;
    std::int64_t output_index = -1;
    std::vector<int> hidden = {256, 128};
    std::vector<int> channels = {16, 32};
    int fc = 64;
    int width = 64;
    int depth = 0;        ///< cosmoflow: conv blocks; deepcam: encoder stages; 0 = reference
    double dropout = 0.5; ///< cosmoflow: dropout of the dense layers
};

struct OptimConfig {
    std::string kind = "sgd"; ///< sgd | adam | adamw
    double lr = 0.05, momentum = 0.9, weight_decay = 5e-4;
    bool nesterov = false;
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8; ///< adam, adamw
};

struct ScheduleConfig {
    int epochs = 15, warmup_epochs = 1;
    /// Warm-up in optimizer steps instead of epochs (> 0 replaces warmup_epochs for the LR; the
    /// hiding policy's warm-up stays in epochs).
    std::int64_t warmup_steps = 0;
    /// > 1: warm-up rises linearly from the base LR to warmup_factor x base LR, which the decay
    /// then starts from (DeepCAM's and CosmoFlow's warm-up); 1: from base / steps to base.
    double warmup_factor = 1.0;
    std::string kind = "step"; ///< step | multistep (the same) | cosine
    std::vector<int> milestones = {10, 13};
    double gamma = 0.1;
    /// step | multistep: the LR factor after each milestone, relative to the (warmed-up) base
    /// LR, not compounding (CosmoFlow: 0.25 at 32, then 0.125 at 64); one per milestone.
    /// [] = gamma^(milestones passed).
    std::vector<double> decay_factors;
};

/// What is learned (trainer/task.hpp): classification | segmentation | regression.
struct TaskConfig {
    std::string kind = "classification";
    std::vector<double> class_weights; ///< segmentation: per-class loss weights; [] = all 1
    double iou_threshold = 0.8;        ///< segmentation: a sample is "correct" at IoU >= this
    double tolerance = 0.1;            ///< regression: a sample is "correct" at MAE <= this
};

/// How the trainer measures what the hiding policy reads.
struct StatsConfig {
    bool confidence_over_batch = false;  ///< reference quirk: softmax over dim 0
    bool hidden_pass_train_mode = false; ///< reference quirk: refresh in train mode
};

/// This process's place in a data-parallel run (from the launcher: SLURM_* or the local backend).
/// With world > 1 every rank trains on its share of each global batch (data.batch_size / world
/// samples), gradients and per-sample statistics are summed over the ranks every step, and all
/// ranks hold identical weights, statistics and plans throughout.
struct DistConfig {
    int rank = 0, world = 1, local_rank = 0;
    std::string master_addr = "127.0.0.1"; ///< rank 0's host: TCPStore server
    int master_port = 29500;
    double timeout_s = 300; ///< rendezvous and collective timeout
    /// Gradient bucket size in MB (launcher.bucket_mb): each bucket is all-reduced as soon as
    /// the backward pass has produced all of its gradients; the first (the last layers) is at
    /// most 1 MB, as in PyTorch DDP. 0 = one bucket, all-reduced when the backward pass ends.
    double bucket_mb = 25;
    int num_nodes = 1, accelerators_per_node = 0; ///< for the MLPerf log
};

/// Where and how the trainer computes ([run] device, precision, memory_format, deterministic).
struct DeviceConfig {
    std::string device = "auto";        ///< auto | cpu | cuda | cuda:N
    std::string precision = "fp32";     ///< fp32 | bf16 | fp16 (autocast; fp16 scales the loss)
    std::string memory_format = "auto"; ///< auto | contiguous | channels_last (4-D batches)
    bool deterministic = false;         ///< deterministic algorithms (cuDNN, cuBLAS, scatter)
};

struct Config {
    DataConfig data;
    ModelConfig model;
    OptimConfig optim;
    ScheduleConfig schedule;
    TaskConfig task;
    hiding::Config hiding; ///< hiding.seed 0 = use seed
    StatsConfig stats;
    std::uint64_t seed = 1;
    int threads = 1; ///< intra-op threads; <= 0 = util::available_cpus()
    DeviceConfig device;
    /// Stop once the task's metric reaches this: accuracy or IoU >= target, MAE <= target.
    std::optional<double> target_accuracy;
    std::string benchmark_name = "kakuren"; ///< MLPerf submission_benchmark
    /// A training step whose loss (the batch's sum) is not finite ends the run there: train()
    /// returns with Summary::diverged set, without a checkpoint of that step. false: train on.
    bool stop_on_nan = true;
    /// After a stop request: seconds the step in progress may take to reach its boundary before
    /// the process's watchdog (cli/session.cpp) abandons it (run.stop_grace_s). Not used here.
    double stop_grace_s = 10;
    /// When to hand checkpoints to Observer::on_checkpoint (epoch ends, mid-epoch intervals, and
    /// always when the stop flag ends the run); nullopt = never.
    std::optional<kakuren::checkpoint::Config> checkpoint;
    DistConfig dist; ///< world 1 (the default): one process, no process group
    /// Data staging ([data] stage = "node-local"): called in the init phase before the data is
    /// loaded, between the MLPerf records staging_start and staging_stop; it may point the data
    /// files elsewhere (the node-local copies) and returns the bytes staged. Empty = no staging.
    std::function<std::int64_t(DataConfig&)> stage;
};

/// Progress inside an epoch (called at most every few hundred ms).
struct StepProgress {
    int epoch = 0, num_epochs = 0;        ///< 1-based epoch
    std::int64_t step = 0, num_steps = 0; ///< batches of the phase (SGD steps in "train")
    std::string phase;                    ///< "train" | "refresh" | "eval"
    double samples_per_s = 0;             ///< the phase's average so far (samples / phase seconds)
    double hidden_fraction = 0;           ///< realised, this epoch
    double elapsed_s = 0;                 ///< since run start
    std::int64_t samples = 0;             ///< samples of the phase done so far (all ranks)
    /// The epoch's mean training loss so far (after the train phase: the whole epoch's);
    /// has_loss = false before its first step.
    double loss_mean = 0;
    bool has_loss = false;
};

struct EpochResult {
    int epoch = 0; ///< 1-based
    /// train_accuracy: the fraction of trained samples the task counts "correct"; test_accuracy:
    /// the task's metric on the test set (accuracy, IoU or MAE: metric_name).
    double train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0;
    std::string_view metric_name = "accuracy"; ///< the task's metric: accuracy | IoU | MAE
    double lr = 0; ///< scheduled LR of the epoch's last step (the optimizer used lr x lr_scale)
    double lr_scale = 1, max_fraction = 0;
    std::int64_t visible = 0, hidden = 0, moved_back = 0, candidates = 0, refreshed = 0;
    double train_s = 0, hidden_pass_s = 0, eval_s = 0, total_s = 0;
    /// Seconds this rank waited on collectives in the epoch (gradients, statistics, evaluation
    /// sums, stop flags) that were not hidden behind computation; 0 with one rank.
    double comm_s = 0;
    double samples_per_s = 0; ///< trained samples / train_s
    /// Bytes all ranks together read from the training split's files in the epoch (the trained
    /// and refreshed samples, each rank its shard; after a resume, since the resume); nullopt
    /// for a data set held in memory.
    std::optional<std::int64_t> bytes_read;
    std::span<const std::int64_t> hidden_ids; ///< ascending
    /// Per-sample statistics after the epoch (length N); valid during on_epoch only.
    util::SampleStatsView stats;
};

struct Summary {
    int epochs_done = 0;
    /// The task's metric (metric_name); best = the highest, or the lowest for MAE.
    double final_accuracy = 0, best_accuracy = 0;
    std::string_view metric_name = "accuracy";
    bool lower_is_better = false; ///< MAE
    bool target_reached = false;
    bool interrupted = false;
    /// Set when config.stop_on_nan ended the run at a non-finite training loss: what happened
    /// and where ("the training loss is nan at epoch 2, step 5 of 8"). Empty otherwise.
    std::string diverged;
    std::int64_t num_train_samples = 0, num_test_samples = 0;
    /// 64-bit hash of the model's parameters and buffers where train() returned (also when
    /// interrupted). Equal on every rank of a multi-rank run (train() checks that).
    std::uint64_t model_digest = 0;
};

/// With world > 1, every rank gets on_start, on_progress and on_epoch (an epoch's statistics and
/// hidden set are the same on every rank); only rank 0 gets on_checkpoint.
class Observer {
  public:
    virtual ~Observer() = default;
    virtual void on_start(std::int64_t /*num_train*/, std::int64_t /*num_test*/) {}
    virtual void on_progress(const StepProgress&) {}
    virtual void on_epoch(const EpochResult&) {}
    /// A checkpoint of the run as it stands (see Config::checkpoint); the snapshot's spans are
    /// valid during the call. An exception thrown here ends train() with it.
    virtual void on_checkpoint(const checkpoint::Snapshot&) {}
    /// The loop reached a step boundary after a stop request and is stopping (a checkpoint of
    /// that point may follow).
    virtual void on_stopping() {}
};

/// Trains per config. mllog receives the records of docs/reports.md "MLPerf log" (from cache_clear
/// to run_stop). Checks *stop at step boundaries and returns early with interrupted = true, after
/// handing a checkpoint of that point to the observer when config.checkpoint is set.
/// With resume: continues from that checkpoint exactly as the run would have gone on (same
/// weights, statistics and plans, bit for bit with the same thread count): the MLPerf log gets a
/// `resume` record instead of the init records and run_start, and must already be cut back to
/// resume->loop.mllog_bytes. Throws RuntimeFailure when the checkpoint does not fit the config
/// (another data set or model, a plan that the batch size no longer divides the same way).
/// Throws RuntimeFailure (data files, shapes) with a message naming the cause, UsageError for
/// settings the recipe layer should have refused.
/// With config.dist.world > 1: every rank of the run calls train() with the same config (and the
/// same resume, a checkpoint written by a run of the same world size); they meet at
/// dist.master_addr:master_port. A stop flag set on any rank stops all of them at the same step;
/// rank 0 alone writes mllog and receives checkpoints. A rank that dies or is cut off makes the
/// others throw RuntimeFailure ("rank R of W: communication with the other ranks failed ...")
/// within dist.timeout_s.
/// Process-wide effects: sets LibTorch's thread count, and fixes glibc malloc's mmap/trim
/// thresholds once (32 MiB / 1 GiB) so that each step's activations reuse heap memory.
Summary train(const Config& config, Observer& observer, util::MlLog& mllog,
              const std::atomic<bool>* stop = nullptr, const checkpoint::Resume* resume = nullptr);

/// `kakuren data synth`: the CosmoFlow or DeepCAM stand-in (trainer/standins.hpp) written in the
/// reference layouts under out/train and out/validation (split ids 1 and 2, the in-memory set's:
/// with the default seed the files hold exactly the samples data.synthetic_kind generates).
struct SynthConfig {
    std::string kind;                       ///< cosmoflow | deepcam
    std::int64_t train = 0, validation = 0; ///< samples per split
    std::int64_t size = 16;                 ///< cosmoflow: cube side
    std::int64_t height = 32, width = 32;   ///< deepcam
    std::uint64_t seed = 20231010;          ///< the in-memory stand-ins' seed
    std::string out;                        ///< output folder (created)
    std::string difficulty = "uniform";     ///< deepcam: uniform | spread
};
/// The most samples per split that `kakuren data synth` writes (CosmoFlow's full training set has
/// 524,288): a larger count is a typo, refused before anything is written.
inline constexpr std::int64_t k_max_synth_samples = 100'000'000;
struct SynthResult {
    std::int64_t files = 0, bytes = 0;
    double seconds = 0; ///< generation and writing
};

/// Writes config's stand-in: cosmoflow: <split>/data_<i>.npy (int16 [4, S, S, S] counts),
/// <split>/label_<i>.npy (float32 [4]) and files_data.lst / files_label.lst (NVIDIA's numpy
/// layout); deepcam: <split>/data_<i>.h5 with climate/data (float32 H x W x 16, channels last)
/// and climate/labels_0 (uint8 H x W, classes 0/1/2), plus out/stats.h5 with climate/minval,
/// maxval, mean, std (float32 [16], from the training split). CosmoFlow samples are generated
/// and written one at a time (memory: one sample), DeepCAM's validation split too (its training
/// split is kept for stats.h5). Checks everything first, free disk space included, so that a
/// refusal writes nothing. Throws UsageError for bad sizes or counts (1 to k_max_synth_samples
/// per split) or a difficulty other than uniform / spread (spread: deepcam only), RuntimeFailure
/// when the output would not fit or naming a file that cannot be written.
SynthResult write_standin(const SynthConfig& config);

/// What train() checks before its first step, alone: opens the data (for its shapes) and builds
/// the model, running its dry forward (for a TorchScript module: that the file loads, can be
/// trained, and returns the task's output shape). Throws UsageError / RuntimeFailure as train().
void check_model(const Config& config);

} // namespace kakuren::trainer

// train(): the epoch loop around the hiding policy's plan.
//
// With world > 1 (data parallel, one process per rank): the per-sample state covers all N samples
// on every rank and the plan is computed identically everywhere. Each phase goes through its id
// list (plan.train_ids, plan.refresh_ids, all ids) in global batches of W x b entries, where rank
// r takes entries r, r + W, ... (its strided shard) in local batches of b. After each batch one
// all-reduce of one flat float32 bucket carries everything the ranks must agree on:
//   [gradients (training) | loss, confidence, correct of the global batch by slot | the model's
//    buffers | samples, ranks that ran, stop flag]
// Slot r + W t holds rank r's t-th sample of the batch and every other rank adds zeros, so the sum
// copies each statistic exactly; every rank then stores the whole batch's statistics, and the
// state stays identical bit for bit at every step boundary (checkpoints need no extra exchange).
// The summed gradients are divided by the global sample count (the mean over the global batch,
// as one process computes it up to the summation order). The stop flag rides in the same bucket,
// so all ranks stop at the same step boundary: the one after the step where any rank saw it.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "trainer/data.hpp"
#include "trainer/dist.hpp"
#include "trainer/models.hpp"
#include "trainer/schedule.hpp"
#include "trainer/trainer.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
#include "util/log.hpp"
#include "util/mllog.hpp"
#include "util/system.hpp"

namespace kakuren::trainer {
namespace {

using Clock = std::chrono::steady_clock;
using util::Json;
using util::JsonArray;
using util::JsonObject;

constexpr double k_progress_interval_s = 0.25;

double seconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

/// This process's place among the ranks of one run.
struct Rank {
    int rank = 0;
    int world = 1;
    [[nodiscard]] bool writes_log() const { return rank == 0; }
    [[nodiscard]] bool saves_checkpoints() const { return rank == 0; }
};

/// Entries per rank of a list of n split into strided shards: the most any rank has (rank 0's).
std::int64_t max_shard_size(std::size_t n, int world) {
    return static_cast<std::int64_t>((n + static_cast<std::size_t>(world) - 1) /
                                     static_cast<std::size_t>(world));
}

/// 64-bit FNV-1a over 8-byte words of the model's parameters and buffers.
std::uint64_t model_digest(const torch::nn::Module& model) {
    std::uint64_t hash = 1469598103934665603ULL;
    const auto add = [&hash](const torch::Tensor& t) {
        const torch::Tensor c = t.contiguous();
        const auto* bytes = static_cast<const unsigned char*>(c.data_ptr());
        const std::size_t size = c.numel() * c.element_size();
        std::size_t i = 0;
        for (; i + 8 <= size; i += 8) {
            std::uint64_t word = 0;
            std::memcpy(&word, bytes + i, 8);
            hash = (hash ^ word) * 1099511628211ULL;
        }
        for (; i < size; ++i) {
            hash = (hash ^ bytes[i]) * 1099511628211ULL;
        }
    };
    for (const auto& p : model.parameters()) {
        add(p);
    }
    for (const auto& b : model.buffers()) {
        add(b);
    }
    return hash;
}

/// The rank's share of ids: entries rank, rank + world, ... (no padding, so no sample is seen
/// twice). With one rank it is the whole list, not copied.
class Shard {
  public:
    Shard(std::span<const std::int64_t> ids, const Rank& rank) {
        if (rank.world == 1) {
            m_ids = ids;
            return;
        }
        for (auto i = static_cast<std::size_t>(rank.rank); i < ids.size();
             i += static_cast<std::size_t>(rank.world)) {
            m_owned.push_back(ids[i]);
        }
        m_ids = m_owned;
    }
    [[nodiscard]] std::span<const std::int64_t> ids() const { return m_ids; }

  private:
    std::vector<std::int64_t> m_owned;
    std::span<const std::int64_t> m_ids;
};

/// A tensor viewing a vector's memory (no copy; the vector must outlive it and not grow).
torch::Tensor view_of(std::span<const std::int64_t> ids) {
    return torch::from_blob(const_cast<std::int64_t*>(ids.data()),
                            {static_cast<std::int64_t>(ids.size())}, torch::kInt64);
}
torch::Tensor view_of(std::span<const float> values) {
    return torch::from_blob(const_cast<float*>(values.data()),
                            {static_cast<std::int64_t>(values.size())}, torch::kFloat32);
}

/// Per-sample statistics over all N training samples, read by the hiding policy.
struct SampleState {
    torch::Tensor loss, correct, confidence;

    explicit SampleState(std::int64_t n)
        : loss(torch::ones({n}, torch::kFloat32)), correct(torch::zeros({n}, torch::kUInt8)),
          confidence(torch::zeros({n}, torch::kFloat32)) {}

    [[nodiscard]] std::span<const float> loss_span() const {
        return {loss.data_ptr<float>(), static_cast<std::size_t>(loss.numel())};
    }
    [[nodiscard]] std::span<const std::uint8_t> correct_span() const {
        return {correct.data_ptr<std::uint8_t>(), static_cast<std::size_t>(correct.numel())};
    }
    [[nodiscard]] std::span<const float> confidence_span() const {
        return {confidence.data_ptr<float>(), static_cast<std::size_t>(confidence.numel())};
    }
    [[nodiscard]] hiding::SampleStatsView view() const {
        return {loss_span(), correct_span(), confidence_span()};
    }

    /// One batch's correct mask (bool) and confidence, not stored.
    static std::pair<torch::Tensor, torch::Tensor> measure(const torch::Tensor& logits,
                                                           const torch::Tensor& log_probs,
                                                           const torch::Tensor& labels,
                                                           bool confidence_over_batch) {
        auto [max_log_prob, predicted] = log_probs.max(1);
        torch::Tensor is_correct = predicted.eq(labels);
        // max softmax = exp(max log softmax); the reference quirk normalises over the batch.
        torch::Tensor conf =
            confidence_over_batch ? torch::softmax(logits, 0).amax(1) : max_log_prob.exp_();
        return {std::move(is_correct), std::move(conf)};
    }

    /// Stores one batch's statistics (vectorised; no tensor may need grad). Returns the batch's
    /// correct mask (bool).
    torch::Tensor record(const torch::Tensor& ids, const torch::Tensor& losses,
                         const torch::Tensor& logits, const torch::Tensor& log_probs,
                         const torch::Tensor& labels, bool confidence_over_batch) {
        auto [is_correct, conf] = measure(logits, log_probs, labels, confidence_over_batch);
        loss.index_copy_(0, ids, losses);
        correct.index_copy_(0, ids, is_correct.to(torch::kUInt8));
        confidence.index_copy_(0, ids, conf);
        return is_correct;
    }

    /// Stores the statistics of a global batch gathered from all ranks: entry k belongs to
    /// ids[k]. In order, so a sample listed twice (draws with replacement) keeps its last entry,
    /// on every rank alike.
    void store(std::span<const std::int64_t> ids, const float* losses, const float* confidences,
               const float* corrects) {
        float* l = loss.data_ptr<float>();
        float* c = confidence.data_ptr<float>();
        std::uint8_t* k = correct.data_ptr<std::uint8_t>();
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const auto id = static_cast<std::size_t>(ids[i]);
            l[id] = losses[i];
            c[id] = confidences[i];
            k[id] = corrects[i] > 0.5F ? 1 : 0;
        }
    }
};

/// The flat float32 buffer that one all-reduce per step of a multi-rank phase sums (see the top
/// of this file). Allocated once per phase kind; its sections are views.
struct StepBucket {
    static constexpr std::int64_t k_chunk_floats = 25 * 1024 * 1024 / 4; // ~25 MB per all-reduce

    torch::Tensor flat;
    std::vector<torch::Tensor> chunks;              // views of flat, all-reduced together
    torch::Tensor grads, loss, confidence, correct; // sections of flat
    torch::Tensor buffers;                          // the model's buffers, flattened
    torch::Tensor slots;                            // int64 [b]: r + W t
    std::int64_t slots_per_batch = 0;               // G = W b
    float* meta = nullptr;                          // samples, ranks that ran, stop

    StepBucket() = default;
    StepBucket(std::int64_t num_grads, std::int64_t local_batch, std::int64_t num_buffers,
               const Rank& rank)
        : slots_per_batch(local_batch * rank.world) {
        const std::int64_t g = slots_per_batch;
        const std::int64_t total = num_grads + 3 * g + num_buffers + 3;
        flat = torch::zeros({total}, torch::kFloat32);
        std::int64_t at = 0;
        const auto take = [&](std::int64_t n) {
            torch::Tensor v = flat.narrow(0, at, n);
            at += n;
            return v;
        };
        grads = take(num_grads);
        loss = take(g);
        confidence = take(g);
        correct = take(g);
        buffers = take(num_buffers);
        meta = flat.data_ptr<float>() + at;
        for (std::int64_t off = 0; off < total; off += k_chunk_floats) {
            chunks.push_back(flat.narrow(0, off, std::min(k_chunk_floats, total - off)));
        }
        slots = torch::arange(local_batch, torch::kInt64).mul_(rank.world).add_(rank.rank);
    }

    /// Puts this rank's len samples of the batch into their slots.
    void put_stats(std::int64_t len, const torch::Tensor& losses, const torch::Tensor& is_correct,
                   const torch::Tensor& conf) const {
        const torch::Tensor at = slots.narrow(0, 0, len);
        loss.index_copy_(0, at, losses);
        confidence.index_copy_(0, at, conf);
        correct.index_copy_(0, at, is_correct.to(torch::kFloat32));
    }
};

/// Sums over one phase, kept as tensors so a step does not wait for a value to be read.
struct Totals {
    torch::Tensor loss_sum = torch::zeros({}, torch::kFloat64);
    torch::Tensor correct_sum = torch::zeros({}, torch::kInt64);
    std::int64_t count = 0;

    void add(const torch::Tensor& losses, const torch::Tensor& correct_mask) {
        loss_sum.add_(losses.sum());
        correct_sum.add_(correct_mask.sum());
        count += losses.size(0);
    }
    [[nodiscard]] std::pair<double, double> means() const {
        if (count == 0) {
            return {0.0, 0.0};
        }
        return {loss_sum.item<double>() / static_cast<double>(count),
                static_cast<double>(correct_sum.item<std::int64_t>()) / static_cast<double>(count)};
    }
    /// The raw sums, for a checkpoint; restore() puts them back exactly.
    void save(checkpoint::LoopState& out) const {
        out.train_loss_sum = loss_sum.item<double>();
        out.train_correct = correct_sum.item<std::int64_t>();
        out.train_count = count;
    }
    void restore(const checkpoint::LoopState& in) {
        loss_sum.fill_(in.train_loss_sum);
        correct_sum.fill_(in.train_correct);
        count = in.train_count;
    }
};

/// Number of batches of size `batch` that cover n entries.
std::int64_t batches_of(std::int64_t n, std::int64_t batch) {
    return (n + batch - 1) / batch;
}

/// A torch archive as bytes (model.pt, optimizer.pt, rng.pt of a checkpoint).
std::string archive_bytes(const torch::serialize::OutputArchive& archive) {
    std::string out;
    const_cast<torch::serialize::OutputArchive&>(archive).save_to(
        [&out](const void* data, std::size_t size) {
            out.append(static_cast<const char*>(data), size);
            return size;
        });
    return out;
}

/// SGD's per-parameter state (momentum buffers) keyed by the parameter's index. LibTorch's own
/// Optimizer::save keys it by TensorImpl addresses, which differ from process to process: the
/// same state would give different bytes, and checkpoints could not be compared.
constexpr const char* k_momentum_key = "momentum_buffer/";

void save_optimizer_state(torch::optim::SGD& optimizer, torch::serialize::OutputArchive& out) {
    const std::vector<torch::Tensor>& params = optimizer.param_groups().front().params();
    auto& state = optimizer.state();
    out.write("num_params", torch::tensor(static_cast<std::int64_t>(params.size())), true);
    for (std::size_t i = 0; i < params.size(); ++i) {
        const auto it = state.find(c10::guts::to_string(params[i].unsafeGetTensorImpl()));
        if (it != state.end()) {
            const auto& s = static_cast<const torch::optim::SGDParamState&>(*it->second);
            if (s.momentum_buffer().defined()) {
                out.write(k_momentum_key + std::to_string(i), s.momentum_buffer(), true);
            }
        }
    }
}

void load_optimizer_state(torch::serialize::InputArchive& in, torch::optim::SGD& optimizer,
                          const std::string& what) {
    const std::vector<torch::Tensor>& params = optimizer.param_groups().front().params();
    torch::Tensor count;
    in.read("num_params", count, true);
    if (count.item<std::int64_t>() != static_cast<std::int64_t>(params.size())) {
        throw RuntimeFailure(
            what + "its optimizer state covers " + std::to_string(count.item<std::int64_t>()) +
            " parameters; this recipe's model has " + std::to_string(params.size()));
    }
    auto& state = optimizer.state();
    state.clear();
    for (std::size_t i = 0; i < params.size(); ++i) {
        torch::Tensor buffer;
        if (in.try_read(k_momentum_key + std::to_string(i), buffer, true)) {
            if (!buffer.sizes().equals(params[i].sizes())) {
                throw RuntimeFailure(what + "its momentum buffer " + std::to_string(i) +
                                     " does not match the shape of the model's parameter");
            }
            auto s = std::make_unique<torch::optim::SGDParamState>();
            s->momentum_buffer(buffer);
            state[c10::guts::to_string(params[i].unsafeGetTensorImpl())] = std::move(s);
        }
    }
}

/// Reads a checkpoint file back into an archive; throws RuntimeFailure if it is missing.
void read_archive(const checkpoint::Resume& resume, const std::string& file,
                  torch::serialize::InputArchive& archive) {
    const auto it = resume.files.find(file);
    if (it == resume.files.end()) {
        throw RuntimeFailure("checkpoint " + resume.name + " has no " + file);
    }
    archive.load_from(it->second.data(), it->second.size());
}

void set_threads(int threads) {
    // The inter-op pool can be sized once per process, before it starts; later runs in the same
    // process (tests) keep the first size.
    static std::once_flag interop_once;
    std::call_once(interop_once, [threads] {
        try {
            at::set_num_interop_threads(threads);
        } catch (const c10::Error&) {
        }
    });
    at::set_num_threads(threads);
}

/// glibc's malloc returns freed memory to the kernel when the free space at the top of the heap
/// passes a threshold that it adapts on the fly. Training frees and reallocates megabytes of
/// activations every step, and depending on the heap's layout that can turn into trimming and
/// re-faulting those pages every step: we measured 460k instead of 100k page faults and a 20-50 %
/// slower epoch for the same loop. Fixed thresholds keep blocks up to 32 MiB (glibc's maximum) on
/// the heap and keep up to 1 GiB of free heap for the next step. Process-wide, set once.
void tune_malloc() {
    static std::once_flag once;
    std::call_once(once, [] {
        mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
        mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
    });
}

/// Interrupted by the stop flag: unwinds to train(), which closes the log.
struct Interrupted {};

class Run {
  public:
    Run(const Config& config, Observer& observer, util::MlLog& mllog, const std::atomic<bool>* stop,
        const checkpoint::Resume* resume)
        : m_config(config), m_observer(observer), m_mllog(mllog), m_stop(stop),
          m_resume(resume), m_rank{config.dist.rank, config.dist.world} {
        if (config.checkpoint) {
            m_schedule.emplace(*config.checkpoint);
        }
    }

    Summary run();

  private:
    void log(std::string_view key, const Json& value = Json::null(), JsonObject metadata = {},
             std::source_location where = std::source_location::current()) {
        if (m_rank.writes_log()) {
            m_mllog.event(key, value, std::move(metadata), where);
        }
    }
    void log_epoch(std::string_view key, const Json& value = Json::null(),
                   std::source_location where = std::source_location::current()) {
        log(key, value, {{"epoch_num", m_epoch + 1}}, where);
    }
    [[nodiscard]] bool local_stop() const {
        return m_stop != nullptr && m_stop->load(std::memory_order_relaxed);
    }
    /// At a phase boundary. With world > 1 a collective: all ranks stop if any saw the flag.
    void check_stop();
    /// Before a batch: with world > 1, the agreement carried by the previous batch's bucket.
    void check_stop_at_batch() {
        if (!m_comm) {
            check_stop();
        } else if (m_stop_agreed) {
            throw Interrupted{};
        }
    }
    void setup();
    void log_hyperparameters();
    void begin_epoch();
    EpochResult run_epoch(const hiding::EpochPlan& plan);
    void train_phase(const hiding::EpochPlan& plan, EpochResult& result);
    void refresh_phase(const hiding::EpochPlan& plan, EpochResult& result);
    [[nodiscard]] hiding::EpochContext epoch_context() const;
    double full_refresh();
    void refresh_batch(const torch::Tensor& ids);
    /// A forward-only pass over training samples (the refresh and full passes): their labels,
    /// logits, log-probabilities and per-sample losses.
    struct Forward {
        torch::Tensor labels, logits, log_probs, losses;
    };
    Forward forward_only(const torch::Tensor& ids);
    void eval_phase(EpochResult& result);
    // Multi-rank (world > 1) only.
    void setup_dist();
    void check_same_on_all_ranks(std::vector<double> values, const std::string& what);
    void exchange(StepBucket& bucket, bool timed);
    void put_buffers(StepBucket& bucket);
    void take_buffers(StepBucket& bucket);
    void dist_train_step(std::span<const std::int64_t> global_ids, std::int64_t step,
                         const torch::Tensor& ids_all, const torch::Tensor& weights_all,
                         std::int64_t batch, Totals& totals);
    void dist_forward_batch(std::span<const std::int64_t> global_ids, std::int64_t step,
                            const torch::Tensor& ids_all);
    void dist_eval(EpochResult& result, Clock::time_point start);
    void progress(const char* phase, std::int64_t step, std::int64_t num_steps,
                  std::int64_t samples, Clock::time_point phase_start, bool force);
    torch::Tensor gather(const torch::Tensor& source, const torch::Tensor& ids,
                         torch::Tensor& buffer);
    // Checkpoints and resume.
    [[nodiscard]] std::int64_t log_size() const;
    [[nodiscard]] checkpoint::Position position() const;
    void at_batch_boundary();
    void save_checkpoint(checkpoint::Reason reason);
    void restore(const checkpoint::Resume& resume);

    const Config& m_config;
    Observer& m_observer;
    util::MlLog& m_mllog;
    const std::atomic<bool>* m_stop;
    const checkpoint::Resume* m_resume; // the checkpoint this run continues from, or null
    Rank m_rank;
    // World > 1: the process group, the step buckets (the parameters' gradients are views of
    // m_train_bucket), and whether the last collective said that some rank saw the stop flag.
    std::unique_ptr<Comm> m_comm;
    StepBucket m_train_bucket, m_forward_bucket;
    std::vector<torch::Tensor> m_buffers; // the model's buffers, in bucket order
    bool m_stop_agreed = false;
    double m_step_comm_s = 0; // seconds in the training steps' all-reduces
    std::int64_t m_step_comm_count = 0;

    DataSplits m_data;
    std::shared_ptr<Classifier> m_model;
    std::unique_ptr<torch::optim::SGD> m_optimizer;
    std::unique_ptr<hiding::Policy> m_policy;
    std::optional<SampleState> m_state;
    std::vector<int> m_lr_milestones;
    torch::Tensor m_batch_images, m_batch_labels; // reused across steps
    std::int64_t m_steps_full_epoch = 0;

    int m_epoch = 0;   // 0-based, the epoch in progress (= epochs completed)
    int m_started = 0; // epochs that logged epoch_start
    double m_hidden_fraction = 0.0;
    Clock::time_point m_run_start, m_last_progress;

    // The epoch in progress, kept in members so that a checkpoint can be taken at any batch.
    hiding::EpochPlan m_plan;
    bool m_has_plan = false;                      // m_plan belongs to epoch m_epoch
    std::vector<std::int64_t> m_completed_hidden; // hidden set of the last completed epoch
    Totals m_train_totals;
    EpochResult m_result;    // filled phase by phase
    std::int64_t m_step = 0; // batches done in the epoch: training steps, then refresh batches
    std::int64_t m_train_steps = 0, m_refresh_steps = 0;
    Summary m_summary;
    // Length of the MLPerf log where the epoch began and where its training and refresh phases
    // stand: a checkpoint records the one of its position, and a resume cuts the log there.
    std::int64_t m_log_at_epoch = 0, m_log_at_train = 0, m_log_at_refresh = 0;
    std::optional<checkpoint::Schedule> m_schedule; // nullopt: no checkpoints
    std::optional<checkpoint::Position> m_last_checkpoint;
    std::int64_t m_batches_since_checkpoint = 0;
    Clock::time_point m_last_checkpoint_time;
    Clock::time_point m_phase_start; // start of the current phase in this process
    double m_phase_base_s = 0;       // seconds the phase took before a resume
    enum class Phase { other, train, refresh };
    Phase m_phase = Phase::other; // the timed phase in progress
};

void Run::setup() {
    const DataConfig& data = m_config.data;
    if (data.batch_size < 1 || data.eval_batch_size < 1) {
        throw UsageError("data.batch_size and data.eval_batch_size must be >= 1");
    }
    if (m_config.schedule.kind != "step" && m_config.schedule.kind != "cosine") {
        throw UsageError("unknown schedule.kind \"" + m_config.schedule.kind +
                         "\"; expected step or cosine");
    }
    set_threads(m_config.threads > 0 ? m_config.threads : util::available_cpus());
    tune_malloc();

    const DistConfig& dist = m_config.dist;
    if (dist.world < 1 || dist.rank < 0 || dist.rank >= dist.world) {
        throw UsageError("invalid rank " + std::to_string(dist.rank) + " for world size " +
                         std::to_string(dist.world) + "; expected 0 <= rank < world");
    }

    if (m_config.stage) {
        // Data staging: inside init, before loading (train_samples must precede init_stop).
        DataConfig staged = data;
        log("staging_start");
        const std::int64_t bytes = m_config.stage(staged);
        log("staging_stop", Json::null(), {{"staged_bytes", static_cast<long long>(bytes)}});
        m_data = load_data(staged);
    } else {
        m_data = load_data(data);
    }
    if (m_rank.world > 1) {
        m_comm = std::make_unique<Comm>(dist);
        util::log_debug("rank " + std::to_string(m_rank.rank) + " of " +
                        std::to_string(m_rank.world) + ": met the other ranks at " +
                        dist.master_addr + ":" + std::to_string(dist.master_port) + " in " +
                        std::to_string(m_comm->rendezvous_s()) + " s");
    }
    m_observer.on_start(m_data.train.size(), m_data.test.size());

    torch::manual_seed(m_config.seed);
    m_model = make_model(m_config.model,
                         {m_data.channels, m_data.height, m_data.width, m_data.num_classes});
    m_model->train();
    const OptimConfig& o = m_config.optim;
    try {
        m_optimizer = std::make_unique<torch::optim::SGD>(m_model->parameters(),
                                                          torch::optim::SGDOptions(o.lr)
                                                              .momentum(o.momentum)
                                                              .weight_decay(o.weight_decay)
                                                              .nesterov(o.nesterov));
    } catch (const c10::Error& e) {
        throw UsageError(std::string("invalid optimizer settings: ") + e.what_without_backtrace());
    }

    hiding::Config hiding_config = m_config.hiding;
    if (hiding_config.seed == 0) {
        hiding_config.seed = m_config.seed;
    }
    try {
        m_policy = hiding::make_policy(hiding_config);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("invalid hiding settings: ") + e.what());
    }
    // LR milestones exist only for step schedules; the policy decays F at them.
    if (m_config.schedule.kind == "step") {
        m_lr_milestones = m_config.schedule.milestones;
    }
    m_state.emplace(m_data.train.size());

    const std::int64_t per_rank = (m_data.train.size() + m_rank.world - 1) / m_rank.world;
    const std::int64_t local_batch = std::max<std::int64_t>(1, data.batch_size / m_rank.world);
    m_steps_full_epoch = (per_rank + local_batch - 1) / local_batch;
    m_batch_images = torch::empty({0}, torch::kFloat32);
    m_batch_labels = torch::empty({0}, torch::kInt64);
    if (m_comm) {
        setup_dist();
    }
}

void Run::setup_dist() {
    // Ranks started with different recipes would deadlock or silently diverge: compare what
    // shapes the collectives, and the initial weights.
    const std::uint64_t digest = model_digest(*m_model);
    const auto& c = m_config;
    check_same_on_all_ranks(
        {static_cast<double>(m_data.train.size()), static_cast<double>(m_data.test.size()),
         static_cast<double>(count_parameters(*m_model)), static_cast<double>(c.data.batch_size),
         static_cast<double>(c.data.eval_batch_size), static_cast<double>(c.schedule.epochs),
         static_cast<double>(c.seed % (1ULL << 52)), c.hiding.fraction,
         static_cast<double>(static_cast<int>(c.hiding.strategy)),
         static_cast<double>(digest >> 32), static_cast<double>(digest & 0xffffffffULL)},
        "the data set, model, batch sizes, seed or hiding settings");

    std::int64_t num_grads = 0;
    for (const auto& p : m_model->parameters()) {
        num_grads += p.numel();
    }
    std::int64_t num_buffers = 0;
    for (const auto& b : m_model->buffers()) {
        m_buffers.push_back(b);
        num_buffers += b.numel();
    }
    const std::int64_t local_batch =
        std::max<std::int64_t>(1, m_config.data.batch_size / m_rank.world);
    m_train_bucket = StepBucket(num_grads, local_batch, num_buffers, m_rank);
    // The refresh pass moves BatchNorm statistics only under the train-mode quirk.
    m_forward_bucket = StepBucket(0, m_config.data.eval_batch_size,
                                  m_config.stats.hidden_pass_train_mode ? num_buffers : 0, m_rank);
    // Backward accumulates straight into the bucket (the gradients are views of it): no copy
    // before or after the all-reduce, and zeroing the bucket zeroes the gradients.
    std::int64_t at = 0;
    for (auto& p : m_model->parameters()) {
        p.mutable_grad() = m_train_bucket.grads.narrow(0, at, p.numel()).view(p.sizes());
        at += p.numel();
    }
}

void Run::check_same_on_all_ranks(std::vector<double> values, const std::string& what) {
    const auto n = static_cast<std::int64_t>(values.size());
    torch::Tensor t = torch::empty({2 * n}, torch::kFloat64);
    for (std::int64_t i = 0; i < n; ++i) {
        t[i] = values[static_cast<std::size_t>(i)];
        t[n + i] = -values[static_cast<std::size_t>(i)];
    }
    m_comm->max(t);
    const double* m = t.data_ptr<double>();
    for (std::int64_t i = 0; i < n; ++i) {
        if (m[i] != -m[n + i]) { // max != min
            throw RuntimeFailure("rank " + std::to_string(m_rank.rank) + " of " +
                                 std::to_string(m_rank.world) + ": the ranks disagree on " + what +
                                 "; every rank must run the same recipe (and resume from the "
                                 "same checkpoint)");
        }
    }
}

void Run::check_stop() {
    if (!m_comm) {
        if (local_stop()) {
            throw Interrupted{};
        }
        return;
    }
    torch::Tensor flag = torch::full({1}, local_stop() || m_stop_agreed ? 1.0F : 0.0F);
    m_comm->sum(flag);
    m_stop_agreed = flag.item<float>() > 0;
    if (m_stop_agreed) {
        throw Interrupted{};
    }
}

void Run::exchange(StepBucket& bucket, bool timed) {
    bucket.meta[2] = local_stop() ? 1.0F : 0.0F;
    const auto start = Clock::now();
    m_comm->sum(bucket.chunks);
    if (timed) {
        m_step_comm_s += seconds_between(start, Clock::now());
        ++m_step_comm_count;
    }
    m_stop_agreed = m_stop_agreed || bucket.meta[2] > 0;
}

void Run::put_buffers(StepBucket& bucket) {
    if (bucket.buffers.numel() == 0) {
        return;
    }
    std::int64_t at = 0;
    for (const torch::Tensor& b : m_buffers) {
        bucket.buffers.narrow(0, at, b.numel()).copy_(b.reshape({-1}));
        at += b.numel();
    }
}

void Run::take_buffers(StepBucket& bucket) {
    // The mean over the ranks that ran a batch (BatchNorm running statistics; the batch counter
    // is the same on each of them, so its mean is exact).
    const float ran = bucket.meta[1];
    if (bucket.buffers.numel() == 0 || ran <= 0) {
        return;
    }
    bucket.buffers.div_(ran);
    std::int64_t at = 0;
    for (torch::Tensor& b : m_buffers) {
        b.copy_(bucket.buffers.narrow(0, at, b.numel()).view(b.sizes()));
        at += b.numel();
    }
}

void Run::dist_train_step(std::span<const std::int64_t> global_ids, std::int64_t step,
                          const torch::Tensor& ids_all, const torch::Tensor& weights_all,
                          std::int64_t batch, Totals& totals) {
    StepBucket& bucket = m_train_bucket;
    bucket.flat.zero_(); // also the gradients
    const std::int64_t n = ids_all.size(0);
    const std::int64_t begin = step * batch;
    const std::int64_t len = std::clamp<std::int64_t>(n - begin, 0, batch);
    if (len > 0) {
        // A rank whose shard ran out adds zeros (its gradient, its slots).
        const torch::Tensor ids = ids_all.narrow(0, begin, len);
        const torch::Tensor images = gather(m_data.train.images, ids, m_batch_images);
        const torch::Tensor labels = gather(m_data.train.labels, ids, m_batch_labels);
        const torch::Tensor logits = m_model->forward(images);
        const torch::Tensor log_probs = torch::log_softmax(logits, 1);
        const torch::Tensor losses = torch::nll_loss(log_probs, labels, {}, at::Reduction::None);
        // The sum here, divided by the global batch's size after the all-reduce: the mean over
        // the global batch, as one process takes it.
        const torch::Tensor loss = weights_all.defined()
                                       ? (losses * weights_all.narrow(0, begin, len)).sum()
                                       : losses.sum();
        loss.backward();
        torch::NoGradGuard no_grad;
        auto [is_correct, conf] = SampleState::measure(logits.detach(), log_probs.detach(), labels,
                                                       m_config.stats.confidence_over_batch);
        bucket.put_stats(len, losses.detach(), is_correct, conf);
        put_buffers(bucket);
        bucket.meta[0] = static_cast<float>(len);
        bucket.meta[1] = 1;
    }
    exchange(bucket, true);
    const auto global = static_cast<std::int64_t>(bucket.meta[0]);
    torch::NoGradGuard no_grad;
    bucket.grads.div_(static_cast<double>(global));
    take_buffers(bucket);
    m_optimizer->step();
    const std::int64_t first = step * bucket.slots_per_batch;
    m_state->store(
        global_ids.subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(global)),
        bucket.loss.data_ptr<float>(), bucket.confidence.data_ptr<float>(),
        bucket.correct.data_ptr<float>());
    totals.add(bucket.loss.narrow(0, 0, global), bucket.correct.narrow(0, 0, global).gt(0.5));
}

void Run::dist_forward_batch(std::span<const std::int64_t> global_ids, std::int64_t step,
                             const torch::Tensor& ids_all) {
    StepBucket& bucket = m_forward_bucket;
    bucket.flat.zero_();
    const std::int64_t batch = m_config.data.eval_batch_size;
    const std::int64_t n = ids_all.size(0);
    const std::int64_t begin = step * batch;
    const std::int64_t len = std::clamp<std::int64_t>(n - begin, 0, batch);
    if (len > 0) {
        const Forward f = forward_only(ids_all.narrow(0, begin, len));
        auto [is_correct, conf] = SampleState::measure(f.logits, f.log_probs, f.labels,
                                                       m_config.stats.confidence_over_batch);
        bucket.put_stats(len, f.losses, is_correct, conf);
        put_buffers(bucket);
        bucket.meta[0] = static_cast<float>(len);
        bucket.meta[1] = 1;
    }
    exchange(bucket, false);
    take_buffers(bucket);
    const auto global = static_cast<std::int64_t>(bucket.meta[0]);
    const std::int64_t first = step * bucket.slots_per_batch;
    m_state->store(
        global_ids.subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(global)),
        bucket.loss.data_ptr<float>(), bucket.confidence.data_ptr<float>(),
        bucket.correct.data_ptr<float>());
}

void Run::log_hyperparameters() {
    const auto& s = m_config.schedule;
    const auto& h = m_config.hiding;
    const int threads = m_config.threads > 0 ? m_config.threads : util::available_cpus();
    log("submission_benchmark", m_config.benchmark_name);
    log("submission_org", "kakuren");
    log("submission_division", "open");
    log("submission_status", "research");
    log("submission_platform",
        std::to_string(m_config.dist.num_nodes) + "xCPU-" + std::to_string(threads) + "c");
    log("seed", static_cast<long long>(m_config.seed));
    log("number_of_ranks", m_rank.world);
    log("number_of_nodes", m_config.dist.num_nodes);
    log("accelerators_per_node", m_config.dist.accelerators_per_node);
    log("global_batch_size", m_config.data.batch_size);
    log("gradient_accumulation_steps", 1);
    log("opt_name", "sgd");
    log("opt_base_learning_rate", m_config.optim.lr);
    log("opt_learning_rate_warmup_epochs", s.warmup_epochs);
    // The warm-up starts at lr / (warm-up steps) of a full epoch 0 (which hides nothing).
    const double warmup_factor =
        s.warmup_epochs > 0 && m_steps_full_epoch > 0
            ? 1.0 / (static_cast<double>(s.warmup_epochs) * static_cast<double>(m_steps_full_epoch))
            : 1.0;
    log("opt_learning_rate_warmup_factor", warmup_factor);
    JsonArray boundaries;
    for (int m : m_lr_milestones) {
        boundaries.emplace_back(m);
    }
    log("opt_learning_rate_decay_boundary_epochs", Json(std::move(boundaries)));
    log("opt_learning_rate_decay_factor", m_lr_milestones.empty() ? 1.0 : s.gamma);
    log("opt_weight_decay", m_config.optim.weight_decay);
    log("opt_momentum", m_config.optim.momentum);
    log("hiding_strategy", hiding::to_string(h.strategy));
    log("hiding_fraction", h.fraction);
    log("hiding_tau", h.tau);
    log("hiding_lr_compensation", hiding::to_string(h.lr_compensation));
    log("hiding_refresh_every", h.refresh_every);
    // The knobs of the other strategies, only where they apply (older logs stay as they were).
    if (h.strategy == hiding::Strategy::infobatch) {
        log("hiding_infobatch_ratio", h.infobatch_ratio);
        log("hiding_infobatch_delta", h.infobatch_delta);
    } else if (h.strategy == hiding::Strategy::selective_backprop) {
        log("hiding_sb_beta", h.sb_beta);
    } else if (h.strategy == hiding::Strategy::rotate) {
        log("hiding_rotate_fraction", h.rotate_fraction);
        log("hiding_rotate_ratio", h.rotate_ratio);
        log("hiding_rotate_full_epochs", h.rotate_full_epochs);
        log("hiding_rotate_tau", h.rotate_tau);
    }
    log("train_samples", static_cast<long long>(m_data.train.size()));
    log("eval_samples", static_cast<long long>(m_data.test.size()));
}

void Run::progress(const char* phase, std::int64_t step, std::int64_t num_steps,
                   std::int64_t samples, Clock::time_point phase_start, bool force) {
    const auto now = Clock::now();
    if (!force && seconds_between(m_last_progress, now) < k_progress_interval_s) {
        return;
    }
    m_last_progress = now;
    StepProgress p;
    p.epoch = m_epoch + 1;
    p.num_epochs = m_config.schedule.epochs;
    p.step = step;
    p.num_steps = num_steps;
    p.phase = phase;
    const double phase_s = seconds_between(phase_start, now);
    p.samples_per_s = phase_s > 0 ? static_cast<double>(samples) / phase_s : 0.0;
    p.hidden_fraction = m_hidden_fraction;
    p.elapsed_s = seconds_between(m_run_start, now);
    m_observer.on_progress(p);
}

torch::Tensor Run::gather(const torch::Tensor& source, const torch::Tensor& ids,
                          torch::Tensor& buffer) {
    // index_select into a kept buffer: its storage is reused once it has held a full batch.
    // Emptying it first (the storage stays) avoids torch's warning about resizing an output.
    if (buffer.dim() == 0 || buffer.size(0) != ids.size(0)) {
        buffer.resize_({0});
    }
    torch::index_select_out(buffer, source, 0, ids);
    return buffer;
}

void Run::train_phase(const hiding::EpochPlan& plan, EpochResult& result) {
    const Shard shard(plan.train_ids, m_rank);
    const bool weighted = !plan.train_weights.empty();
    if (weighted && plan.train_weights.size() != plan.train_ids.size()) {
        throw RuntimeFailure("hiding policy " + m_policy->name() + " returned " +
                             std::to_string(plan.train_weights.size()) + " loss weights for " +
                             std::to_string(plan.train_ids.size()) + " training samples");
    }
    std::vector<float> shard_weights;
    if (weighted && m_rank.world > 1) {
        for (auto i = static_cast<std::size_t>(m_rank.rank); i < plan.train_weights.size();
             i += static_cast<std::size_t>(m_rank.world)) {
            shard_weights.push_back(plan.train_weights[i]);
        }
    }
    const torch::Tensor ids_all = view_of(shard.ids());
    const torch::Tensor weights_all =
        weighted ? view_of(m_rank.world > 1 ? std::span<const float>(shard_weights)
                                            : std::span<const float>(plan.train_weights))
                 : torch::Tensor();

    const std::int64_t n = ids_all.size(0); // this rank's share
    const auto n_global = static_cast<std::int64_t>(plan.train_ids.size());
    const std::int64_t batch = std::max<std::int64_t>(1, m_config.data.batch_size / m_rank.world);
    // Every rank takes the same number of steps (rank 0's, the largest shard).
    const std::int64_t num_steps =
        batches_of(max_shard_size(plan.train_ids.size(), m_rank.world), batch);
    const bool over_batch = m_config.stats.confidence_over_batch;
    auto& group_options =
        static_cast<torch::optim::SGDOptions&>(m_optimizer->param_groups().front().options());

    Totals& totals = m_train_totals;
    double lr = scheduled_lr(m_config.schedule, m_config.optim.lr, m_epoch, 1.0) * plan.lr_scale;
    m_model->train();
    const double before_s = result.train_s; // the part of the phase before a resume
    const auto start = Clock::now();
    m_phase_start = start;
    m_phase_base_s = before_s;
    m_phase = Phase::train;
    for (std::int64_t step = m_step; step < num_steps; ++step) {
        at_batch_boundary();
        if (m_comm) {
            lr = scheduled_lr(m_config.schedule, m_config.optim.lr, m_epoch,
                              epoch_fraction(step, num_steps)) *
                 plan.lr_scale;
            group_options.lr(lr);
            dist_train_step(plan.train_ids, step, ids_all, weights_all, batch, totals);
            m_step = step + 1;
            ++m_batches_since_checkpoint;
            progress("train", step + 1, num_steps,
                     std::min(n_global, (step + 1) * m_train_bucket.slots_per_batch), start, false);
            continue;
        }
        const std::int64_t begin = step * batch;
        const std::int64_t len = std::min(batch, n - begin);
        const torch::Tensor ids = ids_all.narrow(0, begin, len);
        const torch::Tensor images = gather(m_data.train.images, ids, m_batch_images);
        const torch::Tensor labels = gather(m_data.train.labels, ids, m_batch_labels);

        // The hiding scale applies on top of the schedule; the schedule never sees it.
        lr = scheduled_lr(m_config.schedule, m_config.optim.lr, m_epoch,
                          epoch_fraction(step, num_steps)) *
             plan.lr_scale;
        group_options.lr(lr);

        const torch::Tensor logits = m_model->forward(images);
        const torch::Tensor log_probs = torch::log_softmax(logits, 1);
        const torch::Tensor losses = torch::nll_loss(log_probs, labels, {}, at::Reduction::None);
        // Weighted: mean of weight * loss, not normalised by the weights (InfoBatch's weights
        // undo the bias of pruning and must not cancel out).
        const torch::Tensor loss =
            weighted ? (losses * weights_all.narrow(0, begin, len)).mean() : losses.mean();
        {
            torch::NoGradGuard no_grad;
            const torch::Tensor detached = losses.detach();
            totals.add(detached, m_state->record(ids, detached, logits.detach(), log_probs.detach(),
                                                 labels, over_batch));
        }
        m_optimizer->zero_grad();
        loss.backward();
        m_optimizer->step();
        m_step = step + 1;
        ++m_batches_since_checkpoint;
        progress("train", step + 1, num_steps, begin + len, start, false);
    }
    m_phase = Phase::other;
    result.train_s = before_s + seconds_between(start, Clock::now());
    progress("train", num_steps, num_steps, n_global, start, true);
    std::tie(result.train_loss, result.train_accuracy) = totals.means();
    result.lr = lr / plan.lr_scale; // the schedule's LR; lr_scale is recorded beside it
    // All ranks together (the global batch's samples).
    result.samples_per_s =
        result.train_s > 0 ? static_cast<double>(n_global) / result.train_s : 0.0;
}

void Run::refresh_phase(const hiding::EpochPlan& plan, EpochResult& result) {
    const Shard shard(plan.refresh_ids, m_rank);
    const torch::Tensor ids_all = view_of(shard.ids());
    const std::int64_t n = ids_all.size(0); // this rank's share
    const auto n_global = static_cast<std::int64_t>(plan.refresh_ids.size());
    const std::int64_t batch = m_config.data.eval_batch_size;
    const std::int64_t num_steps =
        batches_of(max_shard_size(plan.refresh_ids.size(), m_rank.world), batch);
    const double before_s = result.hidden_pass_s; // the part of the phase before a resume
    const auto start = Clock::now();
    m_phase_start = start;
    m_phase_base_s = before_s;
    m_phase = Phase::refresh;
    if (num_steps > 0) {
        // Eval mode unless the reference quirk asks for train mode (BatchNorm statistics then
        // move with the hidden samples too).
        m_model->train(m_config.stats.hidden_pass_train_mode);
        torch::InferenceMode inference;
        m_model->prepare_inference();
        for (std::int64_t step = m_step - m_train_steps; step < num_steps; ++step) {
            at_batch_boundary();
            if (m_comm) {
                dist_forward_batch(plan.refresh_ids, step, ids_all);
                m_step = m_train_steps + step + 1;
                ++m_batches_since_checkpoint;
                progress("refresh", step + 1, num_steps,
                         std::min(n_global, (step + 1) * m_forward_bucket.slots_per_batch), start,
                         false);
                continue;
            }
            const std::int64_t begin = step * batch;
            const torch::Tensor ids = ids_all.narrow(0, begin, std::min(batch, n - begin));
            refresh_batch(ids);
            m_step = m_train_steps + step + 1;
            ++m_batches_since_checkpoint;
            progress("refresh", step + 1, num_steps, begin + ids.size(0), start, false);
        }
        m_model->train();
    }
    m_phase = Phase::other;
    result.hidden_pass_s = before_s + seconds_between(start, Clock::now());
    result.refreshed = n_global;
    progress("refresh", num_steps, num_steps, n_global, start, true);
}

void Run::eval_phase(EpochResult& result) {
    const Dataset& test = m_data.test;
    const std::int64_t n = test.size();
    const std::int64_t batch = m_config.data.eval_batch_size;
    const std::int64_t num_steps = (n + batch - 1) / batch;
    const auto start = Clock::now();
    if (m_comm) {
        dist_eval(result, start);
        return;
    }
    Totals totals;
    {
        m_model->eval();
        torch::InferenceMode inference;
        m_model->prepare_inference();
        for (std::int64_t step = 0; step < num_steps; ++step) {
            check_stop();
            const std::int64_t begin = step * batch;
            const std::int64_t len = std::min(batch, n - begin);
            const torch::Tensor logits =
                m_model->forward_inference(test.images.narrow(0, begin, len));
            const torch::Tensor labels = test.labels.narrow(0, begin, len);
            const torch::Tensor log_probs = torch::log_softmax(logits, 1);
            totals.add(torch::nll_loss(log_probs, labels, {}, at::Reduction::None),
                       log_probs.argmax(1).eq(labels));
            progress("eval", step + 1, num_steps, begin + len, start, false);
        }
        std::tie(result.test_loss, result.test_accuracy) = totals.means();
    }
    m_model->train();
    result.eval_s = seconds_between(start, Clock::now());
    progress("eval", num_steps, num_steps, n, start, true);
}

/// Evaluation with world > 1: rank r takes the r-th contiguous block of the test set; the loss
/// sum, correct count and sample count are summed over the ranks each batch, with the stop flag.
void Run::dist_eval(EpochResult& result, Clock::time_point start) {
    const Dataset& test = m_data.test;
    const std::int64_t n = test.size();
    const std::int64_t batch = m_config.data.eval_batch_size;
    const std::int64_t block_begin = n * m_rank.rank / m_rank.world;
    const std::int64_t block_end = n * (m_rank.rank + 1) / m_rank.world;
    const std::int64_t num_steps = batches_of((n + m_rank.world - 1) / m_rank.world, batch);
    double loss_sum = 0, correct = 0, count = 0;
    torch::Tensor sums = torch::zeros({4}, torch::kFloat64);
    {
        m_model->eval();
        torch::InferenceMode inference;
        m_model->prepare_inference();
        for (std::int64_t step = 0; step < num_steps; ++step) {
            check_stop_at_batch();
            const std::int64_t begin = block_begin + step * batch;
            const std::int64_t len = std::clamp<std::int64_t>(block_end - begin, 0, batch);
            sums.zero_();
            double* s = sums.data_ptr<double>();
            if (len > 0) {
                const torch::Tensor logits =
                    m_model->forward_inference(test.images.narrow(0, begin, len));
                const torch::Tensor labels = test.labels.narrow(0, begin, len);
                const torch::Tensor log_probs = torch::log_softmax(logits, 1);
                s[0] =
                    torch::nll_loss(log_probs, labels, {}, at::Reduction::None).sum().item<float>();
                s[1] =
                    static_cast<double>(log_probs.argmax(1).eq(labels).sum().item<std::int64_t>());
                s[2] = static_cast<double>(len);
            }
            s[3] = local_stop() ? 1.0 : 0.0;
            m_comm->sum(sums);
            loss_sum += s[0];
            correct += s[1];
            count += s[2];
            m_stop_agreed = m_stop_agreed || s[3] > 0;
            progress("eval", step + 1, num_steps, static_cast<std::int64_t>(count), start, false);
        }
        result.test_loss = count > 0 ? loss_sum / count : 0.0;
        result.test_accuracy = count > 0 ? correct / count : 0.0;
    }
    m_model->train();
    result.eval_s = seconds_between(start, Clock::now());
    progress("eval", num_steps, num_steps, n, start, true);
}

hiding::EpochContext Run::epoch_context() const {
    const ScheduleConfig& schedule = m_config.schedule;
    return {m_epoch, schedule.epochs, schedule.warmup_epochs, m_lr_milestones};
}

/// One forward-only batch of the refresh or full pass: records the samples' loss, correctness and
/// confidence. Call inside InferenceMode after prepare_inference.
void Run::refresh_batch(const torch::Tensor& ids) {
    const Forward f = forward_only(ids);
    m_state->record(ids, f.losses, f.logits, f.log_probs, f.labels,
                    m_config.stats.confidence_over_batch);
}

Run::Forward Run::forward_only(const torch::Tensor& ids) {
    Forward f;
    const torch::Tensor images = torch::index_select(m_data.train.images, 0, ids);
    f.labels = torch::index_select(m_data.train.labels, 0, ids);
    f.logits = m_config.stats.hidden_pass_train_mode ? m_model->forward(images)
                                                     : m_model->forward_inference(images);
    f.log_probs = torch::log_softmax(f.logits, 1);
    f.losses = torch::nll_loss(f.log_probs, f.labels, {}, at::Reduction::None);
    return f;
}

/// The forward-only pass over every training sample that a policy may ask for before it plans
/// (iswr). Stats are recorded as in the refresh phase; returns its seconds. It runs before the
/// epoch's first batch, so a stop here resumes at the start of the epoch and repeats it.
double Run::full_refresh() {
    std::vector<std::int64_t> all(static_cast<std::size_t>(m_data.train.size()));
    std::iota(all.begin(), all.end(), std::int64_t{0});
    const Shard shard(all, m_rank);
    const torch::Tensor ids_all = view_of(shard.ids());
    const std::int64_t n = ids_all.size(0);
    const std::int64_t batch = m_config.data.eval_batch_size;
    const std::int64_t num_steps = batches_of(max_shard_size(all.size(), m_rank.world), batch);
    const auto start = Clock::now();
    {
        m_model->train(m_config.stats.hidden_pass_train_mode);
        torch::InferenceMode inference;
        m_model->prepare_inference();
        for (std::int64_t step = 0; step < num_steps; ++step) {
            check_stop_at_batch();
            if (m_comm) {
                dist_forward_batch(all, step, ids_all);
                progress("refresh", step + 1, num_steps,
                         std::min<std::int64_t>(m_data.train.size(),
                                                (step + 1) * m_forward_bucket.slots_per_batch),
                         start, false);
                continue;
            }
            const std::int64_t begin = step * batch;
            const torch::Tensor ids = ids_all.narrow(0, begin, std::min(batch, n - begin));
            refresh_batch(ids);
            progress("refresh", step + 1, num_steps, begin + ids.size(0), start, false);
        }
    }
    m_model->train();
    progress("refresh", num_steps, num_steps, m_data.train.size(), start, true);
    return seconds_between(start, Clock::now());
}

void Run::begin_epoch() {
    m_log_at_epoch = log_size();
    log_epoch("epoch_start");
    m_started = m_epoch + 1;
    const hiding::EpochContext ctx = epoch_context();
    // A policy that samples from fresh losses of every sample (iswr) gets them first.
    const double full_refresh_s = m_policy->wants_full_refresh(ctx) ? full_refresh() : 0.0;
    m_plan = m_policy->plan_epoch(ctx, m_state->view());
    m_has_plan = true;
    m_step = 0;
    m_train_steps = batches_of(max_shard_size(m_plan.train_ids.size(), m_rank.world),
                               std::max<std::int64_t>(1, m_config.data.batch_size / m_rank.world));
    m_refresh_steps = batches_of(max_shard_size(m_plan.refresh_ids.size(), m_rank.world),
                                 m_config.data.eval_batch_size);
    m_train_totals = Totals{};
    m_result = EpochResult{};
    m_result.hidden_pass_s = full_refresh_s; // counted with the refresh phase's time

    log_epoch("hidden_samples", static_cast<long long>(m_plan.hidden_ids.size()));
    log_epoch("moved_back_samples", static_cast<long long>(m_plan.num_moved_back));
    log_epoch("realised_hidden_fraction", m_plan.realised_fraction());
    if (m_plan.num_distinct_trained() != static_cast<std::int64_t>(m_plan.train_ids.size())) {
        // Draws with replacement (iswr): how many draws, and how many distinct samples they hit.
        log_epoch("drawn_samples", static_cast<long long>(m_plan.train_ids.size()));
        log_epoch("distinct_trained_samples",
                  static_cast<long long>(m_plan.num_distinct_trained()));
    }
    m_log_at_train = log_size();
}

EpochResult Run::run_epoch(const hiding::EpochPlan& plan) {
    EpochResult& result = m_result; // holds what a resumed epoch did before
    result.epoch = m_epoch + 1;
    result.lr_scale = plan.lr_scale;
    result.max_fraction = plan.max_fraction;
    result.visible = static_cast<std::int64_t>(plan.train_ids.size());
    result.hidden = static_cast<std::int64_t>(plan.hidden_ids.size());
    result.moved_back = plan.num_moved_back;
    result.candidates = plan.num_candidates;
    m_hidden_fraction = plan.realised_fraction();

    // A resumed epoch whose training steps were all done (their records are in the log) goes
    // straight to the refresh pass.
    const bool trained_before = m_step > 0 && m_step >= m_train_steps;
    if (!trained_before) {
        train_phase(plan, result);
        log_epoch("learning_rate", result.lr * result.lr_scale); // the LR the optimizer used
        log_epoch("lr_scale", result.lr_scale);
        log_epoch("train_loss", result.train_loss);
        m_log_at_refresh = log_size();
    }
    check_stop();

    refresh_phase(plan, result);
    if (m_policy->wants_full_refresh(epoch_context())) {
        result.refreshed += m_data.train.size(); // the full pass before planning
    }
    check_stop();

    log_epoch("eval_start");
    eval_phase(result);
    log_epoch("eval_accuracy", result.test_accuracy);
    log_epoch("eval_error", 1.0 - result.test_accuracy);
    log_epoch("eval_stop");
    return result;
}

std::int64_t Run::log_size() const {
    if (!m_rank.writes_log() || !m_mllog.enabled()) {
        return 0;
    }
    std::error_code ec;
    const auto size = std::filesystem::file_size(m_mllog.path(), ec);
    return ec ? 0 : static_cast<std::int64_t>(size);
}

checkpoint::Position Run::position() const {
    if (m_step == 0) {
        // Nothing of epoch m_epoch is done (its plan, if made, is made again): the loop stands
        // at the end of the epoch before (none at the very start).
        return {m_epoch, 0, true};
    }
    return {m_epoch + 1, m_step, false};
}

void Run::at_batch_boundary() {
    // Only rank 0 hands checkpoints over; its state is the same as every rank's at any batch
    // boundary, so the others need not know when it does.
    if (m_schedule && m_step > 0 && m_rank.saves_checkpoints()) {
        const double since_s = seconds_between(m_last_checkpoint_time, Clock::now());
        if (m_schedule->due_within_epoch(m_batches_since_checkpoint, since_s)) {
            const auto& c = m_schedule->config();
            save_checkpoint(c.every_steps > 0 && m_batches_since_checkpoint >= c.every_steps
                                ? checkpoint::Reason::steps
                                : checkpoint::Reason::seconds);
        }
    }
    check_stop_at_batch();
}

void Run::save_checkpoint(checkpoint::Reason reason) {
    if (!m_rank.saves_checkpoints()) {
        return;
    }
    const checkpoint::Position pos = position();
    if (pos.epoch < 1 || (m_last_checkpoint && *m_last_checkpoint == pos)) {
        return; // nothing done yet, or this point is saved already
    }
    // Saving reads the weights; it must not run as inference (the refresh pass is one).
    c10::InferenceMode not_inference(false);
    checkpoint::Snapshot s;
    s.reason = reason;
    checkpoint::LoopState& loop = s.loop;
    loop.position = pos;
    loop.num_samples = m_data.train.size();
    if (pos.epoch_end) {
        loop.mllog_bytes = m_log_at_epoch;
        s.test_accuracy = m_summary.final_accuracy;
        s.hidden_ids = m_completed_hidden;
    } else {
        loop.mllog_bytes = m_step < m_train_steps ? m_log_at_train : m_log_at_refresh;
        loop.train_steps = m_train_steps;
        loop.refresh_steps = m_refresh_steps;
        loop.plan = m_plan;
        m_train_totals.save(loop);
        loop.train_loss = m_result.train_loss;
        loop.train_accuracy = m_result.train_accuracy;
        loop.lr = m_result.lr;
        loop.samples_per_s = m_result.samples_per_s;
        const double phase_s = m_phase_base_s + seconds_between(m_phase_start, Clock::now());
        loop.train_s = m_phase == Phase::train ? phase_s : m_result.train_s;
        loop.hidden_pass_s = m_phase == Phase::refresh ? phase_s : m_result.hidden_pass_s;
        s.hidden_ids = m_plan.hidden_ids;
    }
    loop.final_accuracy = m_summary.final_accuracy;
    loop.best_accuracy = m_summary.best_accuracy;
    loop.seed = m_config.seed;
    loop.world_size = m_rank.world;
    loop.threads = at::get_num_threads();

    const auto serialize_start = Clock::now();
    torch::serialize::OutputArchive model;
    m_model->save(model);
    torch::serialize::OutputArchive optimizer;
    save_optimizer_state(*m_optimizer, optimizer);
    torch::serialize::OutputArchive rng;
    {
        auto generator = at::detail::getDefaultCPUGenerator();
        const std::lock_guard<std::mutex> lock(generator.mutex());
        rng.write("cpu", generator.get_state(), /*is_buffer=*/true);
    }
    s.files = {{"model.pt", archive_bytes(model)},
               {"optimizer.pt", archive_bytes(optimizer)},
               {"rng.pt", archive_bytes(rng)}};
    s.serialize_s = seconds_between(serialize_start, Clock::now());
    s.loss = m_state->loss_span();
    s.correct = m_state->correct_span();
    s.confidence = m_state->confidence_span();

    m_observer.on_checkpoint(s);
    m_last_checkpoint = pos;
    m_batches_since_checkpoint = 0;
    m_last_checkpoint_time = Clock::now();
}

void Run::restore(const checkpoint::Resume& resume) {
    const checkpoint::LoopState& loop = resume.loop;
    const std::int64_t n = m_data.train.size();
    const auto size = static_cast<std::size_t>(n);
    const std::string what = "cannot resume from checkpoint " + resume.name + ": ";
    if (loop.world_size != m_rank.world) {
        // The step positions and the batches' composition depend on the world size.
        throw RuntimeFailure(what + "it was written by a run of " +
                             std::to_string(loop.world_size) + " rank(s); this run has " +
                             std::to_string(m_rank.world) +
                             ". Resume with the same number of ranks");
    }
    if (loop.num_samples != n || resume.loss.size() != size || resume.correct.size() != size ||
        resume.confidence.size() != size) {
        throw RuntimeFailure(what + "it holds " + std::to_string(loop.num_samples) +
                             " training samples; the data set has " + std::to_string(n));
    }
    try {
        // Module::load takes tensors of any shape: compare them with this recipe's model first.
        std::vector<std::pair<std::string, std::vector<std::int64_t>>> shapes;
        for (const auto& item : m_model->named_parameters()) {
            shapes.emplace_back(item.key(), item.value().sizes().vec());
        }
        for (const auto& item : m_model->named_buffers()) {
            shapes.emplace_back(item.key(), item.value().sizes().vec());
        }
        torch::serialize::InputArchive model;
        read_archive(resume, "model.pt", model);
        m_model->load(model);
        const auto shape_text = [](const std::vector<std::int64_t>& sizes) {
            std::string out = "[";
            for (std::size_t i = 0; i < sizes.size(); ++i) {
                out += (i ? ", " : "") + std::to_string(sizes[i]);
            }
            return out + "]";
        };
        std::size_t index = 0;
        const auto check = [&](const std::string& name, const torch::Tensor& t) {
            const auto& [expected_name, expected] = shapes[index++];
            if (name != expected_name || t.sizes().vec() != expected) {
                throw RuntimeFailure(what + "its model has " + name + " of shape " +
                                     shape_text(t.sizes().vec()) + "; this recipe's model has " +
                                     expected_name + " of shape " + shape_text(expected));
            }
        };
        for (const auto& item : m_model->named_parameters()) {
            check(item.key(), item.value());
        }
        for (const auto& item : m_model->named_buffers()) {
            check(item.key(), item.value());
        }
        // The optimizer keeps its options (from the recipe); only its per-parameter state
        // (momentum buffers) comes from the checkpoint.
        torch::serialize::InputArchive optimizer;
        read_archive(resume, "optimizer.pt", optimizer);
        load_optimizer_state(optimizer, *m_optimizer, what);
        torch::serialize::InputArchive rng;
        read_archive(resume, "rng.pt", rng);
        torch::Tensor rng_state;
        rng.read("cpu", rng_state, /*is_buffer=*/true);
        auto generator = at::detail::getDefaultCPUGenerator();
        const std::lock_guard<std::mutex> lock(generator.mutex());
        generator.set_state(rng_state);
    } catch (const c10::Error& e) {
        throw RuntimeFailure(what + "its model or optimizer does not fit this recipe's model (" +
                             e.what_without_backtrace() + ")");
    }
    std::memcpy(m_state->loss.data_ptr<float>(), resume.loss.data(), size * sizeof(float));
    std::memcpy(m_state->correct.data_ptr<std::uint8_t>(), resume.correct.data(), size);
    std::memcpy(m_state->confidence.data_ptr<float>(), resume.confidence.data(),
                size * sizeof(float));

    const checkpoint::Position& pos = loop.position;
    m_epoch = pos.epochs_done();
    m_started = pos.epoch;
    m_summary.epochs_done = pos.epochs_done();
    m_summary.final_accuracy = loop.final_accuracy;
    m_summary.best_accuracy = loop.best_accuracy;
    if (pos.epoch_end) {
        m_step = 0;
        m_has_plan = false;
        m_completed_hidden = resume.hidden_ids;
    } else {
        m_plan = loop.plan;
        m_has_plan = true;
        m_step = pos.step;
        m_train_steps =
            batches_of(max_shard_size(m_plan.train_ids.size(), m_rank.world),
                       std::max<std::int64_t>(1, m_config.data.batch_size / m_rank.world));
        m_refresh_steps = batches_of(max_shard_size(m_plan.refresh_ids.size(), m_rank.world),
                                     m_config.data.eval_batch_size);
        if (m_train_steps != loop.train_steps || m_refresh_steps != loop.refresh_steps ||
            m_step > m_train_steps + m_refresh_steps) {
            throw RuntimeFailure(
                what + "it stopped inside epoch " + std::to_string(pos.epoch) + " after batch " +
                std::to_string(pos.step) + " of " +
                std::to_string(loop.train_steps + loop.refresh_steps) +
                ", but this recipe's batch sizes split that epoch into " +
                std::to_string(m_train_steps + m_refresh_steps) +
                " batches; resume from an epoch-end checkpoint or with the original batch sizes");
        }
        const bool ids_ok = m_plan.num_samples == n &&
                            (m_plan.train_weights.empty() ||
                             m_plan.train_weights.size() == m_plan.train_ids.size()) &&
                            std::all_of(m_plan.train_ids.begin(), m_plan.train_ids.end(),
                                        [n](std::int64_t id) { return id >= 0 && id < n; }) &&
                            std::all_of(m_plan.refresh_ids.begin(), m_plan.refresh_ids.end(),
                                        [n](std::int64_t id) { return id >= 0 && id < n; });
        if (!ids_ok) {
            throw RuntimeFailure(what + "its epoch plan does not fit " + std::to_string(n) +
                                 " training samples (the checkpoint is damaged)");
        }
        m_train_totals.restore(loop);
        m_result.train_loss = loop.train_loss;
        m_result.train_accuracy = loop.train_accuracy;
        m_result.lr = loop.lr;
        m_result.samples_per_s = loop.samples_per_s;
        m_result.train_s = loop.train_s;
        m_result.hidden_pass_s = loop.hidden_pass_s;
    }
    m_last_checkpoint = pos;
}

Summary Run::run() {
    if (m_resume == nullptr) {
        log("cache_clear", true);
        log("init_start");
    }
    setup();
    if (m_resume == nullptr) {
        log_hyperparameters();
        log("init_stop");
        log("run_start");
    } else {
        // The log was cut back to the checkpoint: it goes on from there, after one record that
        // marks the attempt taking over (the init records and run_start are the first attempt's).
        restore(*m_resume);
        const checkpoint::Position& pos = m_resume->loop.position;
        log("resume", m_resume->name,
            {{"epoch_num", pos.epoch}, {"step", static_cast<long long>(pos.step)}});
    }
    m_run_start = Clock::now();
    m_last_progress = m_run_start;
    m_last_checkpoint_time = m_run_start;
    m_log_at_epoch = m_log_at_train = m_log_at_refresh = log_size();

    Summary& summary = m_summary;
    summary.num_train_samples = m_data.train.size();
    summary.num_test_samples = m_data.test.size();
    const ScheduleConfig& schedule = m_config.schedule;
    // A run resumed after the epoch that reached its target is done.
    summary.target_reached = m_resume != nullptr && m_resume->loop.position.epoch_end &&
                             m_config.target_accuracy &&
                             summary.final_accuracy >= *m_config.target_accuracy;
    try {
        try {
            while (!summary.target_reached && m_epoch < schedule.epochs) {
                auto epoch_start = Clock::now();
                if (m_has_plan) {
                    // Resumed inside this epoch: count the time it took before.
                    epoch_start -= std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(m_result.train_s + m_result.hidden_pass_s));
                } else {
                    check_stop();
                    begin_epoch();
                }
                EpochResult result = run_epoch(m_plan);
                result.total_s = seconds_between(epoch_start, Clock::now());
                log_epoch("epoch_stop");

                result.hidden_ids = m_plan.hidden_ids;
                result.loss = m_state->loss_span();
                result.correct = m_state->correct_span();
                result.confidence = m_state->confidence_span();
                m_observer.on_epoch(result);

                summary.epochs_done = m_epoch + 1;
                summary.final_accuracy = result.test_accuracy;
                summary.best_accuracy = std::max(summary.best_accuracy, result.test_accuracy);
                summary.target_reached =
                    m_config.target_accuracy && result.test_accuracy >= *m_config.target_accuracy;

                // The epoch is complete: the loop stands at its end.
                m_completed_hidden = std::move(m_plan.hidden_ids);
                m_plan = hiding::EpochPlan{};
                m_has_plan = false;
                m_step = 0;
                ++m_epoch;
                m_log_at_epoch = log_size();
                const bool last = m_epoch >= schedule.epochs || summary.target_reached;
                if (m_schedule && m_schedule->due_at_epoch_end(m_epoch, last)) {
                    save_checkpoint(last ? checkpoint::Reason::final : checkpoint::Reason::epoch);
                }
            }
        } catch (const Interrupted&) {
            summary.interrupted = true;
            if (m_schedule) {
                save_checkpoint(checkpoint::Reason::signal);
            }
        }
    } catch (...) {
        log("run_stop", Json::null(), {{"status", "aborted"}, {"epoch_num", m_started}});
        throw;
    }
    summary.model_digest = model_digest(*m_model);
    if (m_comm) {
        check_same_on_all_ranks({static_cast<double>(summary.model_digest >> 32),
                                 static_cast<double>(summary.model_digest & 0xffffffffULL)},
                                "the final weights (the ranks diverged: a bug)");
        if (m_step_comm_count > 0) {
            util::log_debug(
                "rank " + std::to_string(m_rank.rank) + ": " + std::to_string(m_step_comm_count) +
                " step all-reduces of " + std::to_string(m_train_bucket.flat.numel()) +
                " floats, " +
                std::to_string(1e3 * m_step_comm_s / static_cast<double>(m_step_comm_count)) +
                " ms each on average");
        }
    }
    log("run_stop", Json::null(),
        {{"status", summary.target_reached ? "success" : "aborted"}, {"epoch_num", m_started}});
    return summary;
}

} // namespace

Summary train(const Config& config, Observer& observer, util::MlLog& mllog,
              const std::atomic<bool>* stop, const checkpoint::Resume* resume) {
    try {
        Run run(config, observer, mllog, stop, resume);
        return run.run();
    } catch (const c10::Error& e) {
        throw RuntimeFailure(std::string("training failed: ") + e.what_without_backtrace());
    }
}

} // namespace kakuren::trainer

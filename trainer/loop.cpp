// train(): the epoch loop around the hiding policy's plan.
//
// Written for one process today, with the seams a multi-rank version needs: the per-sample state
// covers all N samples on every rank, the plan is computed identically everywhere, and each rank
// trains on its strided shard of plan.train_ids (rank r takes r, r + W, ...). A later version
// all-reduces the gradients per step and the state's entries once per epoch before planning.
#include <malloc.h>

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
#include "trainer/models.hpp"
#include "trainer/schedule.hpp"
#include "trainer/trainer.hpp"
#include "util/error.hpp"
#include "util/json.hpp"
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

/// This process's place among the ranks of one run (world size 1 for now).
struct Rank {
    int rank = 0;
    int world = 1;
    [[nodiscard]] bool writes_log() const { return rank == 0; }
};

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

    /// Stores one batch's statistics (vectorised; no tensor may need grad). Returns the batch's
    /// correct mask (bool).
    torch::Tensor record(const torch::Tensor& ids, const torch::Tensor& losses,
                         const torch::Tensor& logits, const torch::Tensor& log_probs,
                         const torch::Tensor& labels, bool confidence_over_batch) {
        auto [max_log_prob, predicted] = log_probs.max(1);
        torch::Tensor is_correct = predicted.eq(labels);
        loss.index_copy_(0, ids, losses);
        correct.index_copy_(0, ids, is_correct.to(torch::kUInt8));
        // max softmax = exp(max log softmax); the reference quirk normalises over the batch.
        confidence.index_copy_(0, ids,
                               confidence_over_batch ? torch::softmax(logits, 0).amax(1)
                                                     : max_log_prob.exp_());
        return is_correct;
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
        : m_config(config), m_observer(observer), m_mllog(mllog), m_stop(stop), m_resume(resume) {
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
    void check_stop() const {
        if (m_stop != nullptr && m_stop->load(std::memory_order_relaxed)) {
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
    void eval_phase(EpochResult& result);
    void progress(const char* phase, std::int64_t step, std::int64_t num_steps,
                  std::int64_t samples, Clock::time_point phase_start, bool force);
    torch::Tensor gather(const torch::Tensor& source, const torch::Tensor& ids,
                         torch::Tensor& buffer);
    // Checkpoints and resume.
    [[nodiscard]] std::int64_t log_size() const;
    [[nodiscard]] std::int64_t shard_size(std::size_t n) const;
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

    m_data = load_data(data);
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
}

void Run::log_hyperparameters() {
    const auto& s = m_config.schedule;
    const auto& h = m_config.hiding;
    const int threads = m_config.threads > 0 ? m_config.threads : util::available_cpus();
    log("submission_benchmark", m_config.benchmark_name);
    log("submission_org", "kakuren");
    log("submission_division", "open");
    log("submission_status", "research");
    log("submission_platform", "1xCPU-" + std::to_string(threads) + "c");
    log("seed", static_cast<long long>(m_config.seed));
    log("number_of_ranks", m_rank.world);
    log("number_of_nodes", 1);
    log("accelerators_per_node", 0);
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

    const std::int64_t n = ids_all.size(0);
    const std::int64_t batch = std::max<std::int64_t>(1, m_config.data.batch_size / m_rank.world);
    const std::int64_t num_steps = (n + batch - 1) / batch;
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
    progress("train", num_steps, num_steps, n, start, true);
    std::tie(result.train_loss, result.train_accuracy) = totals.means();
    result.lr = lr / plan.lr_scale; // the schedule's LR; lr_scale is recorded beside it
    result.samples_per_s = result.train_s > 0 ? static_cast<double>(n) / result.train_s : 0.0;
}

void Run::refresh_phase(const hiding::EpochPlan& plan, EpochResult& result) {
    const Shard shard(plan.refresh_ids, m_rank);
    const torch::Tensor ids_all = view_of(shard.ids());
    const std::int64_t n = ids_all.size(0);
    const std::int64_t batch = m_config.data.eval_batch_size;
    const std::int64_t num_steps = (n + batch - 1) / batch;
    const double before_s = result.hidden_pass_s; // the part of the phase before a resume
    const auto start = Clock::now();
    m_phase_start = start;
    m_phase_base_s = before_s;
    m_phase = Phase::refresh;
    if (n > 0) {
        // Eval mode unless the reference quirk asks for train mode (BatchNorm statistics then
        // move with the hidden samples too).
        m_model->train(m_config.stats.hidden_pass_train_mode);
        torch::InferenceMode inference;
        m_model->prepare_inference();
        for (std::int64_t step = m_step - m_train_steps; step < num_steps; ++step) {
            at_batch_boundary();
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
    result.refreshed = n;
    progress("refresh", num_steps, num_steps, n, start, true);
}

void Run::eval_phase(EpochResult& result) {
    const Dataset& test = m_data.test;
    const std::int64_t n = test.size();
    const std::int64_t batch = m_config.data.eval_batch_size;
    const std::int64_t num_steps = (n + batch - 1) / batch;
    const auto start = Clock::now();
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

hiding::EpochContext Run::epoch_context() const {
    const ScheduleConfig& schedule = m_config.schedule;
    return {m_epoch, schedule.epochs, schedule.warmup_epochs, m_lr_milestones};
}

/// One forward-only batch of the refresh or full pass: records the samples' loss, correctness and
/// confidence. Call inside InferenceMode after prepare_inference.
void Run::refresh_batch(const torch::Tensor& ids) {
    const torch::Tensor images = torch::index_select(m_data.train.images, 0, ids);
    const torch::Tensor labels = torch::index_select(m_data.train.labels, 0, ids);
    const torch::Tensor logits = m_config.stats.hidden_pass_train_mode
                                     ? m_model->forward(images)
                                     : m_model->forward_inference(images);
    const torch::Tensor log_probs = torch::log_softmax(logits, 1);
    const torch::Tensor losses = torch::nll_loss(log_probs, labels, {}, at::Reduction::None);
    m_state->record(ids, losses, logits, log_probs, labels, m_config.stats.confidence_over_batch);
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
    const std::int64_t num_steps = (n + batch - 1) / batch;
    const auto start = Clock::now();
    {
        m_model->train(m_config.stats.hidden_pass_train_mode);
        torch::InferenceMode inference;
        m_model->prepare_inference();
        for (std::int64_t step = 0; step < num_steps; ++step) {
            check_stop();
            const std::int64_t begin = step * batch;
            const torch::Tensor ids = ids_all.narrow(0, begin, std::min(batch, n - begin));
            refresh_batch(ids);
            progress("refresh", step + 1, num_steps, begin + ids.size(0), start, false);
        }
    }
    m_model->train();
    progress("refresh", num_steps, num_steps, n, start, true);
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
    m_train_steps = batches_of(shard_size(m_plan.train_ids.size()),
                               std::max<std::int64_t>(1, m_config.data.batch_size / m_rank.world));
    m_refresh_steps =
        batches_of(shard_size(m_plan.refresh_ids.size()), m_config.data.eval_batch_size);
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

std::int64_t Run::shard_size(std::size_t n) const {
    const auto rank = static_cast<std::size_t>(m_rank.rank);
    const auto world = static_cast<std::size_t>(m_rank.world);
    return n > rank ? static_cast<std::int64_t>((n - rank + world - 1) / world) : 0;
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
    if (m_schedule && m_step > 0) {
        const double since_s = seconds_between(m_last_checkpoint_time, Clock::now());
        if (m_schedule->due_within_epoch(m_batches_since_checkpoint, since_s)) {
            const auto& c = m_schedule->config();
            save_checkpoint(c.every_steps > 0 && m_batches_since_checkpoint >= c.every_steps
                                ? checkpoint::Reason::steps
                                : checkpoint::Reason::seconds);
        }
    }
    check_stop();
}

void Run::save_checkpoint(checkpoint::Reason reason) {
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
            batches_of(shard_size(m_plan.train_ids.size()),
                       std::max<std::int64_t>(1, m_config.data.batch_size / m_rank.world));
        m_refresh_steps =
            batches_of(shard_size(m_plan.refresh_ids.size()), m_config.data.eval_batch_size);
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

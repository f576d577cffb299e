// The batches of each phase: training steps, the refresh of hidden samples, the full refresh a
// policy may ask for before it plans, and evaluation. The same code for one rank and for many:
// each rank walks its strided share of the phase's id list, and the replicator hands back the
// global batch's outcome, which every rank stores (see replicator.cpp).
#include <cmath>
#include <exception>
#include <functional>
#include <numeric>
#include <optional>

#include "trainer/run.hpp"
#include "trainer/schedule.hpp"
#include "util/error.hpp"
#include "util/stop.hpp"

namespace kakuren::trainer {
namespace {

constexpr double k_progress_interval_s = 0.25;

/// A tensor viewing a vector's memory (no copy; the vector must outlive it and not grow).
torch::Tensor view_of(std::span<const float> values) {
    return torch::from_blob(const_cast<float*>(values.data()),
                            {static_cast<std::int64_t>(values.size())}, torch::kFloat32);
}

/// The rank's share of per-entry loss weights (entries rank, rank + world, ...).
std::vector<float> shard_weights(const std::vector<float>& weights, int rank, int world) {
    std::vector<float> out;
    for (auto i = static_cast<std::size_t>(rank); i < weights.size();
         i += static_cast<std::size_t>(world)) {
        out.push_back(weights[i]);
    }
    return out;
}

/// The model in forward-only mode for a scope: in train mode or not (BatchNorm), under
/// InferenceMode, prepared for inference; back in train mode after it. Not when the scope is
/// left by an exception: a stopped run checkpoints the model as the phase left it.
class ForwardOnly {
  public:
    ForwardOnly(Model& model, bool train_mode)
        : m_model(model), m_exceptions(std::uncaught_exceptions()) {
        model.train(train_mode);
        m_inference.emplace();
        model.prepare_inference();
    }
    ~ForwardOnly() {
        if (std::uncaught_exceptions() == m_exceptions) {
            m_model.train();
        }
    }
    ForwardOnly(const ForwardOnly&) = delete;
    ForwardOnly& operator=(const ForwardOnly&) = delete;

  private:
    Model& m_model;
    int m_exceptions;
    std::optional<torch::InferenceMode> m_inference;
};

} // namespace

double Run::record(std::span<const std::int64_t> ids, std::int64_t first, const Outcome& out,
                   Totals* totals) {
    torch::NoGradGuard no_grad;
    store_outcome(
        m_state,
        ids.subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(out.count())), out);
    return totals != nullptr ? totals->add(out.losses, out.correct) : 0.0;
}

void Run::check_finite(double loss_sum, std::int64_t step, std::int64_t num_steps) const {
    if (!m_ctx.config.stop_on_nan || std::isfinite(loss_sum)) {
        return;
    }
    // Every rank holds the global batch's losses, so every rank stops at this same step.
    throw Diverged{"the training loss is " + std::string(std::isnan(loss_sum) ? "nan" : "inf") +
                   " (not finite) at epoch " + std::to_string(m_cursor.epoch + 1) + ", step " +
                   std::to_string(step + 1) + " of " + std::to_string(num_steps) +
                   ": the data holds NaN or infinite values, or the model diverged (a lower "
                   "optimizer.lr may help); run.stop_on_nan = false trains on"};
}

void Run::run_steps(const PhaseLoop& loop, Clock::time_point start,
                    const std::function<std::int64_t(std::int64_t)>& step) {
    for (std::int64_t k = loop.first; k < loop.num_steps; ++k) {
        if (loop.resumable) {
            at_batch_boundary();
        } else {
            check_stop_at_batch();
        }
        const std::int64_t samples = step(k);
        if (loop.resumable) {
            m_cursor.step = loop.cursor_base + k + 1;
            m_checkpoints.count_batch();
        }
        progress(loop.name, k + 1, loop.num_steps, samples, start, false);
        if (loop.pause != nullptr) {
            util::pause_point(loop.pause);
        }
    }
}

void Run::train_phase(const hiding::EpochPlan& plan, EpochResult& result) {
    const bool weighted = !plan.train_weights.empty();
    if (weighted && plan.train_weights.size() != plan.train_ids.size()) {
        throw RuntimeFailure("hiding policy " + m_policy->name() + " returned " +
                             std::to_string(plan.train_weights.size()) + " loss weights for " +
                             std::to_string(plan.train_ids.size()) + " training samples");
    }
    const Shard shard(plan.train_ids, m_ctx.rank, m_ctx.world);
    const std::vector<float> own_weights =
        weighted && m_ctx.world > 1 ? shard_weights(plan.train_weights, m_ctx.rank, m_ctx.world)
                                    : std::vector<float>{};
    const torch::Tensor weights =
        weighted ? view_of(m_ctx.world > 1 ? own_weights : plan.train_weights) : torch::Tensor();
    const auto n_global = static_cast<std::int64_t>(plan.train_ids.size());
    const std::int64_t batch = m_geometry.local_batch;
    const std::int64_t global_batch = batch * m_ctx.world;
    const std::int64_t num_steps = m_geometry.train_steps_of(plan);
    Prefetcher reader(*m_data.train, shard.ids(), batch, m_buffers.train, m_cursor.epoch);

    const auto lr_at = [&](double frac) { // the hiding scale on top of the schedule's LR
        return scheduled_lr(m_ctx.config.schedule, m_ctx.config.optim.lr, m_cursor.epoch, frac,
                            m_geometry.steps_full_epoch) *
               plan.lr_scale;
    };
    double lr = lr_at(1.0);
    m_engine->model().train();
    // The part of the phase before a resume counts too.
    const auto start = m_timer.begin(PhaseTimer::Phase::train, result.train_s);
    const PhaseLoop loop{.name = "train",
                         .first = m_cursor.step,
                         .num_steps = num_steps,
                         .resumable = true,
                         .cursor_base = 0,
                         .pause = "train"};
    run_steps(loop, start, [&](std::int64_t step) {
        lr = lr_at(epoch_fraction(step, num_steps));
        m_engine->set_lr(lr);
        const std::int64_t len = reader.length(step);
        const Batch samples = reader.read(step);
        util::pause_point("step"); // inside the step: past its boundary's stop check
        const Outcome out = m_engine->train_step(
            samples, weighted && len > 0 ? weights.narrow(0, step * batch, len) : torch::Tensor());
        const double loss_sum = record(plan.train_ids, step * global_batch, out, &m_cursor.totals);
        check_finite(loss_sum, step, num_steps); // before this step counts as done
        return std::min(n_global, (step + 1) * global_batch);
    });
    result.train_s = m_timer.end();
    progress("train", num_steps, num_steps, n_global, start, true);
    std::tie(result.train_loss, result.train_accuracy) = m_cursor.totals.means();
    result.lr = lr / plan.lr_scale; // the schedule's LR; lr_scale is recorded beside it
    // All ranks together (the global batch's samples).
    result.samples_per_s =
        result.train_s > 0 ? static_cast<double>(n_global) / result.train_s : 0.0;
}

void Run::forward_pass(std::span<const std::int64_t> ids, const PhaseLoop& loop,
                       Clock::time_point start) {
    const Shard shard(ids, m_ctx.rank, m_ctx.world);
    const auto n_global = static_cast<std::int64_t>(ids.size());
    const std::int64_t batch = m_geometry.eval_batch;
    const std::int64_t global_batch = batch * m_ctx.world;
    // Eval mode unless the reference quirk asks for train mode (BatchNorm statistics then move
    // with the refreshed samples too).
    const bool train_mode = m_ctx.config.stats.hidden_pass_train_mode;
    const ForwardOnly forward(m_engine->model(), train_mode);
    Prefetcher reader(*m_data.train, shard.ids(), batch, m_buffers.forward);
    run_steps(loop, start, [&](std::int64_t step) {
        record(ids, step * global_batch, m_engine->forward(reader.read(step), train_mode), nullptr);
        return std::min(n_global, (step + 1) * global_batch);
    });
}

void Run::refresh_phase(const hiding::EpochPlan& plan, EpochResult& result) {
    const auto n_global = static_cast<std::int64_t>(plan.refresh_ids.size());
    const std::int64_t num_steps = m_geometry.refresh_steps_of(plan);
    // The part of the phase before a resume counts too.
    const auto start = m_timer.begin(PhaseTimer::Phase::refresh, result.hidden_pass_s);
    if (num_steps > 0) {
        forward_pass(plan.refresh_ids,
                     {.name = "refresh",
                      .first = m_cursor.step - m_cursor.train_steps,
                      .num_steps = num_steps,
                      .resumable = true,
                      .cursor_base = m_cursor.train_steps,
                      .pause = "refresh"},
                     start);
    }
    result.hidden_pass_s = m_timer.end();
    result.refreshed = n_global;
    progress("refresh", num_steps, num_steps, n_global, start, true);
}

/// The forward-only pass over every training sample that a policy may ask for before it plans
/// (iswr). Stats are recorded as in the refresh phase; returns its seconds. It runs before the
/// epoch's first batch, so a stop here resumes at the start of the epoch and repeats it.
double Run::full_refresh() {
    const std::int64_t n = m_data.train->size();
    std::vector<std::int64_t> all(static_cast<std::size_t>(n));
    std::iota(all.begin(), all.end(), std::int64_t{0});
    const std::int64_t num_steps =
        batches_of(max_shard_size(all.size(), m_ctx.world), m_geometry.eval_batch);
    const auto start = Clock::now();
    forward_pass(all,
                 {.name = "refresh",
                  .first = 0,
                  .num_steps = num_steps,
                  .resumable = false,
                  .cursor_base = 0,
                  .pause = nullptr},
                 start);
    progress("refresh", num_steps, num_steps, n, start, true);
    return seconds_between(start, Clock::now());
}

/// Evaluation: rank r takes the r-th contiguous block of the test set (one rank: all of it);
/// the loss sum, metric sum and sample count are summed over the ranks each batch.
void Run::eval_phase(EpochResult& result) {
    const SampleSource& test = *m_data.test;
    const std::int64_t n = test.size();
    const std::int64_t batch = m_ctx.config.data.eval_batch_size;
    const std::int64_t block_begin = n * m_ctx.rank / m_ctx.world;
    const std::int64_t block_end = n * (m_ctx.rank + 1) / m_ctx.world;
    const std::int64_t num_steps = batches_of((n + m_ctx.world - 1) / m_ctx.world, batch);
    const auto start = Clock::now();
    EvalSums total;
    {
        const ForwardOnly forward(m_engine->model(), false);
        // A streaming source's reader threads read the rank's block ahead of the steps.
        std::vector<std::int64_t> block;
        if (test.reader_threads() > 0) {
            block.resize(static_cast<std::size_t>(block_end - block_begin));
            std::iota(block.begin(), block.end(), block_begin);
        }
        BatchBuffer unused;
        Prefetcher ahead(test, block, batch, unused);
        const PhaseLoop loop{.name = "eval",
                             .first = 0,
                             .num_steps = num_steps,
                             .resumable = false,
                             .cursor_base = 0,
                             .pause = "eval"};
        run_steps(loop, start, [&](std::int64_t step) {
            const std::int64_t begin = block_begin + step * batch;
            const std::int64_t len = std::clamp<std::int64_t>(block_end - begin, 0, batch);
            const EvalSums sums =
                m_engine->evaluate(len <= 0                    ? Batch{}
                                   : test.reader_threads() > 0 ? ahead.read(step)
                                                               : test.read_range(begin, len));
            total.loss += sums.loss;
            total.metric += sums.metric;
            total.count += sums.count;
            return static_cast<std::int64_t>(total.count);
        });
    }
    result.test_loss = total.count > 0 ? total.loss / total.count : 0.0;
    result.test_accuracy = total.count > 0 ? total.metric / total.count : 0.0;
    result.eval_s = seconds_between(start, Clock::now());
    progress("eval", num_steps, num_steps, n, start, true);
}

void Run::progress(const char* phase, std::int64_t step, std::int64_t num_steps,
                   std::int64_t samples, Clock::time_point phase_start, bool force) {
    const auto now = Clock::now();
    if (!m_timer.progress_due(now, force, k_progress_interval_s)) {
        return;
    }
    StepProgress p;
    p.epoch = m_cursor.epoch + 1;
    p.num_epochs = m_ctx.config.schedule.epochs;
    p.step = step;
    p.num_steps = num_steps;
    p.phase = phase;
    const double phase_s = seconds_between(phase_start, now);
    p.samples_per_s = phase_s > 0 ? static_cast<double>(samples) / phase_s : 0.0;
    p.hidden_fraction = m_cursor.hidden_fraction;
    p.elapsed_s = m_timer.elapsed_s(now);
    p.samples = samples;
    p.has_loss = m_cursor.totals.count > 0;
    p.loss_mean = m_cursor.totals.means().first;
    m_ctx.observer.on_progress(p);
}

} // namespace kakuren::trainer

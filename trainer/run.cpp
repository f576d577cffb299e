// train(): set-up and the epoch loop around the hiding policy's plan.
#include "trainer/run.hpp"

#include <algorithm>
#include <functional>
#include <string>

#include "trainer/data_paths.hpp"
#include "trainer/data_tools.hpp"
#include "trainer/mlperf_records.hpp"
#include "trainer/model_fit.hpp"
#include "trainer/models.hpp"
#include "trainer/schedule.hpp"
#include "trainer/stream.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/metrics.hpp"
#include "util/mlperf_keys.hpp"
#include "util/stop.hpp"

namespace kakuren::trainer {

using util::Json;
namespace key = util::mlperf::key;

ModelShape model_shape(const DataInfo& info, const Task& task, const ModelConfig& model,
                       const std::string& task_kind) {
    ModelShape shape{info.channels, info.height, info.width, info.num_classes};
    shape.task = task_kind;
    shape.input = info.sample_shape;
    shape.output = task.output_shape(info);
    shape.classes = shape.output.front();
    if (model.kind != "torchscript" && !model.inputs.empty() && model.inputs != shape.input) {
        throw RuntimeFailure("model.inputs = " + c10::str(c10::IntArrayRef(model.inputs)) +
                             " but the data's samples have shape " +
                             c10::str(c10::IntArrayRef(shape.input)));
    }
    return shape;
}

Run::Run(const Config& config, Observer& observer, util::MlLog& mllog,
         const std::atomic<bool>* stop, const checkpoint::Resume* resume)
    : m_ctx{config, observer, mllog, stop, resume, config.dist.rank, config.dist.world},
      m_checkpoints(config.checkpoint) {}

void Run::setup() {
    const DataConfig& data = m_ctx.config.data;
    if (data.batch_size < 1 || data.eval_batch_size < 1) {
        throw UsageError("data.batch_size and data.eval_batch_size must be >= 1");
    }
    const std::string& schedule_kind = m_ctx.config.schedule.kind;
    if (schedule_kind != "step" && schedule_kind != "multistep" && schedule_kind != "cosine") {
        throw UsageError("unknown schedule.kind \"" + schedule_kind +
                         "\"; expected step, multistep or cosine");
    }
    m_device.emplace(m_ctx.config.device, m_ctx.config.threads, m_ctx.config.dist.local_rank);
    const DistConfig& dist = m_ctx.config.dist;
    if (dist.world < 1 || dist.rank < 0 || dist.rank >= dist.world) {
        throw UsageError("invalid rank " + std::to_string(dist.rank) + " for world size " +
                         std::to_string(dist.world) + "; expected 0 <= rank < world");
    }
    if (m_ctx.config.stage) {
        // Data staging: inside init, before loading (train_samples must precede init_stop).
        DataConfig staged = data;
        m_ctx.log(key::staging_start);
        const std::int64_t bytes = m_ctx.config.stage(staged);
        m_ctx.log(key::staging_stop, Json::null(),
                  {{"staged_bytes", static_cast<long long>(bytes)}});
        m_data = open_sources(staged);
    } else {
        m_data = open_sources(data);
    }
    m_replicator = m_ctx.world > 1
                       ? make_c10d_replicator(dist, m_device->torch_device(), m_ctx.stop)
                       : make_local_replicator(m_ctx.stop);
    m_ctx.observer.on_start(m_data.train->size(), m_data.test->size());
    setup_model();

    hiding::Config hiding_config = m_ctx.config.hiding;
    if (hiding_config.seed == 0) {
        hiding_config.seed = m_ctx.config.seed;
    }
    m_policy = hiding::make_policy(hiding_config); // a bad config: hiding's own UsageError
    m_state = util::SampleStats(static_cast<std::size_t>(m_data.train->size()));
    m_geometry = BatchGeometry::of(m_ctx.config, m_data.train->size());
    if (m_ctx.world > 1) {
        check_same_on_all_ranks();
    }
    m_replicator->attach(m_engine->model(), m_geometry.local_batch, data.eval_batch_size,
                         m_ctx.config.stats.hidden_pass_train_mode);
}

void Run::setup_model() {
    Device::seed(m_ctx.config.seed);
    m_task = make_task(m_ctx.config.task, m_ctx.config.stats);
    std::shared_ptr<Model> model =
        make_model(m_ctx.config.model,
                   model_shape(m_data.info, *m_task, m_ctx.config.model, m_ctx.config.task.kind));
    model->train();
    model->to(m_device->torch_device()); // before the optimizer takes its parameters
    if (m_device->pin_batches()) {
        m_buffers = PhaseBuffers::pinned();
    }
    m_engine =
        std::make_unique<StepEngine>(std::move(model), m_ctx.config.optim, *m_task, *m_replicator,
                                     *m_device, m_ctx.config.data.accumulation_steps);
}

void Run::check_same_on_all_ranks() {
    // Ranks started with different recipes would deadlock or silently diverge: compare what
    // shapes the collectives, and the initial weights.
    const std::uint64_t digest = model_digest(m_engine->model());
    const auto& c = m_ctx.config;
    m_replicator->check_same(
        {static_cast<double>(m_data.train->size()), static_cast<double>(m_data.test->size()),
         static_cast<double>(count_parameters(m_engine->model())),
         static_cast<double>(c.data.batch_size), static_cast<double>(c.data.eval_batch_size),
         static_cast<double>(c.schedule.epochs), static_cast<double>(c.seed % (1ULL << 52)),
         c.hiding.fraction,
         static_cast<double>(std::hash<std::string>{}(c.hiding.strategy) % (1ULL << 52)),
         static_cast<double>(digest >> 32), static_cast<double>(digest & 0xffffffffULL)},
        "the data set, model, batch sizes, seed or hiding settings");
}

void Run::check_stop() {
    if (m_replicator->stop_at_phase()) {
        throw Interrupted{};
    }
}

void Run::check_stop_at_batch() const {
    if (m_replicator->stop_at_batch()) {
        throw Interrupted{};
    }
}

bool Run::target_reached(double metric) const {
    if (!m_ctx.config.target_accuracy) {
        return false;
    }
    return m_task->lower_is_better() ? metric <= *m_ctx.config.target_accuracy
                                     : metric >= *m_ctx.config.target_accuracy;
}

hiding::EpochContext Run::epoch_context() const {
    const ScheduleConfig& schedule = m_ctx.config.schedule;
    return {m_cursor.epoch, schedule.epochs, schedule.warmup_epochs, m_geometry.lr_milestones};
}

void Run::begin_epoch() {
    m_marks.begin_epoch(m_ctx.log_size(), m_data.train->bytes_read());
    log_epoch(key::epoch_start);
    m_cursor.started = m_cursor.epoch + 1;
    const hiding::EpochContext ctx = epoch_context();
    // A policy that samples from fresh losses of every sample (iswr) gets them first.
    const double full_refresh_s = m_policy->wants_full_refresh(ctx) ? full_refresh() : 0.0;
    m_cursor.begin(m_policy->plan_epoch(ctx, m_state.view()), m_geometry);
    m_cursor.result.hidden_pass_s = full_refresh_s; // counted with the refresh phase's time

    log_epoch(key::hidden_samples, static_cast<long long>(m_cursor.plan.hidden_ids.size()));
    log_epoch(key::moved_back_samples, static_cast<long long>(m_cursor.plan.num_moved_back));
    log_epoch(key::realised_hidden_fraction, m_cursor.plan.realised_fraction());
    if (m_cursor.plan.num_distinct_trained() !=
        static_cast<std::int64_t>(m_cursor.plan.train_ids.size())) {
        // Draws with replacement (iswr): how many draws, and how many distinct samples they hit.
        log_epoch(key::drawn_samples, static_cast<long long>(m_cursor.plan.train_ids.size()));
        log_epoch(key::distinct_trained_samples,
                  static_cast<long long>(m_cursor.plan.num_distinct_trained()));
    }
    m_marks.begin_train(m_ctx.log_size());
}

EpochResult Run::run_epoch(const hiding::EpochPlan& plan) {
    EpochResult& result = m_cursor.result; // holds what a resumed epoch did before
    result.epoch = m_cursor.epoch + 1;
    result.metric_name = m_task->metric_name();
    result.lr_scale = plan.lr_scale;
    result.max_fraction = plan.max_fraction;
    result.visible = static_cast<std::int64_t>(plan.train_ids.size());
    result.hidden = static_cast<std::int64_t>(plan.hidden_ids.size());
    result.moved_back = plan.num_moved_back;
    result.candidates = plan.num_candidates;
    m_cursor.hidden_fraction = plan.realised_fraction();

    // A resumed epoch whose training steps were all done (their records are in the log) goes
    // straight to the refresh pass.
    const bool trained_before = m_cursor.step > 0 && m_cursor.step >= m_cursor.train_steps;
    if (!trained_before) {
        train_phase(plan, result);
        log_epoch(key::learning_rate, result.lr * result.lr_scale); // the LR the optimizer used
        log_epoch(key::lr_scale, result.lr_scale);
        log_epoch(key::train_loss, result.train_loss);
        m_marks.begin_refresh(m_ctx.log_size());
    }
    check_stop();

    refresh_phase(plan, result);
    if (m_policy->wants_full_refresh(epoch_context())) {
        result.refreshed += m_data.train->size(); // the full pass before planning
    }
    check_stop();

    log_epoch(key::eval_start);
    eval_phase(result);
    // The record util/metrics.hpp names for the metric: an accuracy-like one (eval_accuracy)
    // also gives its error, 1 - accuracy; an error (MAE: eval_error) is logged as it is.
    const util::metrics::Metric* metric = util::metrics::find(m_task->metric_name());
    const std::string_view metric_key = metric != nullptr ? metric->mlperf_key : key::eval_accuracy;
    log_epoch(metric_key, result.test_accuracy);
    if (metric_key == key::eval_accuracy) {
        log_epoch(key::eval_error, 1.0 - result.test_accuracy);
    }
    log_epoch(key::eval_stop);
    return result;
}

void Run::end_epoch(EpochResult result, Clock::time_point epoch_start) {
    result.total_s = seconds_between(epoch_start, Clock::now());
    if (m_data.train->streams()) {
        // Each rank reads its own shard: the epoch's bytes are the whole job's, summed over the
        // ranks (every rank streams, so every rank takes part in the sum).
        const auto local_bytes =
            static_cast<std::int64_t>(m_marks.bytes_since(m_data.train->bytes_read()));
        result.bytes_read = m_replicator->sum_count(local_bytes);
        if (m_ctx.world > 1) {
            util::log_info("rank " + std::to_string(m_ctx.rank) + " of " +
                           std::to_string(m_ctx.world) + " read " + std::to_string(local_bytes) +
                           " bytes in epoch " + std::to_string(m_cursor.epoch + 1) +
                           " (all ranks: " + std::to_string(*result.bytes_read) + ")");
        }
    }
    result.comm_s = m_marks.comm_since(m_replicator->comm_times().wait_s);
    if (m_ctx.world > 1) {
        // Communication not hidden behind computation (one-rank logs stay as they were).
        log_epoch(key::communication_time_s, result.comm_s);
    }
    if (result.bytes_read) {
        log_epoch(key::bytes_read, static_cast<long long>(*result.bytes_read));
    }
    log_epoch(key::epoch_stop);

    result.hidden_ids = m_cursor.plan.hidden_ids;
    result.stats = m_state.view();
    m_ctx.observer.on_epoch(result);

    Summary& summary = m_summary;
    summary.epochs_done = m_cursor.epoch + 1;
    summary.final_accuracy = result.test_accuracy;
    summary.best_accuracy = m_cursor.epoch == 0 ? result.test_accuracy
                            : m_task->lower_is_better()
                                ? std::min(summary.best_accuracy, result.test_accuracy)
                                : std::max(summary.best_accuracy, result.test_accuracy);
    summary.target_reached = target_reached(result.test_accuracy);

    // The epoch is complete: the loop stands at its end.
    m_cursor.complete();
    m_marks.end_epoch(m_ctx.log_size());
    const bool last = m_cursor.epoch >= m_ctx.config.schedule.epochs || summary.target_reached;
    if (m_checkpoints.due_at_epoch_end(m_cursor.epoch, last)) {
        save_checkpoint(last ? checkpoint::Reason::final : checkpoint::Reason::epoch);
    }
}

void Run::epoch_loop() {
    while (!m_summary.target_reached && m_cursor.epoch < m_ctx.config.schedule.epochs) {
        auto epoch_start = Clock::now();
        m_marks.begin_comm(m_replicator->comm_times().wait_s);
        if (m_cursor.has_plan) {
            // Resumed inside this epoch: count the time it took before.
            epoch_start -=
                std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                    m_cursor.result.train_s + m_cursor.result.hidden_pass_s));
        } else {
            check_stop();
            begin_epoch();
        }
        end_epoch(run_epoch(m_cursor.plan), epoch_start);
    }
}

void Run::start() {
    if (m_ctx.resume == nullptr) {
        m_ctx.log(key::cache_clear, true);
        m_ctx.log(key::init_start);
    }
    setup();
    if (m_ctx.resume == nullptr) {
        util::MlLog no_log; // ranks other than 0 write no log
        log_hyperparameters(m_ctx.config,
                            {m_ctx.world, m_device->platform(m_ctx.config.dist.num_nodes),
                             m_device->name(), m_geometry.steps_full_epoch,
                             m_geometry.lr_milestones, m_data.train->size(), m_data.test->size()},
                            m_ctx.rank == 0 ? m_ctx.mllog : no_log);
        m_ctx.log(key::init_stop);
        m_ctx.log(key::run_start);
    } else {
        // The log was cut back to the checkpoint: it goes on from there, after one record that
        // marks the attempt taking over (the init records and run_start are the first attempt's).
        restore(*m_ctx.resume);
        const checkpoint::Position& pos = m_ctx.resume->loop.position;
        m_ctx.log(key::resume, m_ctx.resume->name,
                  {{"epoch_num", pos.epoch}, {"step", static_cast<long long>(pos.step)}});
    }
    const auto now = Clock::now();
    m_timer.start_run(now);
    m_checkpoints.start(now);
    m_marks.reset(m_ctx.log_size(), m_data.train->bytes_read());
    m_summary.num_train_samples = m_data.train->size();
    m_summary.num_test_samples = m_data.test->size();
    // A run resumed after the epoch that reached its target is done.
    m_summary.target_reached = m_ctx.resume != nullptr && m_ctx.resume->loop.position.epoch_end &&
                               target_reached(m_summary.final_accuracy);
    m_summary.metric_name = m_task->metric_name();
    m_summary.lower_is_better = m_task->lower_is_better();
}

void Run::finish() {
    Summary& summary = m_summary;
    summary.model_digest = model_digest(m_engine->model());
    if (m_ctx.world > 1) {
        m_replicator->check_same({static_cast<double>(summary.model_digest >> 32),
                                  static_cast<double>(summary.model_digest & 0xffffffffULL)},
                                 "the final weights (the ranks diverged: a bug)");
        if (const std::string line = m_replicator->summary(); !line.empty()) {
            util::log_info(line);
        }
    }
    m_ctx.log(key::run_stop, Json::null(),
              {{"status", summary.target_reached ? "success" : "aborted"},
               {"epoch_num", m_cursor.started}});
}

Summary Run::run() {
    try {
        start();
    } catch (const util::StopRequested&) {
        // Stopped while opening the data (a pass over every file): nothing trained, nothing
        // to checkpoint; a resume starts the run again.
        m_summary.interrupted = true;
        return m_summary;
    }
    try {
        try {
            epoch_loop();
        } catch (const Interrupted&) {
            m_summary.interrupted = true;
            m_ctx.observer.on_stopping();
            if (m_checkpoints.enabled()) {
                save_checkpoint(checkpoint::Reason::signal);
            }
        } catch (const Diverged& d) {
            // No checkpoint: the weights after a non-finite step are no point to resume from.
            m_summary.diverged = d.what;
        }
    } catch (...) {
        m_ctx.log(key::run_stop, Json::null(),
                  {{"status", "aborted"}, {"epoch_num", m_cursor.started}});
        throw;
    }
    finish();
    return m_summary;
}

void check_model(const Config& config) {
    try {
        const Device device(config.device, config.threads, config.dist.local_rank);
        const Sources data = open_sources(config.data);
        Device::seed(config.seed);
        const std::unique_ptr<Task> task = make_task(config.task, config.stats);
        make_model(config.model, model_shape(data.info, *task, config.model, config.task.kind))
            ->to(device.torch_device());
    } catch (const c10::Error& e) {
        throw RuntimeFailure(std::string("model check failed: ") + e.what_without_backtrace());
    }
}

std::vector<DataProblem> check_data(const Config& config) {
    const DataConfig& data = config.data;
    std::vector<DataProblem> problems;
    if (data.dataset != "npy" && data.dataset != "hdf5") {
        return problems;
    }
    // Each split alone first, so that a bad test split is reported beside a bad train split.
    const auto open = [&](const std::string& path, const std::string& key) {
        std::unique_ptr<RawReader> reader;
        try {
            reader = open_stream_split(data, path, key);
        } catch (const Error& e) {
            problems.push_back({problem_key(data, key, e.what()), e.what()});
        }
        return reader;
    };
    std::unique_ptr<RawReader> train = open(data.train_path, "data.train");
    const std::unique_ptr<RawReader> test = open(data.test_path, "data.test");
    if (!train || !test) {
        return problems;
    }
    const std::string train_name = train->name();
    try {
        check_splits_agree(*train, *test);
    } catch (const Error& e) {
        problems.push_back({"data.test", e.what()});
        return problems;
    }
    DataInfo info;
    try {
        const bool deepcam = // its stats.h5 (beside or above the folder) must open
            data.dataset == "hdf5" && hdf5_split_normalisation(data.train_path).has_value();
        const StreamSource source(std::move(train), data.train_limit, {}, 0, 1);
        if (source.size() == 0) {
            throw RuntimeFailure(train_name + ": no training samples");
        }
        info = stream_shapes(source, deepcam);
    } catch (const Error& e) {
        problems.push_back({"data.train", e.what()});
        return problems;
    }
    if (config.model.kind == "torchscript") {
        return problems; // check_model() loads the module and runs it on a batch
    }
    const std::string key = config.model.inputs.empty() ? "model.kind" : "model.inputs";
    const auto cannot_take = [&](const std::string& why) {
        problems.push_back({key, train_name + ": model.kind = \"" + config.model.kind +
                                     "\" cannot take its samples " +
                                     c10::str(c10::IntArrayRef(info.sample_shape)) + ": " + why +
                                     channels_last_hint(info.sample_shape, data.layout)});
    };
    try {
        const Device device(config.device, config.threads, config.dist.local_rank);
        const std::unique_ptr<Task> task = make_task(config.task, config.stats);
        make_model(config.model, model_shape(info, *task, config.model));
    } catch (const Error& e) {
        cannot_take(e.what());
    } catch (const c10::Error& e) {
        cannot_take(e.what_without_backtrace());
    }
    return problems;
}

Summary train(const Config& config, Observer& observer, util::MlLog& mllog,
              const std::atomic<bool>* stop, const checkpoint::Resume* resume) {
    try {
        // Long work below the loop (opening and scanning the data) sees the stop flag too.
        const util::StopScope stop_scope(stop);
        Run run(config, observer, mllog, stop, resume);
        return run.run();
    } catch (const c10::Error& e) {
        throw RuntimeFailure(std::string("training failed: ") + e.what_without_backtrace());
    }
}

} // namespace kakuren::trainer

#include "cli/config_map.hpp"

#include <algorithm>
#include <filesystem>

#include "util/error.hpp"
#include "util/system.hpp"

namespace kakuren::cli {

hiding::Config hiding_config(const recipes::Recipe& recipe) {
    const recipes::HidingSection& h = recipe.hiding;
    hiding::Config c;
    c.strategy = h.strategy; // a registered name: the recipe schema allows only those
    c.fraction = h.fraction;
    c.tau = h.tau;
    c.fraction_decay = h.fraction_decay;
    // The schema allows only hiding::lr_compensations()' names.
    c.lr_compensation = hiding::lr_compensation_named(h.lr_compensation)
                            .value_or(hiding::LrCompensation::scheduled);
    c.refresh_every = h.refresh_every;
    c.params = h.params;
    c.seed = static_cast<std::uint64_t>(recipe.run.seed);
    return c;
}

namespace {

trainer::DataConfig data_config(const recipes::Recipe& recipe) {
    trainer::DataConfig c;
    const recipes::DataSection& d = recipe.data;
    c.dataset = d.dataset;
    c.train_images = d.train_images;
    c.train_labels = d.train_labels;
    c.test_images = d.test_images;
    c.test_labels = d.test_labels;
    c.train_limit = d.train_limit;
    c.test_limit = d.test_limit;
    c.batch_size = d.batch_size;
    c.eval_batch_size = d.eval_batch_size;
    c.accumulation_steps = d.accumulation_steps;
    c.normalize = d.normalize;
    c.mean = d.mean;
    c.std = d.std;
    c.synthetic_train = d.synthetic_train;
    c.synthetic_test = d.synthetic_test;
    c.synthetic_classes = d.synthetic_classes;
    c.synthetic_channels = d.synthetic_channels;
    c.synthetic_size = d.synthetic_size;
    c.synthetic_noise = d.synthetic_noise;
    c.train_path = d.train;
    c.test_path = d.test;
    c.data_key = d.data_key;
    c.target_key = d.target_key;
    c.train_targets_path = d.train_targets;
    c.test_targets_path = d.test_targets;
    c.layout = d.layout;
    c.transform = d.transform;
    c.reader_threads = d.reader_threads;
    c.prefetch_batches = d.prefetch_batches;
    c.synthetic_kind = d.synthetic_kind;
    c.synthetic_difficulty = d.synthetic_difficulty;
    c.synthetic_seed = static_cast<std::uint64_t>(d.synthetic_seed);
    c.image_size.assign(d.image_size.begin(), d.image_size.end());
    c.image_channels = d.image_channels;
    c.random_crop = d.random_crop;
    c.hflip = d.hflip;
    c.augment_seed = static_cast<std::uint64_t>(recipe.run.seed);
    return c;
}

} // namespace

trainer::Config trainer_config(const recipes::Recipe& recipe) {
    trainer::Config c;
    c.data = data_config(recipe);
    c.model.kind = recipe.model.kind;
    c.model.hidden = recipe.model.hidden;
    c.model.channels = recipe.model.channels;
    c.model.fc = recipe.model.fc;
    c.model.width = recipe.model.width;
    c.model.depth = recipe.model.depth;
    c.model.dropout = recipe.model.dropout;
    c.model.path = recipe.model.path;
    c.model.inputs.assign(recipe.model.inputs.begin(), recipe.model.inputs.end());
    c.model.output_key = recipe.model.output_key;
    c.model.output_index = recipe.model.output_index;

    c.optim.lr = recipe.optimizer.lr;
    c.optim.momentum = recipe.optimizer.momentum;
    c.optim.weight_decay = recipe.optimizer.weight_decay;
    c.optim.nesterov = recipe.optimizer.nesterov;
    c.optim.kind = recipe.optimizer.kind;
    c.optim.beta1 = recipe.optimizer.betas.at(0); // the schema holds it to 2 entries
    c.optim.beta2 = recipe.optimizer.betas.at(1);
    c.optim.eps = recipe.optimizer.eps;

    c.schedule.epochs = recipe.schedule.epochs;
    c.schedule.warmup_epochs = recipe.schedule.warmup_epochs;
    c.schedule.kind = recipe.schedule.kind;
    c.schedule.milestones = recipe.schedule.milestones;
    c.schedule.gamma = recipe.schedule.gamma;
    c.schedule.decay_factors = recipe.schedule.decay_factors;
    c.schedule.warmup_steps = recipe.schedule.warmup_steps;
    c.schedule.warmup_factor = recipe.schedule.warmup_factor;

    c.task.kind = recipe.task.kind;
    c.task.class_weights = recipe.task.class_weights;
    c.task.iou_threshold = recipe.task.iou_threshold;
    c.task.tolerance = recipe.task.tolerance;

    c.hiding = hiding_config(recipe);
    c.stats.confidence_over_batch = recipe.hiding.confidence == "batch";
    c.stats.hidden_pass_train_mode = recipe.hiding.hidden_pass == "train";

    c.seed = static_cast<std::uint64_t>(recipe.run.seed);
    c.threads = recipe.run.threads > 0 ? recipe.run.threads : util::available_cpus();
    c.device = {recipe.run.device, recipe.run.precision, recipe.run.memory_format,
                recipe.run.deterministic};
    c.target_accuracy = recipe.task.target ? recipe.task.target : recipe.run.target_accuracy;
    c.benchmark_name = recipe.run.name;
    c.stop_on_nan = recipe.run.stop_on_nan;
    c.stop_grace_s = recipe.run.stop_grace_s;
    c.checkpoint = checkpoint_config(recipe);
    return c;
}

void check_threads_fit(const trainer::Config& config) {
    const int cpus = util::available_cpus();
    if (config.threads > 8 * cpus) {
        throw UsageError("run.threads = " + std::to_string(config.threads) +
                         " is more than 8 x the " + std::to_string(cpus) +
                         " CPUs of this allocation; set run.threads <= " +
                         std::to_string(8 * cpus) + " (0 = one per CPU)");
    }
}

checkpoint::Config checkpoint_config(const recipes::Recipe& recipe) {
    const recipes::CheckpointSection& k = recipe.checkpoint;
    checkpoint::Config c;
    c.every_epochs = k.every_epochs;
    c.every_steps = k.every_steps;
    c.every_seconds = k.every_seconds;
    c.keep_last = k.keep_last;
    c.keep_best = k.keep_best;
    return c;
}

launcher::ScriptSpec script_spec(const recipes::Recipe& recipe) {
    const recipes::SlurmSection& s = recipe.slurm;
    launcher::ScriptSpec spec;
    spec.job_name = "kakuren-" + recipe.run.name;
    spec.nodes = s.nodes;
    spec.ntasks_per_node = s.ntasks_per_node;
    // run.threads = 0 with no cpus_per_task asks for none: the ranks fill what the job gets.
    spec.cpus_per_task = s.cpus_per_task > 0 ? s.cpus_per_task : recipe.run.threads;
    spec.threads = recipe.run.threads;
    spec.setup = s.setup;
    spec.array_parallel = s.array_parallel;
    spec.gpus_per_node = s.gpus_per_node;
    spec.partition = s.partition;
    spec.account = s.account;
    spec.qos = s.qos;
    spec.constraint = s.constraint;
    spec.memory = s.memory;
    spec.extra = s.extra;
    spec.time_limit_min = recipes::time_limit_minutes(s.time).value_or(0);
    spec.signal_grace_s = s.signal_grace_s;
    return spec;
}

std::string kakuren_binary() {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string("kakuren") : self.string();
}

} // namespace kakuren::cli

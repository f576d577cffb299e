// known_keys() against the Recipe struct: every key lands in its own member and nothing else
// moves; the generated reference has a row per key.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "recipe_test_support.hpp"
#include "recipes/recipe.hpp"

using kakuren::recipes::known_keys;
using kakuren::recipes::parse;
using kakuren::recipes::Recipe;
using kakuren::testing::RecipeDir;
using kakuren::testing::shown;

namespace {

const std::string k_synthetic = "[data]\ndataset = \"synthetic\"\n";

} // namespace

namespace {

/// One key of known_keys(): overrides that set it to a non-default value, and a check that the
/// value landed in its own member.
struct KeyCase {
    std::string key;
    std::vector<std::string> overrides;
    std::function<bool(const Recipe&)> landed;
};

using KeyCases = std::vector<KeyCase>;

/// The data files the data keys' cases point at.
struct KeyCaseFiles {
    std::string idx_path, array_path;
};

/// Every known key's case, in known_keys() order.
KeyCases every_key_case(const KeyCaseFiles& f) { // NOLINT(readability-function-size): table
    const std::string& idx_path = f.idx_path;
    const std::string& array_path = f.array_path; // the lambdas capture f's string
    return {
        {"run.name", {"run.name=other"}, [](const Recipe& r) { return r.run.name == "other"; }},
        {"run.seed", {"run.seed=7"}, [](const Recipe& r) { return r.run.seed == 7; }},
        {"run.threads", {"run.threads=3"}, [](const Recipe& r) { return r.run.threads == 3; }},
        {"run.device",
         {"run.device=cuda:1"},
         [](const Recipe& r) { return r.run.device == "cuda:1"; }},
        {"run.precision",
         {"run.precision=bf16"},
         [](const Recipe& r) { return r.run.precision == "bf16"; }},
        {"run.memory_format",
         {"run.memory_format=channels_last"},
         [](const Recipe& r) { return r.run.memory_format == "channels_last"; }},
        {"run.deterministic",
         {"run.deterministic=true"},
         [](const Recipe& r) { return r.run.deterministic; }},
        {"run.target_accuracy",
         {"run.target_accuracy=0.5"},
         [](const Recipe& r) { return r.run.target_accuracy == 0.5; }},
        {"run.notes", {"run.notes=hi"}, [](const Recipe& r) { return r.run.notes == "hi"; }},
        {"run.stop_on_nan",
         {"run.stop_on_nan=false"},
         [](const Recipe& r) { return !r.run.stop_on_nan; }},
        {"run.stop_grace_s",
         {"run.stop_grace_s=2.5"},
         [](const Recipe& r) { return r.run.stop_grace_s == 2.5; }},
        {"data.dataset",
         {"data.dataset=idx", "data.path=" + idx_path},
         [](const Recipe& r) { return r.data.dataset == "idx"; }},
        {"data.path", {"data.path=p"}, [](const Recipe& r) { return r.data.path == "p"; }},
        {"data.train_images",
         {"data.train_images=a"},
         [](const Recipe& r) { return r.data.train_images == "a"; }},
        {"data.train_labels",
         {"data.train_labels=b"},
         [](const Recipe& r) { return r.data.train_labels == "b"; }},
        {"data.test_images",
         {"data.test_images=c"},
         [](const Recipe& r) { return r.data.test_images == "c"; }},
        {"data.test_labels",
         {"data.test_labels=d"},
         [](const Recipe& r) { return r.data.test_labels == "d"; }},
        {"data.train_limit",
         {"data.train_limit=10"},
         [](const Recipe& r) { return r.data.train_limit == 10; }},
        {"data.test_limit",
         {"data.test_limit=11"},
         [](const Recipe& r) { return r.data.test_limit == 11; }},
        {"data.batch_size",
         {"data.batch_size=32"},
         [](const Recipe& r) { return r.data.batch_size == 32; }},
        {"data.eval_batch_size",
         {"data.eval_batch_size=64"},
         [](const Recipe& r) { return r.data.eval_batch_size == 64; }},
        {"data.accumulation_steps",
         {"data.accumulation_steps=4"},
         [](const Recipe& r) { return r.data.accumulation_steps == 4; }},
        {"data.normalize",
         {"data.normalize=false"},
         [](const Recipe& r) { return !r.data.normalize; }},
        {"data.mean", {"data.mean=0.25"}, [](const Recipe& r) { return r.data.mean == 0.25; }},
        {"data.std", {"data.std=0.5"}, [](const Recipe& r) { return r.data.std == 0.5; }},
        {"data.synthetic_train",
         {"data.synthetic_train=100"},
         [](const Recipe& r) { return r.data.synthetic_train == 100; }},
        {"data.synthetic_test",
         {"data.synthetic_test=50"},
         [](const Recipe& r) { return r.data.synthetic_test == 50; }},
        {"data.synthetic_classes",
         {"data.synthetic_classes=3"},
         [](const Recipe& r) { return r.data.synthetic_classes == 3; }},
        {"data.synthetic_channels",
         {"data.synthetic_channels=3"},
         [](const Recipe& r) { return r.data.synthetic_channels == 3; }},
        {"data.synthetic_size",
         {"data.synthetic_size=16"},
         [](const Recipe& r) { return r.data.synthetic_size == 16; }},
        {"data.synthetic_noise",
         {"data.synthetic_noise=0.5"},
         [](const Recipe& r) { return r.data.synthetic_noise == 0.5; }},
        {"data.synthetic_kind",
         {"data.synthetic_kind=cosmoflow", "task.kind=regression"},
         [](const Recipe& r) { return r.data.synthetic_kind == "cosmoflow"; }},
        {"data.synthetic_difficulty",
         {"data.synthetic_difficulty=spread", "data.synthetic_kind=deepcam",
          "task.kind=segmentation"},
         [](const Recipe& r) { return r.data.synthetic_difficulty == "spread"; }},
        {"data.synthetic_seed",
         {"data.synthetic_seed=7"},
         [](const Recipe& r) { return r.data.synthetic_seed == 7; }},
        {"data.stage",
         {"data.stage=node-local"},
         [](const Recipe& r) { return r.data.stage == "node-local"; }},
        {"data.train", {"data.train=t"}, [](const Recipe& r) { return r.data.train == "t"; }},
        {"data.test", {"data.test=v"}, [](const Recipe& r) { return r.data.test == "v"; }},
        {"data.data_key",
         {"data.data_key=x"},
         [](const Recipe& r) { return r.data.data_key == "x"; }},
        {"data.target_key",
         {"data.target_key=y"},
         [](const Recipe& r) { return r.data.target_key == "y"; }},
        {"data.train_targets",
         {"data.dataset=npy", "data.train=" + array_path, "data.test=" + idx_path,
          "data.train_targets=" + array_path},
         [&](const Recipe& r) { return r.data.train_targets == array_path; }},
        {"data.test_targets",
         {"data.dataset=npy", "data.train=" + idx_path, "data.test=" + array_path,
          "data.test_targets=" + array_path},
         [&](const Recipe& r) { return r.data.test_targets == array_path; }},
        {"data.layout",
         {"data.dataset=npy", "data.train=" + idx_path, "data.test=" + idx_path,
          "data.layout=nhwc"},
         [](const Recipe& r) { return r.data.layout == "nhwc"; }},
        {"data.transform",
         {"data.transform=log1p"},
         [](const Recipe& r) { return r.data.transform == "log1p"; }},
        {"data.reader_threads",
         {"data.reader_threads=5"},
         [](const Recipe& r) { return r.data.reader_threads == 5; }},
        {"data.prefetch_batches",
         {"data.prefetch_batches=9"},
         [](const Recipe& r) { return r.data.prefetch_batches == 9; }},
        {"data.image_size",
         {"data.image_size=[24, 32]"},
         [](const Recipe& r) {
             return r.data.image_size == std::vector<int>{24, 32};
         }},
        {"data.image_channels",
         {"data.image_channels=3"},
         [](const Recipe& r) { return r.data.image_channels == 3; }},
        // The augmentation keys need data.dataset = "images" (and its two splits).
        {"data.random_crop",
         {"data.dataset=images", "data.train=.", "data.test=.", "data.random_crop=4"},
         [](const Recipe& r) { return r.data.random_crop == 4; }},
        {"data.hflip",
         {"data.dataset=images", "data.train=.", "data.test=.", "data.hflip=true"},
         [](const Recipe& r) { return r.data.hflip; }},
        {"model.kind", {"model.kind=mlp"}, [](const Recipe& r) { return r.model.kind == "mlp"; }},
        {"model.path",
         {"model.path=net.pt"},
         [](const Recipe& r) { return r.model.path.ends_with("/net.pt"); }},
        {"model.inputs",
         {"model.inputs=[1, 28, 28]"},
         [](const Recipe& r) {
             return r.model.inputs == std::vector<int>{1, 28, 28};
         }},
        {"model.output",
         {"model.output=logits"},
         [](const Recipe& r) { return r.model.output_key == "logits"; }},
        {"model.hidden",
         {"model.hidden=[32]"},
         [](const Recipe& r) { return r.model.hidden == std::vector<int>{32}; }},
        {"model.channels",
         {"model.channels=[8, 8]"},
         [](const Recipe& r) {
             return r.model.channels == std::vector<int>{8, 8};
         }},
        {"model.fc", {"model.fc=16"}, [](const Recipe& r) { return r.model.fc == 16; }},
        {"model.width", {"model.width=32"}, [](const Recipe& r) { return r.model.width == 32; }},
        {"model.depth", {"model.depth=3"}, [](const Recipe& r) { return r.model.depth == 3; }},
        {"model.dropout",
         {"model.dropout=0.25"},
         [](const Recipe& r) { return r.model.dropout == 0.25; }},
        // sgd is the only optimizer: the value cannot differ from the default.
        {"optimizer.kind",
         {"optimizer.kind=sgd"},
         [](const Recipe& r) { return r.optimizer.kind == "sgd"; }},
        {"optimizer.lr",
         {"optimizer.lr=0.1"},
         [](const Recipe& r) { return r.optimizer.lr == 0.1; }},
        {"optimizer.momentum",
         {"optimizer.momentum=0.5"},
         [](const Recipe& r) { return r.optimizer.momentum == 0.5; }},
        {"optimizer.weight_decay",
         {"optimizer.weight_decay=0.001"},
         [](const Recipe& r) { return r.optimizer.weight_decay == 0.001; }},
        {"optimizer.betas",
         {"optimizer.betas=[0.8, 0.99]"},
         [](const Recipe& r) {
             return r.optimizer.betas == std::vector<double>{0.8, 0.99};
         }},
        {"optimizer.eps",
         {"optimizer.eps=1e-6"},
         [](const Recipe& r) { return r.optimizer.eps == 1e-6; }},
        {"optimizer.nesterov",
         {"optimizer.nesterov=true"},
         [](const Recipe& r) { return r.optimizer.nesterov; }},
        {"schedule.epochs",
         {"schedule.epochs=20"},
         [](const Recipe& r) { return r.schedule.epochs == 20; }},
        {"schedule.warmup_epochs",
         {"schedule.warmup_epochs=2"},
         [](const Recipe& r) { return r.schedule.warmup_epochs == 2; }},
        {"schedule.warmup_steps",
         {"schedule.warmup_steps=100"},
         [](const Recipe& r) { return r.schedule.warmup_steps == 100; }},
        {"schedule.warmup_factor",
         {"schedule.warmup_factor=2.0"},
         [](const Recipe& r) { return r.schedule.warmup_factor == 2.0; }},
        {"schedule.kind",
         {"schedule.kind=cosine"},
         [](const Recipe& r) { return r.schedule.kind == "cosine"; }},
        {"schedule.milestones",
         {"schedule.milestones=[5]"},
         [](const Recipe& r) { return r.schedule.milestones == std::vector<int>{5}; }},
        {"schedule.gamma",
         {"schedule.gamma=0.5"},
         [](const Recipe& r) { return r.schedule.gamma == 0.5; }},
        {"schedule.decay_factors",
         {"schedule.milestones=[5, 8]", "schedule.decay_factors=[0.25, 0.125]"},
         [](const Recipe& r) {
             return r.schedule.decay_factors == std::vector<double>{0.25, 0.125};
         }},
        {"task.kind",
         {"task.kind=segmentation", "data.synthetic_kind=deepcam"},
         [](const Recipe& r) { return r.task.kind == "segmentation"; }},
        {"task.class_weights",
         {"task.class_weights=[1.0, 3.0, 2.0]", "task.kind=segmentation",
          "data.synthetic_kind=deepcam"},
         [](const Recipe& r) {
             return r.task.class_weights == std::vector<double>{1.0, 3.0, 2.0};
         }},
        {"task.iou_threshold",
         {"task.iou_threshold=0.5"},
         [](const Recipe& r) { return r.task.iou_threshold == 0.5; }},
        {"task.tolerance",
         {"task.tolerance=0.05"},
         [](const Recipe& r) { return r.task.tolerance == 0.05; }},
        {"task.target", {"task.target=0.5"}, [](const Recipe& r) { return r.task.target == 0.5; }},
        {"hiding.strategy",
         {"hiding.strategy=none"},
         [](const Recipe& r) { return r.hiding.strategy == "none"; }},
        {"hiding.fraction",
         {"hiding.fraction=0.5"},
         [](const Recipe& r) { return r.hiding.fraction == 0.5; }},
        {"hiding.tau", {"hiding.tau=0.9"}, [](const Recipe& r) { return r.hiding.tau == 0.9; }},
        {"hiding.fraction_decay",
         {"hiding.fraction_decay=[1.0, 0.5]"},
         [](const Recipe& r) {
             return r.hiding.fraction_decay == std::vector<double>{1.0, 0.5};
         }},
        {"hiding.lr_compensation",
         {"hiding.lr_compensation=realised"},
         [](const Recipe& r) { return r.hiding.lr_compensation == "realised"; }},
        {"hiding.confidence",
         {"hiding.confidence=batch"},
         [](const Recipe& r) { return r.hiding.confidence == "batch"; }},
        {"hiding.hidden_pass",
         {"hiding.hidden_pass=train"},
         [](const Recipe& r) { return r.hiding.hidden_pass == "train"; }},
        {"hiding.refresh_every",
         {"hiding.refresh_every=2"},
         [](const Recipe& r) { return r.hiding.refresh_every == 2; }},
        {"hiding.infobatch_ratio",
         {"hiding.infobatch_ratio=0.7"},
         [](const Recipe& r) { return r.hiding.params.at("infobatch_ratio") == 0.7; }},
        {"hiding.infobatch_delta",
         {"hiding.infobatch_delta=0.5"},
         [](const Recipe& r) { return r.hiding.params.at("infobatch_delta") == 0.5; }},
        {"hiding.sb_beta",
         {"hiding.sb_beta=2.0"},
         [](const Recipe& r) { return r.hiding.params.at("sb_beta") == 2.0; }},
        {"hiding.rotate_fraction",
         {"hiding.rotate_fraction=0.5"},
         [](const Recipe& r) { return r.hiding.params.at("rotate_fraction") == 0.5; }},
        {"hiding.rotate_ratio",
         {"hiding.rotate_ratio=0.5"},
         [](const Recipe& r) { return r.hiding.params.at("rotate_ratio") == 0.5; }},
        {"hiding.rotate_full_epochs",
         {"hiding.rotate_full_epochs=3"},
         [](const Recipe& r) { return r.hiding.params.at("rotate_full_epochs") == 3; }},
        {"hiding.rotate_tau",
         {"hiding.rotate_tau=0.8"},
         [](const Recipe& r) { return r.hiding.params.at("rotate_tau") == 0.8; }},
        {"checkpoint.every_epochs",
         {"checkpoint.every_epochs=3"},
         [](const Recipe& r) { return r.checkpoint.every_epochs == 3; }},
        {"checkpoint.every_steps",
         {"checkpoint.every_steps=50"},
         [](const Recipe& r) { return r.checkpoint.every_steps == 50; }},
        {"checkpoint.every_seconds",
         {"checkpoint.every_seconds=600.0"},
         [](const Recipe& r) { return r.checkpoint.every_seconds == 600.0; }},
        {"checkpoint.keep_last",
         {"checkpoint.keep_last=5"},
         [](const Recipe& r) { return r.checkpoint.keep_last == 5; }},
        {"checkpoint.keep_best",
         {"checkpoint.keep_best=false"},
         [](const Recipe& r) { return !r.checkpoint.keep_best; }},
        {"slurm.partition",
         {"slurm.partition=gpu"},
         [](const Recipe& r) { return r.slurm.partition == "gpu"; }},
        {"slurm.account",
         {"slurm.account=lab"},
         [](const Recipe& r) { return r.slurm.account == "lab"; }},
        {"slurm.qos", {"slurm.qos=high"}, [](const Recipe& r) { return r.slurm.qos == "high"; }},
        {"slurm.time",
         {"slurm.time='1:00:00'"},
         [](const Recipe& r) { return r.slurm.time == "1:00:00"; }},
        {"slurm.nodes", {"slurm.nodes=4"}, [](const Recipe& r) { return r.slurm.nodes == 4; }},
        {"slurm.ntasks_per_node",
         {"slurm.ntasks_per_node=2"},
         [](const Recipe& r) { return r.slurm.ntasks_per_node == 2; }},
        {"slurm.cpus_per_task",
         {"slurm.cpus_per_task=8"},
         [](const Recipe& r) { return r.slurm.cpus_per_task == 8; }},
        {"slurm.gpus_per_node",
         {"slurm.gpus_per_node=4"},
         [](const Recipe& r) { return r.slurm.gpus_per_node == 4; }},
        {"slurm.memory",
         {"slurm.memory=8G"},
         [](const Recipe& r) { return r.slurm.memory == "8G"; }},
        {"slurm.constraint",
         {"slurm.constraint=ib"},
         [](const Recipe& r) { return r.slurm.constraint == "ib"; }},
        {"slurm.extra",
         {"slurm.extra=--exclusive"},
         [](const Recipe& r) { return r.slurm.extra == "--exclusive"; }},
        {"slurm.signal_grace_s",
         {"slurm.signal_grace_s=30"},
         [](const Recipe& r) { return r.slurm.signal_grace_s == 30; }},
        {"slurm.max_requeues",
         {"slurm.max_requeues=1"},
         [](const Recipe& r) { return r.slurm.max_requeues == 1; }},
        {"slurm.setup",
         {"slurm.setup=['module load x', 'source v/bin/activate']"},
         [](const Recipe& r) { return r.slurm.setup.size() == 2; }},
        {"slurm.array_parallel",
         {"slurm.array_parallel=2"},
         [](const Recipe& r) { return r.slurm.array_parallel == 2; }},
        {"launcher.backend",
         {"launcher.backend=local"},
         [](const Recipe& r) { return r.launcher.backend == "local"; }},
        {"launcher.collective_timeout_s",
         {"launcher.collective_timeout_s=30"},
         [](const Recipe& r) { return r.launcher.collective_timeout_s == 30; }},
        {"launcher.bucket_mb",
         {"launcher.bucket_mb=4"},
         [](const Recipe& r) { return r.launcher.bucket_mb == 4; }},
    };
}

} // namespace

// Each key with a value that differs from the default, and the member it must land in: proves
// that known_keys() names every struct field and that each key is wired to its own member.
TEST(Recipe, KnownKeysCoverEveryStructField) {
    RecipeDir dir;
    dir.write_idx("idx", "");
    const KeyCaseFiles files{(dir.path() / "idx").string(), dir.write("x.npy").string()};
    const KeyCases cases = every_key_case(files);
    std::vector<std::string> keys;
    const Recipe base = parse(k_synthetic, "x.toml");
    for (const auto& c : cases) {
        SCOPED_TRACE(c.key);
        keys.push_back(c.key);
        if (c.key != "optimizer.kind") {
            EXPECT_FALSE(c.landed(base)) << "the test value equals the default";
        }
        const Recipe r = parse(k_synthetic, "x.toml", c.overrides);
        EXPECT_TRUE(c.landed(r));
        EXPECT_EQ("--set", r.origins.at(c.key));
        // Nothing else moved.
        for (const auto& other : known_keys()) {
            const bool overridden =
                std::any_of(c.overrides.begin(), c.overrides.end(),
                            [&](const std::string& o) { return o.rfind(other + "=", 0) == 0; });
            if (!overridden && other.rfind("data.", 0) != 0) {
                EXPECT_EQ(shown(base, other), shown(r, other)) << other;
            }
        }
    }
    EXPECT_EQ(keys, known_keys());
}

TEST(Recipe, ReferenceMarkdownHasARowPerKey) {
    const std::string md = kakuren::recipes::reference_markdown();
    EXPECT_EQ(0U, md.find("| key | type | default | allowed | description |\n|---|"));
    for (const auto& key : known_keys()) {
        EXPECT_NE(std::string::npos, md.find("| `" + key + "` |")) << key;
    }
    EXPECT_NE(std::string::npos,
              md.find("| `hiding.fraction` | float | `0.3` | 0 <= fraction < 1 | "));
    EXPECT_NE(std::string::npos,
              md.find("| `model.kind` | string | `\"cnn\"` | one of mlp, cnn, resnet18, resnet50, "
                      "cosmoflow, deepcam, torchscript | "));
    EXPECT_NE(std::string::npos, md.find("| `run.target_accuracy` | float (optional) | unset | "));
}

// Loading, overrides, show(), to_toml(), known_keys() and the shipped recipes.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "recipe_test_support.hpp"
#include "recipes/recipe.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using kakuren::recipes::known_keys;
using kakuren::recipes::parse;
using kakuren::recipes::Recipe;
using kakuren::recipes::RecipeError;
using kakuren::testing::RecipeDir;
using kakuren::testing::shown;

namespace {

const fs::path k_source_dir = KAKUREN_SOURCE_DIR;
const std::string k_synthetic = "[data]\ndataset = \"synthetic\"\n";

/// The messages of a failing parse; fails the test if it loads.
std::vector<std::string> errors_of(const std::string& text,
                                   const std::vector<std::string>& overrides = {}) {
    try {
        parse(text, "x.toml", overrides);
    } catch (const RecipeError& e) {
        return e.messages();
    }
    ADD_FAILURE() << "parsed without an error";
    return {};
}

} // namespace

TEST(Recipe, AbsentSectionsKeepTheStructDefaults) {
    const Recipe r = parse(k_synthetic, "x.toml");
    const Recipe defaults;
    EXPECT_EQ(defaults.run.name, r.run.name);
    EXPECT_EQ(defaults.run.seed, r.run.seed);
    EXPECT_FALSE(r.run.target_accuracy.has_value());
    EXPECT_EQ(defaults.model.kind, r.model.kind);
    EXPECT_EQ(defaults.model.channels, r.model.channels);
    EXPECT_EQ(defaults.optimizer.lr, r.optimizer.lr);
    EXPECT_EQ(defaults.schedule.milestones, r.schedule.milestones);
    EXPECT_EQ(defaults.hiding.fraction, r.hiding.fraction);
    EXPECT_EQ(defaults.hiding.fraction_decay, r.hiding.fraction_decay);
    EXPECT_EQ("default", r.origins.at("hiding.fraction"));
    EXPECT_EQ("x.toml:2:11", r.origins.at("data.dataset"));
    EXPECT_EQ(known_keys().size(), r.origins.size());
    EXPECT_EQ("x.toml", r.file.string());
    EXPECT_EQ(k_synthetic, r.text);
}

TEST(Recipe, ValuesAreReadFromTheFile) {
    const Recipe r = parse(k_synthetic + "[hiding]\nfraction = 0.4\nfraction_decay = [1, 0.5]\n"
                                         "[run]\ntarget_accuracy = 0.9\nseed = 7\n"
                                         "[optimizer]\nlr = 1\n",
                           "x.toml");
    EXPECT_DOUBLE_EQ(0.4, r.hiding.fraction);
    EXPECT_EQ((std::vector<double>{1.0, 0.5}), r.hiding.fraction_decay);
    ASSERT_TRUE(r.run.target_accuracy.has_value());
    EXPECT_DOUBLE_EQ(0.9, *r.run.target_accuracy);
    EXPECT_EQ(7, r.run.seed);
    EXPECT_DOUBLE_EQ(1.0, r.optimizer.lr); // an integer is fine for a float
}

TEST(Recipe, DottedKeysAtTheTopLevelWork) {
    const Recipe r = parse("data.dataset = \"synthetic\"\nhiding.tau = 0.5\n", "x.toml");
    EXPECT_DOUBLE_EQ(0.5, r.hiding.tau);
}

TEST(Recipe, OverrideANumber) {
    const Recipe r = parse(k_synthetic + "[hiding]\nfraction = 0.2\n", "x.toml",
                           {"hiding.fraction=0.4", "schedule.epochs=20"});
    EXPECT_DOUBLE_EQ(0.4, r.hiding.fraction);
    EXPECT_EQ(20, r.schedule.epochs);
    EXPECT_EQ("--set", r.origins.at("hiding.fraction"));
}

TEST(Recipe, OverrideFallsBackToAString) {
    const Recipe r = parse(k_synthetic, "x.toml",
                           {"run.name=my run", "model.kind=mlp", "run.notes=42",
                            "data.path=\"quoted\"", "hiding.strategy = none"});
    EXPECT_EQ("my run", r.run.name);
    EXPECT_EQ("mlp", r.model.kind);
    EXPECT_EQ("42", r.run.notes); // a string field takes the text, not the TOML integer
    EXPECT_EQ("quoted", r.data.path);
    EXPECT_EQ("none", r.hiding.strategy);
}

TEST(Recipe, OverrideAList) {
    const Recipe r = parse(k_synthetic, "x.toml",
                           {"model.hidden=[512, 256, 64]", "hiding.fraction_decay=[1.0, 0.5]",
                            "schedule.milestones=[]"});
    EXPECT_EQ((std::vector<int>{512, 256, 64}), r.model.hidden);
    EXPECT_EQ((std::vector<double>{1.0, 0.5}), r.hiding.fraction_decay);
    EXPECT_TRUE(r.schedule.milestones.empty());
}

TEST(Recipe, OverrideAnUnknownKeySuggestsTheNearest) {
    EXPECT_EQ(std::vector<std::string>{"--set hiding.fractoin=0.4: error: unknown key "
                                       "hiding.fractoin; did you mean hiding.fraction?"},
              errors_of(k_synthetic, {"hiding.fractoin=0.4"}));
    EXPECT_EQ(std::vector<std::string>{"--set modle.kind=mlp: error: unknown key modle.kind; did "
                                       "you mean model.kind?"},
              errors_of(k_synthetic, {"modle.kind=mlp"}));
    EXPECT_EQ(std::vector<std::string>{"--set fraction=0.4: error: unknown key fraction; did you "
                                       "mean hiding.fraction?"},
              errors_of(k_synthetic, {"fraction=0.4"}));
}

TEST(Recipe, OverrideOfTheWrongType) {
    EXPECT_EQ(std::vector<std::string>{"--set hiding.fraction=abc: error: hiding.fraction must be "
                                       "a number, got string \"abc\""},
              errors_of(k_synthetic, {"hiding.fraction=abc"}));
    EXPECT_EQ(std::vector<std::string>{"--set schedule.epochs=2.5: error: schedule.epochs must be "
                                       "an integer, got float 2.5"},
              errors_of(k_synthetic, {"schedule.epochs=2.5"}));
    EXPECT_EQ(std::vector<std::string>{"--set model.hidden=[1, x]: error: model.hidden must be a "
                                       "list of integers, got string \"[1, x]\""},
              errors_of(k_synthetic, {"model.hidden=[1, x]"}));
    EXPECT_EQ(std::vector<std::string>{"--set hiding.fraction: error: expected section.key=value"},
              errors_of(k_synthetic, {"hiding.fraction"}));
}

TEST(Recipe, FileErrorsComeBeforeOverrideErrors) {
    EXPECT_EQ((std::vector<std::string>{
                  "x.toml:4:7: error: hiding.tau = 2.0 is out of range; expected 0 <= tau <= 1",
                  "--set run.seed=0: error: run.seed = 0 is out of range; expected seed > 0"}),
              errors_of(k_synthetic + "[hiding]\ntau = 2.0\n", {"run.seed=0"}));
}

TEST(Recipe, AnOverrideReplacesABadFileValueButTheFileErrorStays) {
    const auto errors = errors_of(k_synthetic + "[hiding]\ntau = 2.0\n", {"hiding.tau=0.5"});
    ASSERT_EQ(1U, errors.size());
    EXPECT_EQ("x.toml:4:7: error: hiding.tau = 2.0 is out of range; expected 0 <= tau <= 1",
              errors[0]);
}

TEST(Recipe, RecipeErrorIsAUsageError) {
    try {
        parse("[hiding]\nfraction = 2\n", "x.toml", {"data.dataset=synthetic"});
        FAIL() << "parsed";
    } catch (const kakuren::UsageError& e) {
        EXPECT_EQ(std::string("x.toml:2:12: error: hiding.fraction = 2.0 is out of range; "
                              "expected 0 <= fraction < 1"),
                  e.what());
    }
}

TEST(Recipe, ShowMarksWhereEachValueCameFrom) {
    const Recipe r =
        parse(k_synthetic + "\n[hiding]\nfraction = 0.25\n", "x.toml", {"hiding.tau=0.5"});
    EXPECT_EQ("0.25  # x.toml:5:12", shown(r, "hiding.fraction"));
    EXPECT_EQ("0.5  # --set", shown(r, "hiding.tau"));
    EXPECT_EQ("\"kakurenbo\"  # default", shown(r, "hiding.strategy"));
    EXPECT_EQ("unset  # default", shown(r, "run.target_accuracy"));
    EXPECT_EQ("[16, 32]  # default", shown(r, "model.channels"));
    // One line per key, in schema order.
    const std::string text = kakuren::recipes::show(r);
    EXPECT_EQ(known_keys().size(),
              static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')));
    EXPECT_EQ(0U, text.find("run.name = \"run\"  # default\n"));
}

TEST(Recipe, ToTomlRoundTrips) {
    const Recipe r =
        parse(k_synthetic, "x.toml",
              {"run.name=a \"quoted\" name\\with\ttab", "run.target_accuracy=0.905",
               "run.seed=123456789012", "data.mean=0.2860", "data.std=0.35300000000000004",
               "optimizer.weight_decay=1e-5", "optimizer.nesterov=true", "model.hidden=[]",
               "hiding.fraction=0.30000000000000004", "schedule.kind=cosine",
               "data.path=relative/folder"});
    const std::string text = kakuren::recipes::to_toml(r);
    const Recipe back = parse(text, "resolved.toml");
    EXPECT_EQ(text, kakuren::recipes::to_toml(back));
    EXPECT_EQ(r.run.name, back.run.name);
    EXPECT_EQ(r.run.target_accuracy, back.run.target_accuracy);
    EXPECT_EQ(r.run.seed, back.run.seed);
    EXPECT_EQ(r.data.mean, back.data.mean);
    EXPECT_EQ(r.data.std, back.data.std);
    EXPECT_EQ(r.optimizer.weight_decay, back.optimizer.weight_decay);
    EXPECT_EQ(r.hiding.fraction, back.hiding.fraction);
    EXPECT_EQ(r.model.hidden, back.model.hidden);
    EXPECT_EQ(r.data.path, back.data.path);
    // Every value, through show() without the origins.
    const auto values = [](const Recipe& x) {
        std::string out;
        const std::string text = kakuren::recipes::show(x);
        std::size_t begin = 0;
        while (begin < text.size()) {
            const auto end = text.find('\n', begin);
            const std::string line = text.substr(begin, end - begin);
            out += line.substr(0, line.rfind("  # ")) + "\n";
            begin = end + 1;
        }
        return out;
    };
    EXPECT_EQ(values(r), values(back));
}

TEST(Recipe, ToTomlOfDefaultsRoundTripsWithTargetUnset) {
    const Recipe r = parse(k_synthetic, "x.toml");
    const std::string text = kakuren::recipes::to_toml(r);
    EXPECT_NE(std::string::npos, text.find("# target_accuracy is unset\n"));
    EXPECT_NE(std::string::npos, text.find("[hiding]\nstrategy = \"kakurenbo\"\n"));
    const Recipe back = parse(text, "resolved.toml");
    EXPECT_FALSE(back.run.target_accuracy.has_value());
    EXPECT_EQ(text, kakuren::recipes::to_toml(back));
}

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

TEST(Recipe, IdxFilesAreResolvedAgainstTheRecipeFolder) {
    RecipeDir dir;
    dir.write_idx("recipes/data", ""); // not compressed: idx takes either
    const fs::path recipe =
        dir.write("recipes/x.toml", "[data]\ndataset = \"idx\"\npath = \"data\"\n");
    const Recipe r = kakuren::recipes::load(recipe);
    const fs::path folder = (dir.path() / "recipes" / "data").lexically_normal();
    EXPECT_EQ(folder.string(), r.data.path);
    EXPECT_EQ((folder / "train-images-idx3-ubyte").string(), r.data.train_images);
    EXPECT_EQ((folder / "train-labels-idx1-ubyte").string(), r.data.train_labels);
    EXPECT_EQ((folder / "t10k-images-idx3-ubyte").string(), r.data.test_images);
    EXPECT_EQ((folder / "t10k-labels-idx1-ubyte").string(), r.data.test_labels);
    EXPECT_EQ(r.origins.at("data.path"), r.origins.at("data.train_images"));
}

TEST(Recipe, ExplicitIdxFilesWinOverTheFolder) {
    RecipeDir dir;
    dir.write_idx("data", ".gz");
    dir.write("other/images");
    const fs::path recipe = dir.write(
        "x.toml", "[data]\ndataset = \"idx\"\npath = \"data\"\ntrain_images = \"other/images\"\n");
    const Recipe r = kakuren::recipes::load(recipe);
    EXPECT_EQ((dir.path() / "other/images").lexically_normal().string(), r.data.train_images);
    EXPECT_EQ((dir.path() / "data/train-labels-idx1-ubyte.gz").lexically_normal().string(),
              r.data.train_labels);
}

TEST(Recipe, MissingIdxFilesAreEachReported) {
    RecipeDir dir;
    dir.write("data/train-images-idx3-ubyte.gz");
    dir.write("data/t10k-images-idx3-ubyte.gz");
    const fs::path recipe = dir.write("x.toml", "[data]\ndataset = \"fashion-mnist\"\n"
                                                "path = \"data\"\n");
    try {
        kakuren::recipes::load(recipe);
        FAIL() << "loaded";
    } catch (const RecipeError& e) {
        const std::string folder = (dir.path() / "data").lexically_normal().string();
        const std::string hint = " does not exist; install dataset-fashion-mnist or set data.path "
                                 "to a folder with the four IDX files";
        EXPECT_EQ((std::vector<std::string>{recipe.string() + ":3:8: error: data.path: " + folder +
                                                "/train-labels-idx1-ubyte.gz" + hint,
                                            recipe.string() + ":3:8: error: data.path: " + folder +
                                                "/t10k-labels-idx1-ubyte.gz" + hint}),
                  e.messages());
    }
}

TEST(Recipe, OverriddenPathsAreRelativeToTheWorkingFolder) {
    RecipeDir dir;
    dir.write_idx("data", ".gz");
    const fs::path previous = fs::current_path();
    fs::current_path(dir.path());
    const Recipe r = parse("", "recipes/x.toml", {"data.path=data"});
    fs::current_path(previous);
    EXPECT_EQ((dir.path() / "data/train-images-idx3-ubyte.gz").lexically_normal().string(),
              r.data.train_images);
}

TEST(Recipe, ShippedSyntheticTinyIsValid) {
    const Recipe r = kakuren::recipes::load(k_source_dir / "recipes/synthetic_tiny.toml");
    EXPECT_EQ("synthetic_tiny", r.run.name);
    EXPECT_EQ("synthetic", r.data.dataset);
    EXPECT_EQ("mlp", r.model.kind);
    EXPECT_EQ(4, r.schedule.epochs);
    EXPECT_EQ("kakurenbo", r.hiding.strategy);
}

TEST(Recipe, ShippedFashionMnistCnnIsValid) {
    RecipeDir dir;
    dir.write_idx("fashion", ".gz");
    const Recipe r = kakuren::recipes::load(k_source_dir / "recipes/fashion_mnist_cnn.toml",
                                            {"data.path=" + (dir.path() / "fashion").string()});
    EXPECT_EQ("fashion_mnist_cnn", r.run.name);
    EXPECT_FALSE(r.run.target_accuracy.has_value()); // every run trains all epochs
    EXPECT_EQ("cnn", r.model.kind);
    EXPECT_EQ((std::vector<int>{16, 32}), r.model.channels);
    EXPECT_EQ(15, r.schedule.epochs);
    EXPECT_EQ((std::vector<int>{10, 13}), r.schedule.milestones);
    EXPECT_DOUBLE_EQ(0.4, r.hiding.fraction);
    EXPECT_EQ(2, r.hiding.refresh_every);
    EXPECT_DOUBLE_EQ(0.7, r.hiding.tau);
    EXPECT_EQ((dir.path() / "fashion/t10k-labels-idx1-ubyte.gz").string(), r.data.test_labels);
}

TEST(Recipe, ShippedFashionMnistCnnFindsTheInstalledDataSet) {
    const fs::path installed = "/usr/share/datasets/fashion-mnist";
    // scripts/setup.sh installs the data set; a machine without it must fail here, not skip.
    ASSERT_TRUE(fs::exists(installed / "train-images-idx3-ubyte.gz"))
        << "install dataset-fashion-mnist (scripts/setup.sh does)";
    const Recipe r = kakuren::recipes::load(k_source_dir / "recipes/fashion_mnist_cnn.toml");
    EXPECT_EQ((installed / "train-images-idx3-ubyte.gz").string(), r.data.train_images);
    EXPECT_EQ((installed / "t10k-labels-idx1-ubyte.gz").string(), r.data.test_labels);
}

TEST(RecipeSlurm, TimeLimitForms) {
    using kakuren::recipes::time_limit_minutes;
    EXPECT_EQ(time_limit_minutes(""), 0);
    EXPECT_EQ(time_limit_minutes("90"), 90);
    EXPECT_EQ(time_limit_minutes("45:00"), 45);
    EXPECT_EQ(time_limit_minutes("45:30"), 46); // Slurm rounds seconds up to a minute
    EXPECT_EQ(time_limit_minutes("1:30:00"), 90);
    EXPECT_EQ(time_limit_minutes("2-00:00:00"), 2 * 1440);
    EXPECT_EQ(time_limit_minutes("1-12"), 1440 + 720);
    EXPECT_EQ(time_limit_minutes("1-02:03"), 1440 + 123);
    EXPECT_FALSE(time_limit_minutes("1:60:00"));
    EXPECT_FALSE(time_limit_minutes("10:99"));
    EXPECT_FALSE(time_limit_minutes("1h"));
    EXPECT_FALSE(time_limit_minutes("-5"));
    EXPECT_FALSE(time_limit_minutes("1:2:3:4"));
    EXPECT_FALSE(time_limit_minutes("$(date)"));
}

TEST(RecipeSlurm, DefaultsAndValidValuesLoad) {
    const auto r = kakuren::recipes::parse(R"toml([data]
dataset = "synthetic"
stage = "node-local"
[slurm]
partition = "gpu,debug"
constraint = "skylake&(ib|eth)"
time = "0:10:00"
memory = "4G"
extra = "--exclusive --reservation=maint --mail-type=END,FAIL --mail-user=a.b@x.org"
nodes = 2
ntasks_per_node = 2
)toml",
                                           "inline.toml");
    EXPECT_EQ(r.data.stage, "node-local");
    EXPECT_EQ(r.slurm.nodes, 2);
    EXPECT_EQ(r.slurm.ntasks_per_node, 2);
    EXPECT_EQ(r.slurm.signal_grace_s, 120);
    EXPECT_EQ(r.slurm.max_requeues, 3);
    EXPECT_EQ(r.launcher.backend, "auto");
    EXPECT_EQ(r.launcher.collective_timeout_s, 300);
}

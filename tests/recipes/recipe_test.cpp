// Loading, overrides, show(), to_toml(), known_keys() and the shipped recipes.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
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

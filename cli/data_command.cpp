// `kakuren data inspect`, `kakuren data convert` and `kakuren data synth`: the work runs inside
// the training module (the sources and generators need LibTorch and libhdf5); this side prints.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/command_line.hpp"
#include "cli/commands.hpp"
#include "cli/config_map.hpp"
#include "cli/text.hpp"
#include "launcher/staging.hpp"
#include "recipes/recipe.hpp"
#include "trainer/module.hpp"
#include "util/error.hpp"

namespace kakuren::cli {

int data_inspect_command(const CommonOptions& common, const DataOptions& options) {
    const bool json = common.format == Format::json;
    std::error_code ec;
    const bool recipe = std::filesystem::path(options.path).extension() == ".toml" &&
                        std::filesystem::is_regular_file(options.path, ec);
    if (!recipe && !options.overrides.empty()) {
        throw UsageError("data inspect: --set applies to a recipe (.toml); " + options.path +
                         " is not one");
    }
    std::optional<trainer::Config> config;
    if (recipe) { // throws RecipeError (exit 2) for a bad recipe
        config = trainer_config(recipes::load(options.path, options.overrides));
    }
    const std::string out = trainer::data_command_via_module(
        "inspect", {options.path, json ? "json" : "text"}, config ? &*config : nullptr);
    std::cout << out << std::flush;
    // A problem found is a failure of the data, for scripts that check before they train.
    const bool problems =
        out.find(json ? "\"problems_found\": 0" : "problems found: 0\n") == std::string::npos;
    return problems ? k_exit_failure : k_exit_ok;
}

void check_recipe_data(const recipes::Recipe& recipe, const trainer::Config& config) {
    if (config.data.dataset != "npy" && config.data.dataset != "hdf5") {
        return; // IDX files are checked by the recipe loader, synthetic data has none
    }
    std::vector<trainer::DataProblem> problems = trainer::check_data_via_module(config);
    if (problems.empty() && recipe.data.stage == "node-local") {
        // The lists staging would refuse are refused here too, by recipe check, run and submit
        // alike: `kakuren run` reads in place what a submitted job could not stage (issue 23,
        // #15), so a recipe must not pass one and fail the other.
        try {
            launcher::check_stageable(config.data.train_path, config.data.test_path);
        } catch (const RuntimeFailure& e) {
            problems.push_back(
                {"data.stage", std::string("data.stage = \"node-local\": ") + e.what()});
        }
    }
    throw_recipe_problems(recipe, problems);
}

void throw_recipe_problems(const recipes::Recipe& recipe,
                           const std::vector<trainer::DataProblem>& problems) {
    if (problems.empty()) {
        return;
    }
    std::vector<std::string> messages;
    for (const trainer::DataProblem& p : problems) {
        const auto it = recipe.origins.find(p.key);
        // A key the file does not set (a default) is reported against the file as a whole.
        const std::string origin = it == recipe.origins.end() || it->second == "default"
                                       ? recipe.file.string()
                                       : it->second;
        messages.push_back(origin + ": error: " + p.message);
    }
    throw recipes::RecipeError(std::move(messages));
}

int data_convert_command(const DataOptions& options) {
    std::cout << trainer::data_command_via_module("convert",
                                                  {options.from, options.to, options.out})
              << std::flush;
    return k_exit_ok;
}

int data_synth_command(trainer::SynthConfig config) {
    if (config.validation == 0) { // not given (a given 0 is refused by the parser)
        config.validation = std::max<std::int64_t>(1, config.train / 4);
    }
    const trainer::SynthResult r = trainer::write_standin_via_module(config);
    const auto samples = static_cast<double>(config.train + config.validation);
    std::cout << "wrote " << config.kind << " stand-in: " << thousands(config.train) << " train + "
              << thousands(config.validation) << " validation samples, " << thousands(r.files)
              << " files, " << fixed(static_cast<double>(r.bytes) / (1 << 20), 1) << " MiB to "
              << config.out << " in " << fixed(r.seconds, 1) << " s (";
    const double rate = r.seconds > 0 ? samples / r.seconds : 0;
    if (rate < 10) { // full-size samples: a few seconds each
        std::cout << fixed(rate, 2);
    } else {
        std::cout << thousands(static_cast<std::int64_t>(rate));
    }
    std::cout << " samples/s)\n";
    return k_exit_ok;
}

namespace {

/// `kakuren data synth` and its options, writing into synth.
CLI::App* add_synth_subcommand(CLI::App& data, trainer::SynthConfig& synth) {
    CLI::App* synth_app = data.add_subcommand(
        "synth", "Write the CosmoFlow or DeepCAM stand-in in the reference file layout");
    synth_app->footer(
        "Examples:\n"
        "  kakuren data synth cosmoflow --size 16 --samples 1024 -o data/cosmoflow\n"
        "  kakuren data synth deepcam --height 32 --width 32 --samples 512 -o data/deepcam\n"
        "\n"
        "Writes DIR/train and DIR/validation. cosmoflow: one .npy per sample of int16 counts\n"
        "[4, S, S, S] and one of 4 float32 targets in [-1, 1], listed in files_data.lst and\n"
        "files_label.lst (NVIDIA's MLPerf HPC numpy layout). deepcam: one HDF5 file per sample\n"
        "with climate/data (H x W x 16 float32) and climate/labels_0 (H x W, classes 0/1/2),\n"
        "plus DIR/stats.h5 (per-channel minval, maxval, mean, std of the training split).\n"
        "Seeded: the default seed gives exactly the samples of data.dataset = \"synthetic\"\n"
        "with data.synthetic_kind = cosmoflow / deepcam. Stand-ins, not the real data sets.");
    synth_app->add_option("kind", synth.kind, "cosmoflow or deepcam")
        ->required()
        ->check(CLI::IsMember({"cosmoflow", "deepcam"}));
    // Checked on the text as typed: a number beyond int64 would otherwise arrive clamped.
    const auto samples_range = CLI::Range(std::int64_t{1}, trainer::k_max_synth_samples);
    synth_app->add_option("--samples", synth.train, "Training samples")
        ->required()
        ->check(samples_range);
    synth_app
        ->add_option("--validation-samples", synth.validation,
                     "Validation samples (default: samples / 4, at least 1)")
        ->check(samples_range);
    synth_app->add_option("--size", synth.size, "cosmoflow: cube side S (default 16)");
    synth_app->add_option("--height", synth.height, "deepcam: height H (default 32)");
    synth_app->add_option("--width", synth.width, "deepcam: width W (default 32)");
    synth_app->add_option("--seed", synth.seed, "Generator seed (default: the in-memory sets')");
    synth_app
        ->add_option("--difficulty", synth.difficulty,
                     "deepcam: uniform or spread (data.synthetic_difficulty; default uniform)")
        ->check(CLI::IsMember({"uniform", "spread"}));
    synth_app->add_option("-o,--out", synth.out, "Output folder (created)")->required();
    return synth_app;
}

} // namespace

void register_data(CLI::App& app, CommonOptions& common, Commands& commands) {
    struct Args {
        DataOptions data_options;
        trainer::SynthConfig synth;
    };
    const auto state = std::make_shared<Args>();
    auto& [data_options, synth] = *state;
    CLI::App* data = app.add_subcommand(
        "data",
        "Look at data sets on disk; convert IDX to npy / hdf5 / images; write the stand-ins");
    data->require_subcommand(1);
    CLI::App* inspect = data->add_subcommand(
        "inspect", "What kakuren sees: format, N per split, shapes, types, bytes, classes, and "
                   "the first problems found reading every sample");
    inspect->footer("PATH is a split (an npy folder, an .h5 file, a DeepCAM folder, a folder of\n"
                    "class folders of JPEG / PNG images) or a folder holding train and test\n"
                    "splits (train/ + test/, or train.h5 + test.h5). Images: every file is\n"
                    "decoded and the sizes seen are listed. A folder of .npy files under other\n"
                    "names, or an HDF5 file of other datasets, is listed array by array. A\n"
                    "recipe (.toml, with --set) shows both of its splits as it names them.\n"
                    "Exit 1 when a problem was found, so that scripts can check data first:\n"
                    "  kakuren data inspect /scratch/cosmoflow --format json");
    inspect->add_option("path", data_options.path, "Data set, split or recipe (.toml)")->required();
    add_overrides(inspect, data_options.overrides);
    add_common(inspect, common, true);
    CLI::App* convert = data->add_subcommand(
        "convert", "Write an IDX data set (Fashion-MNIST by default) as npy, hdf5 or images");
    convert->footer("npy: OUT/train/{data,targets}.npy and OUT/test/...; hdf5: OUT/train.h5 and\n"
                    "OUT/test.h5 with the datasets data and targets. uint8 images [N, 1, H, W],\n"
                    "uint8 labels; images: OUT/train/LABEL/NNNNN.png (grey PNG files) and\n"
                    "OUT/train/files.lst (the IDX order), OUT/test/... Each trains\n"
                    "bit-identically to the IDX files. Then:\n"
                    "  kakuren data convert --to npy fmnist-npy\n"
                    "  kakuren run recipes/fashion_mnist_cnn.toml --set data.dataset=npy \\\n"
                    "      --set data.train=fmnist-npy/train --set data.test=fmnist-npy/test");
    convert->add_option("out", data_options.out, "Folder to write")->required();
    convert->add_option("--to", data_options.to, "npy, hdf5 or images")
        ->required()
        ->check(CLI::IsMember({"npy", "hdf5", "images"}));
    convert->add_option("--from", data_options.from, "Folder with the four IDX files (.gz or not)")
        ->capture_default_str();

    CLI::App* synth_app = add_synth_subcommand(*data, synth);
    commands.push_back(
        {inspect, [&common, state] { return data_inspect_command(common, state->data_options); }});
    commands.push_back({convert, [state] { return data_convert_command(state->data_options); }});
    commands.push_back({synth_app, [state] { return data_synth_command(state->synth); }});
}

} // namespace kakuren::cli

// `kakuren hidden RUN --epoch N` (the samples hidden in an epoch, with their files for file-based
// data) and `kakuren hidden RUN --sample I` (the epochs one sample was hidden in).
#include <iostream>

#include "cli/commands.hpp"
#include "cli/hidden_files.hpp"
#include "cli/lookup.hpp"
#include "cli/text.hpp"
#include "db/store.hpp"
#include "launcher/workspace.hpp"
#include "util/json.hpp"

namespace kakuren::cli {
namespace {

void print_epoch_json(const db::RunRow& run, int epoch, const std::vector<std::int64_t>& ids,
                      const std::optional<SampleFiles>& files) {
    util::JsonObject out{{"run_id", run.id},
                         {"epoch", epoch},
                         {"num_samples", run.num_samples},
                         {"num_hidden", ids.size()},
                         {"hidden", util::JsonArray(ids.begin(), ids.end())}};
    if (files) {
        out.emplace_back("files_root", files->root);
        out.emplace_back("files", util::JsonArray(files->files.begin(), files->files.end()));
    }
    std::cout << util::Json(std::move(out)).dump() << std::endl;
}

int hidden_in_epoch(const db::Store& store, const db::RunRow& run, int epoch, bool json) {
    const auto ids = store.hidden_set(run.id, epoch);
    if (!ids) {
        throw UsageError("run " + run.id + " has no epoch " + std::to_string(epoch) +
                         " recorded (epochs done: " + std::to_string(run.epochs_done) + ")");
    }
    std::string note;
    const auto files = sample_files_of(run, *ids, note);
    if (json) {
        print_epoch_json(run, epoch, *ids, files);
        return k_exit_ok;
    }
    std::cout << "epoch " << epoch << ": " << thousands(static_cast<std::int64_t>(ids->size()))
              << " of " << thousands(run.num_samples) << " samples hidden";
    if (run.num_samples > 0) {
        std::cout << " (" << percent(static_cast<double>(ids->size()) / run.num_samples) << ")";
    }
    std::cout << "\n";
    if (files) {
        std::cout << "sample  file (in " << files->root << ")\n";
        for (std::size_t i = 0; i < ids->size(); ++i) {
            std::cout << (*ids)[i] << "  " << files->relative(i) << "\n";
        }
        return k_exit_ok;
    }
    if (!note.empty()) {
        std::cout << note << "\n";
    }
    for (std::size_t i = 0; i < ids->size(); ++i) {
        std::cout << (*ids)[i] << ((i + 1) % 12 == 0 || i + 1 == ids->size() ? "\n" : " ");
    }
    return k_exit_ok;
}

/// One sample's hiding history and its latest statistics (when the run recorded them).
struct SampleStory {
    std::int64_t sample = 0;
    std::size_t epochs_recorded = 0;
    std::vector<int> hidden_in;
    std::optional<util::SampleStats> state; ///< set only when it covers the sample
    int state_epoch = 0;                    ///< the epoch after which `state` was recorded
    std::optional<std::string> file;        ///< file-based data: the sample's file
};

SampleStory sample_story(const db::Store& store, const db::RunRow& run, std::int64_t sample) {
    if (sample < 0 || (run.num_samples > 0 && sample >= run.num_samples)) {
        throw UsageError("--sample " + std::to_string(sample) + " is out of range; " +
                         (run.num_samples > 0
                              ? "run " + run.id + " has " + std::to_string(run.num_samples) +
                                    " training samples: give 0 to " +
                                    std::to_string(run.num_samples - 1)
                              : std::string("samples are numbered from 0")));
    }
    SampleStory story;
    story.sample = sample;
    const auto history = store.sample_history(run.id, sample);
    story.epochs_recorded = history.size();
    for (const auto& [e, was_hidden] : history) {
        if (was_hidden) {
            story.hidden_in.push_back(e);
        }
    }
    auto state = store.sample_state(run.id, &story.state_epoch);
    if (state && static_cast<std::size_t>(sample) < state->size()) {
        story.state = std::move(state);
    }
    std::string note;
    if (const auto files = sample_files_of(run, {sample}, note)) {
        story.file = files->files.front();
    }
    return story;
}

void print_sample_json(const db::RunRow& run, const SampleStory& s) {
    util::JsonObject out{
        {"run_id", run.id},
        {"sample", s.sample},
        {"epochs_recorded", s.epochs_recorded},
        {"times_hidden", s.hidden_in.size()},
        {"hidden_in_epochs", util::JsonArray(s.hidden_in.begin(), s.hidden_in.end())}};
    if (s.file) {
        out.emplace_back("file", *s.file);
    }
    if (s.state) {
        const auto i = static_cast<std::size_t>(s.sample);
        out.emplace_back("latest", util::JsonObject{{"epoch", s.state_epoch},
                                                    {"loss", s.state->loss()[i]},
                                                    {"correct", s.state->correct()[i] != 0},
                                                    {"confidence", s.state->confidence()[i]}});
    }
    std::cout << util::Json(std::move(out)).dump() << std::endl;
}

void print_sample(const SampleStory& s) {
    std::cout << "sample " << s.sample << (s.file ? " (" + *s.file + ")" : std::string())
              << " was hidden in " << s.hidden_in.size() << " of " << s.epochs_recorded
              << " epochs";
    if (!s.hidden_in.empty()) {
        std::cout << ":";
        for (int e : s.hidden_in) {
            std::cout << " " << e;
        }
    }
    std::cout << "\n";
    if (s.state) {
        const auto i = static_cast<std::size_t>(s.sample);
        std::cout << "after epoch " << s.state_epoch << ": loss " << fixed(s.state->loss()[i], 4)
                  << ", " << (s.state->correct()[i] != 0 ? "correct" : "wrong") << ", confidence "
                  << fixed(s.state->confidence()[i], 3) << "\n";
    }
}

} // namespace

int hidden_command(const CommonOptions& common, const std::string& ref, int epoch,
                   long long sample) {
    const db::Store store = open_store(launcher::resolve_workspace(common.workspace));
    const db::RunRow run = require_run(store, ref);
    const bool json = common.format == Format::json;
    if (epoch > 0) {
        return hidden_in_epoch(store, run, epoch, json);
    }
    const SampleStory story = sample_story(store, run, sample);
    if (json) {
        print_sample_json(run, story);
    } else {
        print_sample(story);
    }
    return k_exit_ok;
}

} // namespace kakuren::cli

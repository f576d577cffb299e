// Checkpoint cost: (1) one checkpoint with the per-sample state of N = 1.28 M synthetic samples
// (statistics and hidden set in the database, the epoch plan in loop.bin) next to model files of
// the shipped CNN's size; (2) the shipped recipe (recipes/fashion_mnist_cnn.toml) trained for two
// epochs with its checkpoints: time per checkpoint (serialise + write + commit) and its share of
// the epoch time. Prints a table, writes JSON to argv[1] (default bench/out/checkpoint.json).
// Run by hand on a quiet machine; never part of ctest.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "checkpoint/manager.hpp"
#include "cli/config_map.hpp"
#include "db/store.hpp"
#include "recipes/recipe.hpp"
#include "trainer/trainer.hpp"
#include "util/mllog.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace kakuren;

constexpr std::int64_t k_num_samples = 1'280'000;
constexpr int k_runs = 5;
constexpr double k_goal_state_s = 1.0;
constexpr double k_goal_share = 0.02;
constexpr std::size_t k_shipped_model_bytes = 105'866 * 4; // the shipped CNN's float32 weights

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Stats {
    double median = 0, min = 0, max = 0;
};

Stats stats_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front(), v.back()};
}

db::RunRow run_row(const std::string& id, const fs::path& dir) {
    db::RunRow run;
    run.id = id;
    run.name = "bench";
    run.recipe_path = "/bench.toml";
    run.recipe_text = "[run]\n";
    run.recipe_hash = "-";
    run.strategy = "kakurenbo";
    run.run_dir = dir.string();
    return run;
}

/// A checkpoint in the middle of an epoch of N samples: 30 % hidden, the plan's visiting order
/// and refresh order, N statistics, and model / optimizer files of the shipped CNN's size.
struct SyntheticState {
    std::vector<float> loss, confidence;
    std::vector<std::uint8_t> correct;
    checkpoint::Snapshot snapshot;
};

SyntheticState synthetic_state(std::int64_t n) {
    SyntheticState s;
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<float> uniform(0.0F, 1.0F);
    s.loss.resize(static_cast<std::size_t>(n));
    s.confidence.resize(static_cast<std::size_t>(n));
    s.correct.resize(static_cast<std::size_t>(n));
    hiding::EpochPlan& plan = s.snapshot.loop.plan;
    for (std::int64_t i = 0; i < n; ++i) {
        s.loss[static_cast<std::size_t>(i)] = uniform(rng) * 3;
        s.confidence[static_cast<std::size_t>(i)] = uniform(rng);
        s.correct[static_cast<std::size_t>(i)] = uniform(rng) < 0.8F ? 1 : 0;
        (i % 10 < 3 ? plan.hidden_ids : plan.train_ids).push_back(i);
    }
    std::shuffle(plan.train_ids.begin(), plan.train_ids.end(), rng);
    plan.refresh_ids = plan.hidden_ids;
    std::shuffle(plan.refresh_ids.begin(), plan.refresh_ids.end(), rng);
    plan.num_samples = n;
    plan.max_fraction = 0.3;
    plan.num_candidates = n * 3 / 10;
    checkpoint::LoopState& loop = s.snapshot.loop;
    loop.num_samples = n;
    loop.train_steps = static_cast<std::int64_t>(plan.train_ids.size()) / 256;
    loop.refresh_steps = static_cast<std::int64_t>(plan.refresh_ids.size()) / 256;
    std::string model(k_shipped_model_bytes, '\0');
    for (char& c : model) {
        c = static_cast<char>(rng());
    }
    s.snapshot.files = {{"model.pt", model}, {"optimizer.pt", model}, {"rng.pt", "state"}};
    s.snapshot.reason = checkpoint::Reason::steps;
    s.snapshot.loss = s.loss;
    s.snapshot.correct = s.correct;
    s.snapshot.confidence = s.confidence;
    s.snapshot.hidden_ids = plan.hidden_ids;
    return s;
}

/// Times checkpoints and epochs of a real training run.
class Timer : public trainer::Observer {
  public:
    explicit Timer(checkpoint::Manager& manager) : m_manager(manager) {}
    void on_epoch(const trainer::EpochResult& r) override { epoch_s.push_back(r.total_s); }
    void on_checkpoint(const checkpoint::Snapshot& s) override {
        const auto start = Clock::now();
        const db::CheckpointRow row = m_manager.save(s);
        const double write_s = seconds_since(start);
        serialize.push_back(s.serialize_s);
        write.push_back(write_s);
        total.push_back(s.serialize_s + write_s);
        bytes = row.size_bytes;
        at_epoch_end.push_back(s.loop.position.epoch_end);
    }
    std::vector<double> epoch_s, serialize, write, total;
    std::vector<bool> at_epoch_end;
    std::int64_t bytes = 0;

  private:
    checkpoint::Manager& m_manager;
};

} // namespace

int main(int argc, char** argv) {
    const fs::path out = argc > 1 ? fs::path(argv[1]) : fs::path("bench/out/checkpoint.json");
    char tmpl[] = "/tmp/kakuren-bench-ckpt-XXXXXX";
    const fs::path dir = mkdtemp(tmpl);

    // (1) The per-sample state of 1.28 M samples.
    std::vector<double> save_s, load_s;
    std::int64_t state_bytes = 0;
    {
        db::Store store = db::Store::open(dir / "synthetic" / "kakuren.db");
        store.insert_run(run_row("synthetic", dir / "synthetic"));
        checkpoint::Manager manager(store, "synthetic", dir / "synthetic" / "checkpoints");
        manager.set_context(1, "[run]\n");
        SyntheticState s = synthetic_state(k_num_samples);
        for (int i = 0; i < k_runs; ++i) {
            s.snapshot.loop.position = {1, 100 + i, false};
            const auto start = Clock::now();
            const db::CheckpointRow row = manager.save(s.snapshot);
            save_s.push_back(seconds_since(start));
            state_bytes = row.size_bytes;
            std::vector<checkpoint::Status> skipped;
            const auto load_start = Clock::now();
            const auto loaded = manager.load_newest_valid(skipped);
            load_s.push_back(seconds_since(load_start));
            if (!loaded || loaded->loss.size() != s.loss.size()) {
                std::cerr << "the checkpoint did not load back\n";
                return 1;
            }
        }
    }
    const Stats save = stats_of(save_s), load = stats_of(load_s);

    // (2) The shipped recipe, two epochs, its default checkpoints (each epoch's end), plus a
    // mid-epoch one every 150 steps for more samples of the cost.
    recipes::Recipe recipe = recipes::load(
        KAKUREN_SOURCE_DIR "/recipes/fashion_mnist_cnn.toml",
        {"schedule.epochs=2", "schedule.milestones=[1]", "checkpoint.every_steps=150"});
    trainer::Config config = cli::trainer_config(recipe);
    db::Store store = db::Store::open(dir / "shipped" / "kakuren.db");
    store.insert_run(run_row("shipped", dir / "shipped"));
    checkpoint::Manager manager(store, "shipped", dir / "shipped" / "checkpoints",
                                *config.checkpoint);
    manager.set_context(1, recipes::to_toml(recipe));
    Timer timer(manager);
    util::MlLog no_log;
    trainer::train(config, timer, no_log);
    std::vector<double> end_totals;
    for (std::size_t i = 0; i < timer.total.size(); ++i) {
        if (timer.at_epoch_end[i]) {
            end_totals.push_back(timer.total[i]);
        }
    }
    const Stats per = stats_of(timer.total), serialize = stats_of(timer.serialize),
                write = stats_of(timer.write);
    const double epoch_s = std::accumulate(timer.epoch_s.begin(), timer.epoch_s.end(), 0.0) /
                           static_cast<double>(timer.epoch_s.size());
    const double end_s = stats_of(end_totals).median;
    const double share = end_s / epoch_s;
    std::error_code ec;
    fs::remove_all(dir, ec);

    char line[512];
    std::cout << "| measurement | median | min | max | goal |\n|---|---|---|---|---|\n";
    std::snprintf(line, sizeof line,
                  "| checkpoint with the per-sample state of N = 1.28 M (save, %.1f MB of files) "
                  "| %.3f s | %.3f s | %.3f s | <= %.1f s |\n",
                  static_cast<double>(state_bytes) / 1e6, save.median, save.min, save.max,
                  k_goal_state_s);
    std::cout << line;
    std::snprintf(line, sizeof line, "| load and validate it | %.3f s | %.3f s | %.3f s | |\n",
                  load.median, load.min, load.max);
    std::cout << line;
    std::snprintf(line, sizeof line,
                  "| shipped recipe: one checkpoint (%.2f MB; %zu taken) | %.3f s | %.3f s | "
                  "%.3f s | |\n",
                  static_cast<double>(timer.bytes) / 1e6, timer.total.size(), per.median, per.min,
                  per.max);
    std::cout << line;
    std::snprintf(line, sizeof line,
                  "| - of which serialise (torch) / write + commit | %.3f / %.3f s | | | |\n",
                  serialize.median, write.median);
    std::cout << line;
    std::snprintf(line, sizeof line,
                  "| shipped recipe: epoch-end checkpoint / epoch time (%.2f s) | %.2f %% | | | "
                  "<= %.0f %% |\n",
                  epoch_s, share * 100, k_goal_share * 100);
    std::cout << line;

    fs::create_directories(out.parent_path().empty() ? fs::path(".") : out.parent_path());
    std::ofstream json(out);
    json << "{\n  \"bench\": \"checkpoint\",\n"
         << "  \"num_samples\": " << k_num_samples << ",\n"
         << "  \"runs\": " << k_runs << ",\n"
         << "  \"state_checkpoint_save_s\": {\"median\": " << save.median
         << ", \"min\": " << save.min << ", \"max\": " << save.max << "},\n"
         << "  \"state_checkpoint_load_s\": {\"median\": " << load.median
         << ", \"min\": " << load.min << ", \"max\": " << load.max << "},\n"
         << "  \"state_checkpoint_file_bytes\": " << state_bytes << ",\n"
         << "  \"goal_state_s\": " << k_goal_state_s << ",\n"
         << "  \"shipped_checkpoint_bytes\": " << timer.bytes << ",\n"
         << "  \"shipped_checkpoints\": " << timer.total.size() << ",\n"
         << "  \"shipped_checkpoint_s\": {\"median\": " << per.median << ", \"min\": " << per.min
         << ", \"max\": " << per.max << "},\n"
         << "  \"shipped_serialize_s\": " << serialize.median << ",\n"
         << "  \"shipped_write_commit_s\": " << write.median << ",\n"
         << "  \"shipped_epoch_s\": " << epoch_s << ",\n"
         << "  \"shipped_epoch_end_checkpoint_s\": " << end_s << ",\n"
         << "  \"shipped_share_of_epoch\": " << share << ",\n"
         << "  \"goal_share\": " << k_goal_share << "\n}\n";
    std::cout << "wrote " << out.string() << "\n";
    return 0;
}

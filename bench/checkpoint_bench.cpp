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
constexpr std::size_t k_shipped_model_bytes =
    std::size_t{105'866} * 4; // the shipped CNN's float32 weights

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
    util::SampleStats stats;
    checkpoint::Snapshot snapshot;
};

SyntheticState synthetic_state(std::int64_t n) {
    SyntheticState s;
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<float> uniform(0.0F, 1.0F);
    s.stats = util::SampleStats(static_cast<std::size_t>(n));
    hiding::EpochPlan& plan = s.snapshot.loop.plan;
    for (std::int64_t i = 0; i < n; ++i) {
        s.stats.loss()[static_cast<std::size_t>(i)] = uniform(rng) * 3;
        s.stats.confidence()[static_cast<std::size_t>(i)] = uniform(rng);
        s.stats.correct()[static_cast<std::size_t>(i)] = uniform(rng) < 0.8F ? 1 : 0;
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
    s.snapshot.stats = s.stats.view();
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

/// Part (1): save and load back the per-sample state of k_num_samples, k_runs times.
struct StateResult {
    Stats save, load;
    std::int64_t bytes = 0;
    bool loaded_back = true;
};

/// Measures part (1) in dir / "synthetic"; loaded_back is false (and the rest partial) when a
/// checkpoint did not load back.
StateResult measure_state(const fs::path& dir) {
    std::vector<double> save_s, load_s;
    StateResult result;
    fs::create_directories(dir / "synthetic"); // the store opens only in an existing folder
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
        result.bytes = row.size_bytes;
        std::vector<checkpoint::Status> skipped;
        const auto load_start = Clock::now();
        const auto loaded = manager.load_newest_valid(skipped);
        load_s.push_back(seconds_since(load_start));
        if (!loaded || loaded->stats.size() != s.stats.size()) {
            result.loaded_back = false;
            return result;
        }
    }
    result.save = stats_of(save_s);
    result.load = stats_of(load_s);
    return result;
}

/// Part (2): the shipped recipe's checkpoints and epochs.
struct ShippedResult {
    Stats per, serialize, write;
    std::size_t checkpoints = 0;
    std::int64_t bytes = 0;
    double epoch_s = 0, end_s = 0, share = 0;
};

/// Measures part (2) in dir / "shipped": two epochs, its default checkpoints (each epoch's
/// end), plus a mid-epoch one every 150 steps for more samples of the cost.
ShippedResult measure_shipped(const fs::path& dir) {
    recipes::Recipe recipe = recipes::load(
        KAKUREN_SOURCE_DIR "/recipes/fashion_mnist_cnn.toml",
        {"schedule.epochs=2", "schedule.milestones=[1]", "checkpoint.every_steps=150"});
    trainer::Config config = cli::trainer_config(recipe);
    fs::create_directories(dir / "shipped");
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
    ShippedResult r;
    r.per = stats_of(timer.total);
    r.serialize = stats_of(timer.serialize);
    r.write = stats_of(timer.write);
    r.checkpoints = timer.total.size();
    r.bytes = timer.bytes;
    r.epoch_s = std::accumulate(timer.epoch_s.begin(), timer.epoch_s.end(), 0.0) /
                static_cast<double>(timer.epoch_s.size());
    r.end_s = stats_of(end_totals).median;
    r.share = r.end_s / r.epoch_s;
    return r;
}

/// Prints the markdown table of both parts.
void print_table(const StateResult& state, const ShippedResult& shipped) {
    char line[512];
    std::cout << "| measurement | median | min | max | goal |\n|---|---|---|---|---|\n";
    std::snprintf(line, sizeof line,
                  "| checkpoint with the per-sample state of N = 1.28 M (save, %.1f MB of files) "
                  "| %.3f s | %.3f s | %.3f s | <= %.1f s |\n",
                  static_cast<double>(state.bytes) / 1e6, state.save.median, state.save.min,
                  state.save.max, k_goal_state_s);
    std::cout << line;
    std::snprintf(line, sizeof line, "| load and validate it | %.3f s | %.3f s | %.3f s | |\n",
                  state.load.median, state.load.min, state.load.max);
    std::cout << line;
    std::snprintf(line, sizeof line,
                  "| shipped recipe: one checkpoint (%.2f MB; %zu taken) | %.3f s | %.3f s | "
                  "%.3f s | |\n",
                  static_cast<double>(shipped.bytes) / 1e6, shipped.checkpoints, shipped.per.median,
                  shipped.per.min, shipped.per.max);
    std::cout << line;
    std::snprintf(line, sizeof line,
                  "| - of which serialise (torch) / write + commit | %.3f / %.3f s | | | |\n",
                  shipped.serialize.median, shipped.write.median);
    std::cout << line;
    std::snprintf(line, sizeof line,
                  "| shipped recipe: epoch-end checkpoint / epoch time (%.2f s) | %.2f %% | | | "
                  "<= %.0f %% |\n",
                  shipped.epoch_s, shipped.share * 100, k_goal_share * 100);
    std::cout << line;
}

/// Writes both parts as JSON to out (creating its folder).
void write_json(const fs::path& out, const StateResult& state, const ShippedResult& shipped) {
    fs::create_directories(out.parent_path().empty() ? fs::path(".") : out.parent_path());
    std::ofstream json(out);
    json << "{\n  \"bench\": \"checkpoint\",\n"
         << "  \"num_samples\": " << k_num_samples << ",\n"
         << "  \"runs\": " << k_runs << ",\n"
         << R"(  "state_checkpoint_save_s": {"median": )" << state.save.median
         << ", \"min\": " << state.save.min << ", \"max\": " << state.save.max << "},\n"
         << R"(  "state_checkpoint_load_s": {"median": )" << state.load.median
         << ", \"min\": " << state.load.min << ", \"max\": " << state.load.max << "},\n"
         << "  \"state_checkpoint_file_bytes\": " << state.bytes << ",\n"
         << "  \"goal_state_s\": " << k_goal_state_s << ",\n"
         << "  \"shipped_checkpoint_bytes\": " << shipped.bytes << ",\n"
         << "  \"shipped_checkpoints\": " << shipped.checkpoints << ",\n"
         << R"(  "shipped_checkpoint_s": {"median": )" << shipped.per.median
         << ", \"min\": " << shipped.per.min << ", \"max\": " << shipped.per.max << "},\n"
         << "  \"shipped_serialize_s\": " << shipped.serialize.median << ",\n"
         << "  \"shipped_write_commit_s\": " << shipped.write.median << ",\n"
         << "  \"shipped_epoch_s\": " << shipped.epoch_s << ",\n"
         << "  \"shipped_epoch_end_checkpoint_s\": " << shipped.end_s << ",\n"
         << "  \"shipped_share_of_epoch\": " << shipped.share << ",\n"
         << "  \"goal_share\": " << k_goal_share << "\n}\n";
}

} // namespace

int main(int argc, char** argv) {
    const fs::path out = argc > 1 ? fs::path(argv[1]) : fs::path("bench/out/checkpoint.json");
    char tmpl[] = "/tmp/kakuren-bench-ckpt-XXXXXX";
    const fs::path dir = mkdtemp(tmpl);

    const StateResult state = measure_state(dir);
    if (!state.loaded_back) {
        std::cerr << "the checkpoint did not load back\n";
        return 1;
    }
    const ShippedResult shipped = measure_shipped(dir);
    std::error_code ec;
    fs::remove_all(dir, ec);

    print_table(state, shipped);
    write_json(out, state, shipped);
    std::cout << "wrote " << out.string() << "\n";
    return 0;
}

// Candidate selection at ImageNet scale: kakurenbo's plan_epoch and lowest_k against a
// stable_sort-of-indices baseline. Prints a table, writes JSON to argv[1]
// (default bench/out/selection.json). Run by hand; never part of ctest.
#include "hiding/policy.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

using kakuren::hiding::Config;
using kakuren::hiding::EpochContext;
using kakuren::hiding::EpochPlan;
using kakuren::util::SampleStatsView;

constexpr std::size_t k_num_samples = 1'280'000;
constexpr int k_runs = 7;
constexpr double k_fraction = 0.3;
constexpr double k_goal_s = 0.1;

struct Result {
    std::string name;
    double median_s;
    double min_s;
    double max_s;
};

// Keeps the optimiser from dropping a result.
volatile std::int64_t g_sink = 0;

Result time_it(const std::string& name, const std::function<std::int64_t()>& body) {
    std::vector<double> times;
    for (int run = 0; run < k_runs; ++run) {
        const auto start = std::chrono::steady_clock::now();
        g_sink = g_sink + body();
        const auto stop = std::chrono::steady_clock::now();
        times.push_back(std::chrono::duration<double>(stop - start).count());
    }
    std::sort(times.begin(), times.end());
    return Result{name, times[times.size() / 2], times.front(), times.back()};
}

// The straightforward port: argsort all N by loss (stable), take the first k.
std::vector<std::int64_t> stable_sort_candidates(const std::vector<float>& loss, std::int64_t k) {
    std::vector<std::int64_t> ids(loss.size());
    std::iota(ids.begin(), ids.end(), std::int64_t{0});
    std::stable_sort(ids.begin(), ids.end(), [&](std::int64_t a, std::int64_t b) {
        return loss[static_cast<std::size_t>(a)] < loss[static_cast<std::size_t>(b)];
    });
    ids.resize(static_cast<std::size_t>(k));
    return ids;
}

// Baseline plan: stable sort + move-back + the same shuffles (what a naive port would do).
std::int64_t stable_sort_plan(const std::vector<float>& loss,
                              const std::vector<std::uint8_t>& correct,
                              const std::vector<float>& confidence, std::int64_t k, int epoch) {
    const std::vector<std::int64_t> candidates = stable_sort_candidates(loss, k);
    std::vector<std::uint8_t> hidden(loss.size(), 0);
    std::vector<std::int64_t> hidden_ids;
    for (const std::int64_t id : candidates) {
        const auto i = static_cast<std::size_t>(id);
        if (correct[i] == 1 && confidence[i] >= 0.7F) {
            hidden[i] = 1;
            hidden_ids.push_back(id);
        }
    }
    std::sort(hidden_ids.begin(), hidden_ids.end());
    std::vector<std::int64_t> train_ids;
    for (std::size_t i = 0; i < loss.size(); ++i) {
        if (hidden[i] == 0) {
            train_ids.push_back(static_cast<std::int64_t>(i));
        }
    }
    kakuren::hiding::shuffle(train_ids, 1, epoch, kakuren::hiding::k_train_stream);
    kakuren::hiding::shuffle(hidden_ids, 1, epoch, kakuren::hiding::k_refresh_stream);
    return static_cast<std::int64_t>(train_ids.size() + hidden_ids.size());
}

/// Per-sample statistics of k_num_samples synthetic samples.
struct SyntheticStats {
    std::vector<float> loss;
    std::vector<std::uint8_t> correct;
    std::vector<float> confidence;
};

/// Losses from 8-bit buckets (many ties, like quantised late-training losses) mixed with
/// continuous values; about 60 % correct, confidence uniform in [0, 1].
SyntheticStats synthetic_stats() {
    std::mt19937_64 gen(20231017);
    SyntheticStats s{std::vector<float>(k_num_samples), std::vector<std::uint8_t>(k_num_samples),
                     std::vector<float>(k_num_samples)};
    for (std::size_t i = 0; i < k_num_samples; ++i) {
        const auto raw = gen();
        s.loss[i] = (raw & 1U) != 0
                        ? static_cast<float>((raw >> 8) % 256) / 32.0F
                        : static_cast<float>(static_cast<double>(raw >> 11) * 0x1.0p-53) * 8.0F;
        s.correct[i] = static_cast<std::uint8_t>((raw >> 1) % 10 < 6);
        s.confidence[i] = static_cast<float>(static_cast<double>(gen() >> 11) * 0x1.0p-53);
    }
    return s;
}

/// Times the four variants (kakurenbo's plan and lowest_k, and the two baselines); last_plan
/// gets the last plan_epoch's plan.
std::vector<Result> time_variants(const SyntheticStats& s, EpochPlan& last_plan) {
    const SampleStatsView stats{s.loss, s.correct, s.confidence};
    Config config;
    config.strategy = "kakurenbo";
    config.fraction = k_fraction;
    config.seed = 1;
    const auto policy = kakuren::hiding::make_policy(config);
    const auto k = static_cast<std::int64_t>(k_fraction * static_cast<double>(k_num_samples));

    int epoch = 0;
    std::vector<Result> results;
    results.push_back(time_it("kakurenbo plan_epoch (F=0.3)", [&] {
        EpochContext ctx;
        ctx.epoch = ++epoch;
        ctx.num_epochs = 1000;
        last_plan = policy->plan_epoch(ctx, stats);
        return static_cast<std::int64_t>(last_plan.train_ids.size());
    }));
    results.push_back(time_it("lowest_k (k=0.3N)", [&] {
        return static_cast<std::int64_t>(kakuren::hiding::lowest_k(s.loss, k).size());
    }));
    results.push_back(time_it("baseline: stable_sort plan", [&] {
        return stable_sort_plan(s.loss, s.correct, s.confidence, k, ++epoch);
    }));
    results.push_back(time_it("baseline: stable_sort candidates", [&] {
        return static_cast<std::int64_t>(stable_sort_candidates(s.loss, k).size());
    }));
    return results;
}

/// Prints the table, the plan's figures against the goal and whether the candidates agree.
void print_results(const std::vector<Result>& results, const EpochPlan& last_plan,
                   bool same_candidates) {
    std::printf("selection bench: N = %zu, median of %d runs\n", k_num_samples, k_runs);
    std::printf("%-34s %10s %10s %10s\n", "variant", "median_s", "min_s", "max_s");
    for (const auto& r : results) {
        std::printf("%-34s %10.4f %10.4f %10.4f\n", r.name.c_str(), r.median_s, r.min_s, r.max_s);
    }
    const double plan_s = results[0].median_s;
    std::printf("plan_epoch: %lld hidden (realised %.4f), %lld moved back; goal <= %.2f s: %s\n",
                static_cast<long long>(last_plan.hidden_ids.size()), last_plan.realised_fraction(),
                static_cast<long long>(last_plan.num_moved_back), k_goal_s,
                plan_s <= k_goal_s ? "met" : "MISSED");
    std::printf("lowest_k equals stable_sort oracle: %s\n", same_candidates ? "yes" : "NO");
}

/// Writes the results as JSON to out_path (creating its folder); false when it cannot.
bool write_json(const std::filesystem::path& out_path, const std::vector<Result>& results,
                const EpochPlan& last_plan, bool same_candidates) {
    if (out_path.has_parent_path()) {
        std::filesystem::create_directories(out_path.parent_path());
    }
    std::ofstream out(out_path);
    // Names are plain ASCII without quotes or backslashes, so no JSON escaping is needed.
    out << "{\n"
        << R"(  "bench": "selection",)"
        << "\n"
        << R"(  "num_samples": )" << k_num_samples << ",\n"
        << R"(  "fraction": )" << k_fraction << ",\n"
        << R"(  "runs": )" << k_runs << ",\n"
        << R"(  "goal_plan_epoch_s": )" << k_goal_s << ",\n"
        << R"(  "same_candidates_as_stable_sort": )" << (same_candidates ? "true" : "false")
        << ",\n"
        << R"(  "realised_fraction": )" << last_plan.realised_fraction() << ",\n"
        << R"(  "results": [)"
        << "\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        out << R"(    {"name": ")" << r.name << R"(", "median_s": )" << r.median_s
            << R"(, "min_s": )" << r.min_s << R"(, "max_s": )" << r.max_s << "}"
            << (i + 1 < results.size() ? ",\n" : "\n");
    }
    out << "  ]\n}\n";
    return static_cast<bool>(out);
}

} // namespace

int main(int argc, char** argv) {
    const std::filesystem::path out_path = argc > 1
                                               ? std::filesystem::path(argv[1])
                                               : std::filesystem::path("bench/out/selection.json");
    const SyntheticStats s = synthetic_stats();
    EpochPlan last_plan;
    const std::vector<Result> results = time_variants(s, last_plan);

    // The fast path must pick what the baseline picks.
    const auto k = static_cast<std::int64_t>(k_fraction * static_cast<double>(k_num_samples));
    std::vector<std::int64_t> oracle = stable_sort_candidates(s.loss, k);
    std::sort(oracle.begin(), oracle.end());
    const bool same_candidates = kakuren::hiding::lowest_k(s.loss, k) == oracle;

    print_results(results, last_plan, same_candidates);
    if (!write_json(out_path, results, last_plan, same_candidates)) {
        std::cerr << "selection_bench: error: cannot write " << out_path << "\n";
        return 1;
    }
    std::printf("wrote %s\n", out_path.string().c_str());
    return same_candidates ? 0 : 1;
}

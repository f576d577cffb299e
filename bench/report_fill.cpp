// Fills a workspace with synthetic runs for bench/report_bench.py: rows written through db::Store
// and an MLPerf log per run, no training. Half the runs hide (kakurenbo), half are baselines,
// seeds 1, 2, ... per half.
//
//   kakuren_bench_report_fill WORKSPACE [--runs 100] [--epochs 100] [--samples 2048]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include <sqlite3.h>

#include "db/store.hpp"
#include "synthetic_workspace.hpp"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: kakuren_bench_report_fill WORKSPACE [--runs N] [--epochs E] "
                     "[--samples N]\n";
        return 2;
    }
    const std::filesystem::path ws = argv[1];
    int runs = 100, epochs = 100;
    long long samples = 2048;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--runs") == 0) {
            runs = std::atoi(argv[i + 1]);
        } else if (std::strcmp(argv[i], "--epochs") == 0) {
            epochs = std::atoi(argv[i + 1]);
        } else if (std::strcmp(argv[i], "--samples") == 0) {
            samples = std::atoll(argv[i + 1]);
        } else {
            std::cerr << "unknown option " << argv[i] << "\n";
            return 2;
        }
    }
    try {
        std::filesystem::create_directories(ws);
        auto store = kakuren::db::Store::open(ws / "kakuren.db");
        // Filling is not what is measured: skip the fsyncs (kakuren itself keeps them).
        sqlite3_exec(store.handle(), "PRAGMA synchronous = OFF", nullptr, nullptr, nullptr);
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < runs; ++i) {
            kakuren::report::testing::SyntheticRun spec;
            spec.name = "bench";
            spec.strategy = i % 2 == 0 ? "kakurenbo" : "none";
            spec.seed = i / 2 + 1;
            spec.epochs = epochs;
            spec.num_samples = samples;
            spec.epoch_s = 5.0;
            spec.start_ms = 1'790'000'000'000 + static_cast<long long>(i) * 3'600'000;
            spec.write_samples = false; // reports without --samples never read them
            kakuren::report::testing::add_synthetic_run(store, ws, spec);
        }
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("{\"runs\": %d, \"epochs\": %d, \"samples\": %lld, \"fill_s\": %.3f}\n", runs,
                    epochs, samples, s);
    } catch (const std::exception& e) {
        std::cerr << "kakuren_bench_report_fill: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

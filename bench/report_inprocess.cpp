// Times `kakuren report --all` inside one process (no process start-up, no libtorch loading):
// build_report, then each renderer, best of --repeat. Used by bench/report_bench.py.
//
//   kakuren_bench_report WORKSPACE [--repeat 3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>

#include "db/store.hpp"
#include "report/render.hpp"
#include "report/report.hpp"

namespace {

double best_of(int repeat, const std::function<void()>& f) {
    double best = std::numeric_limits<double>::infinity();
    for (int i = 0; i < repeat; ++i) {
        const auto start = std::chrono::steady_clock::now();
        f();
        best = std::min(
            best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: kakuren_bench_report WORKSPACE [--repeat N]\n";
        return 2;
    }
    const std::filesystem::path ws = argv[1];
    const int repeat = argc >= 4 && std::strcmp(argv[2], "--repeat") == 0 ? std::atoi(argv[3]) : 3;
    try {
        kakuren::report::Report report;
        double open_s = 0;
        const double build_s = best_of(repeat, [&] {
            const auto start = std::chrono::steady_clock::now();
            auto store = kakuren::db::Store::open(ws / "kakuren.db");
            open_s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            kakuren::report::Request request;
            request.all = true;
            request.workspace = ws.string();
            report = kakuren::report::build_report(store, request);
        });
        std::size_t sink = 0;
        const double table_s =
            best_of(repeat, [&] { sink += kakuren::report::render_table(report).size(); });
        const double json_s =
            best_of(repeat, [&] { sink += kakuren::report::render_json(report).size(); });
        const double csv_s =
            best_of(repeat, [&] { sink += kakuren::report::render_csv(report).size(); });
        const double html_s =
            best_of(repeat, [&] { sink += kakuren::report::render_html(report).size(); });
        std::printf("{\"runs\": %zu, \"open_s\": %.4f, \"build_s\": %.4f, \"table_s\": %.4f, "
                    "\"json_s\": %.4f, \"csv_s\": %.4f, \"html_s\": %.4f, \"bytes\": %zu}\n",
                    report.runs.size(), open_s, build_s, table_s, json_s, csv_s, html_s,
                    sink / static_cast<std::size_t>(repeat));
    } catch (const std::exception& e) {
        std::cerr << "kakuren_bench_report: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

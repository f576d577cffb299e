// The streaming loader alone: reads every sample of one split (npy or hdf5) in file order or in
// a shuffled order through a Prefetcher with N reader threads, as a training pass would, and
// prints {"bytes": ..., "seconds": ..., "samples": ...}. bench/stream_cold.py drops the page cache
// before each run and compares it with a raw sequential read of the same files.
// Usage: kakuren_bench_stream_read npy|hdf5 PATH THREADS [BATCH] [seq|shuffled]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "trainer/source.hpp"
#include "trainer/stream.hpp"
#include "util/error.hpp"

int main(int argc, char** argv) {
    using namespace kakuren::trainer;
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s npy|hdf5 PATH THREADS [BATCH] [seq|shuffled]\n", argv[0]);
        return 2;
    }
    const std::string format = argv[1], path = argv[2];
    const int threads = std::stoi(argv[3]);
    const std::int64_t batch = argc > 4 ? std::stoll(argv[4]) : 8;
    const bool shuffled = argc > 5 && std::string(argv[5]) == "shuffled";
    try {
        std::unique_ptr<RawReader> reader =
            format == "npy" ? open_npy_split(path, "data.train")
                            : open_hdf5_split(path, "data.train", "data", "targets");
        const StreamSource source(std::move(reader), 0, Decoding{}, threads,
                                  std::max(2, 2 * threads));
        std::vector<std::int64_t> ids(static_cast<std::size_t>(source.size()));
        std::iota(ids.begin(), ids.end(), 0);
        if (shuffled) {
            std::mt19937_64 rng(1);
            std::shuffle(ids.begin(), ids.end(), rng);
        }
        BatchBuffer buffer;
        const auto start = std::chrono::steady_clock::now();
        {
            Prefetcher pass(source, ids, batch, buffer);
            const auto steps = static_cast<std::int64_t>((ids.size() + batch - 1) / batch);
            double checksum = 0; // keeps the batches alive until used, as a step would
            for (std::int64_t s = 0; s < steps; ++s) {
                const Batch b = pass.read(s);
                checksum += b.inputs.view({-1})[0].item<float>();
            }
            std::fprintf(stderr, "checksum %g\n", checksum);
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("{\"bytes\": %llu, \"seconds\": %.6f, \"samples\": %zu}\n",
                    static_cast<unsigned long long>(source.bytes_read()), seconds, ids.size());
    } catch (const kakuren::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}

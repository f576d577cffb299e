// Writes seed inputs the fuzzers cannot find from the checked-in seeds alone: loop.bin files as
// the checkpoint manager writes them, and an MLPerf log as a run writes it.
// Usage: kakuren_fuzz_seeds <loop_state dir> <mllog dir>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "checkpoint/state.hpp"
#include "util/mllog.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: kakuren_fuzz_seeds LOOP_STATE_DIR MLLOG_DIR\n";
        return 2;
    }
    using kakuren::checkpoint::LoopState;
    LoopState end;
    end.position = {3, 0, true};
    end.num_samples = 64;
    end.mllog_bytes = 4096;
    end.seed = 7;
    end.threads = 2;
    end.best_accuracy = 0.9;
    LoopState mid = end;
    mid.position = {2, 5, false};
    mid.plan.num_samples = 64;
    for (std::int64_t i = 0; i < 64; ++i) {
        (i % 5 == 0 ? mid.plan.hidden_ids : mid.plan.train_ids).push_back(i);
    }
    mid.plan.refresh_ids = mid.plan.hidden_ids;
    mid.plan.lr_scale = 1.25;
    mid.train_steps = 4;
    mid.train_count = 40;
    int n = 0;
    for (const LoopState& s : {LoopState{}, end, mid}) {
        std::ofstream(fs::path(argv[1]) / ("loop-" + std::to_string(n++) + ".bin"),
                      std::ios::binary)
            << kakuren::checkpoint::encode(s);
    }
    {
        kakuren::util::MlLog log(fs::path(argv[2]) / "mllog.txt");
        log.event("cache_clear", true);
        log.event("init_start");
        log.event("submission_benchmark", "tiny");
        log.event("seed", 1);
        log.event("global_batch_size", 128);
        log.event("init_stop");
        log.event("run_start");
        for (int e = 1; e <= 2; ++e) {
            log.event("epoch_start", kakuren::util::Json::null(), {{"epoch_num", e}});
            log.event("eval_accuracy", 0.5 + 0.1 * e, {{"epoch_num", e}});
            log.event("epoch_stop", kakuren::util::Json::null(), {{"epoch_num", e}});
        }
        log.event("run_stop", kakuren::util::Json::null(),
                  {{"status", "aborted"}, {"epoch_num", 2}});
    }
    return 0;
}

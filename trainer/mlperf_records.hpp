#pragma once
// The MLPerf hyper-parameter records a run writes between init_start and init_stop
// (docs/reports.md, "MLPerf log"). Private to trainer/.
#include <cstdint>
#include <vector>

#include "trainer/trainer.hpp"
#include "util/mllog.hpp"

namespace kakuren::trainer {

/// What the records need beside the config.
struct RunFacts {
    int world = 1;
    std::string platform;              ///< e.g. "1xCPU-2c"
    std::string device;                ///< "cpu", "cuda:0 (NVIDIA H100 80GB HBM3)"
    std::int64_t steps_full_epoch = 0; ///< optimizer steps of an epoch without hiding
    std::vector<int> lr_milestones;    ///< empty unless a step schedule
    std::int64_t train_samples = 0, eval_samples = 0;
};

/// Writes submission_*, seed, ranks, batch, optimizer, schedule, hiding and sample-count records,
/// and what exactness depends on: kakuren_torch_version, kakuren_device, kakuren_cpu_capability,
/// kakuren_precision, kakuren_memory_format, kakuren_deterministic.
void log_hyperparameters(const Config& config, const RunFacts& facts, util::MlLog& mllog);

} // namespace kakuren::trainer

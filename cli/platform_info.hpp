#pragma once
// Where a run computed, read back from its MLPerf log's init records (kakuren_torch_version,
// kakuren_device, kakuren_cpu_capability, kakuren_precision): what `kakuren show` prints, since
// bit-exactness holds per LibTorch release, device and CPU kernel level. Private to cli/.
#include <filesystem>
#include <string>
#include <vector>

namespace kakuren::cli {

struct PlatformField {
    std::string key;   ///< "torch_version", "device", "cpu_capability", "precision"
    std::string value; ///< as logged ("2.11.0", "cpu", "AVX512", "bf16")
};

/// The fields the run's mllog.txt holds, in that order; empty when the log is missing or was
/// written before they were recorded.
std::vector<PlatformField> read_platform(const std::filesystem::path& run_dir);

/// "LibTorch 2.11.0, cpu, CPU kernels AVX512, fp32" (the fields there are), or "".
std::string platform_line(const std::vector<PlatformField>& fields);

} // namespace kakuren::cli

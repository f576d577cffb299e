#include "cli/platform_info.hpp"

#include "report/mllog_check.hpp"

namespace kakuren::cli {

std::vector<PlatformField> read_platform(const std::filesystem::path& run_dir) {
    std::vector<PlatformField> out;
    const std::filesystem::path log = run_dir / "mllog.txt";
    std::error_code ec;
    if (!std::filesystem::is_regular_file(log, ec)) {
        return out;
    }
    const report::LogAnalysis analysis = report::read_mllog(log, /*still_running=*/true);
    for (const char* key : {"torch_version", "device", "cpu_capability", "precision"}) {
        const auto it = analysis.values.find(std::string("kakuren_") + key);
        if (it != analysis.values.end() && it->second.is_string()) {
            out.push_back({key, it->second.as_string()});
        }
    }
    return out;
}

std::string platform_line(const std::vector<PlatformField>& fields) {
    std::string line;
    for (const PlatformField& f : fields) {
        const std::string text = f.key == "torch_version"    ? "LibTorch " + f.value
                                 : f.key == "cpu_capability" ? "CPU kernels " + f.value
                                                             : f.value;
        line += (line.empty() ? "" : ", ") + text;
    }
    return line;
}

} // namespace kakuren::cli

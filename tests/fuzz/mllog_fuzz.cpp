// libFuzzer: the MLPerf log checker of kakuren report, on any log text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "report/mllog_check.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        for (const bool running : {false, true}) {
            const kakuren::report::LogAnalysis a =
                kakuren::report::analyze_mllog(text, "mllog.txt", running);
            (void)a.time_to_train_s();
            (void)a.elapsed_s();
            (void)a.epochs_by_number();
        }
    } catch (const kakuren::Error&) {
    }
    return 0;
}

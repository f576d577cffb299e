#include "trainer/device.hpp"

#include <malloc.h>

#include <mutex>

#include "util/system.hpp"

namespace kakuren::trainer {
namespace {

void set_threads(int threads) {
    // The inter-op pool can be sized once per process, before it starts; later runs in the same
    // process (tests) keep the first size.
    static std::once_flag interop_once;
    std::call_once(interop_once, [threads] {
        try {
            at::set_num_interop_threads(threads);
        } catch (const c10::Error&) {
        }
    });
    at::set_num_threads(threads);
}

/// glibc's malloc returns freed memory to the kernel when the free space at the top of the heap
/// passes a threshold that it adapts on the fly. Training frees and reallocates megabytes of
/// activations every step, and depending on the heap's layout that can turn into trimming and
/// re-faulting those pages every step: we measured 460k instead of 100k page faults and a 20-50 %
/// slower epoch for the same loop. Fixed thresholds keep blocks up to 32 MiB (glibc's maximum) on
/// the heap and keep up to 1 GiB of free heap for the next step. Process-wide, set once.
void tune_malloc() {
    static std::once_flag once;
    std::call_once(once, [] {
        mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
        mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
    });
}

} // namespace

Device::Device(int threads) : m_threads(threads > 0 ? threads : util::available_cpus()) {
    set_threads(m_threads);
    tune_malloc();
}

std::string Device::platform(int num_nodes) const {
    return std::to_string(num_nodes) + "xCPU-" + std::to_string(m_threads) + "c";
}

void Device::seed(std::uint64_t seed) {
    torch::manual_seed(seed);
}

void Device::save_rng(torch::serialize::OutputArchive& out) const {
    auto generator = at::detail::getDefaultCPUGenerator();
    const std::lock_guard<std::mutex> lock(generator.mutex());
    out.write("cpu", generator.get_state(), /*is_buffer=*/true);
}

void Device::restore_rng(torch::serialize::InputArchive& in) const {
    torch::Tensor state;
    in.read("cpu", state, /*is_buffer=*/true);
    auto generator = at::detail::getDefaultCPUGenerator();
    const std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
}

} // namespace kakuren::trainer

#include "trainer/device.hpp"

#include <malloc.h>

#include <cstdlib>
#include <mutex>

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#if defined(KAKUREN_TORCH_CUDA)
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

#include "util/error.hpp"
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

/// "cuda" -> 0 (the rank's local GPU comes later), "cuda:3" -> 3; -1 for anything else.
int cuda_index(const std::string& device, int local_rank, int gpus) {
    if (device == "cuda" || device == "auto") {
        return gpus > 0 ? local_rank % gpus : 0;
    }
    if (device.rfind("cuda:", 0) == 0) {
        return std::stoi(device.substr(5)); // the recipe layer checked the digits
    }
    return -1;
}

std::string gpu_name([[maybe_unused]] int index) {
#if defined(KAKUREN_TORCH_CUDA)
    cudaDeviceProp props{};
    if (cudaGetDeviceProperties(&props, index) == cudaSuccess) {
        return props.name;
    }
#endif
    return "GPU";
}

void set_autocast(c10::DeviceType type, bool on, c10::ScalarType dtype) {
#if TORCH_VERSION_MAJOR >= 2
    at::autocast::set_autocast_enabled(type, on);
    at::autocast::set_autocast_dtype(type, dtype);
#else
    if (type == c10::DeviceType::CUDA) {
        at::autocast::set_enabled(on);
        at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
        at::autocast::set_cpu_enabled(on);
        at::autocast::set_autocast_cpu_dtype(dtype);
    }
#endif
}

bool autocast_enabled(c10::DeviceType type) {
#if TORCH_VERSION_MAJOR >= 2
    return at::autocast::is_autocast_enabled(type);
#else
    return type == c10::DeviceType::CUDA ? at::autocast::is_enabled()
                                         : at::autocast::is_cpu_enabled();
#endif
}

c10::ScalarType autocast_dtype(c10::DeviceType type) {
#if TORCH_VERSION_MAJOR >= 2
    return at::autocast::get_autocast_dtype(type);
#else
    return type == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype()
                                         : at::autocast::get_autocast_cpu_dtype();
#endif
}

/// ATen's vectorised-kernel level as ATen picks it on x86-64 (its own query is not exported by
/// every LibTorch): the widest the CPU has, capped by ATEN_CPU_CAPABILITY when that is set.
std::string cpu_capability() {
    std::string level = "DEFAULT";
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512f")) {
        level = "AVX512";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        level = "AVX2";
    }
#endif
    if (const char* pinned = std::getenv("ATEN_CPU_CAPABILITY"); pinned != nullptr) {
        const std::string want = pinned;
        if (want == "default") {
            level = "DEFAULT";
        } else if (want == "avx2" && level == "AVX512") {
            level = "AVX2";
        }
    }
    return level;
}

/// Whether t has exactly the strides of a dense tensor of its sizes in `format`.
bool has_strides_of(const torch::Tensor& t, c10::MemoryFormat format) {
    const auto sizes = t.sizes();
    std::vector<std::int64_t> want(sizes.size());
    if (format == c10::MemoryFormat::ChannelsLast && sizes.size() == 4) {
        const std::int64_t c = sizes[1], h = sizes[2], w = sizes[3];
        want = {c * h * w, 1, w * c, c};
    } else {
        std::int64_t stride = 1;
        for (std::size_t i = sizes.size(); i-- > 0;) {
            want[i] = stride;
            stride *= std::max<std::int64_t>(sizes[i], 1);
        }
    }
    return t.strides().vec() == want;
}

} // namespace

std::string torch_release() {
    return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR);
}

BuildInfo build_info() {
    BuildInfo info;
    info.torch_version = std::to_string(TORCH_VERSION_MAJOR) + "." +
                         std::to_string(TORCH_VERSION_MINOR) + "." +
                         std::to_string(TORCH_VERSION_PATCH);
#if defined(KAKUREN_TORCH_CUDA)
    info.torch_cuda = true;
    info.cuda_version = KAKUREN_TORCH_CUDA;
    info.gpus = static_cast<int>(torch::cuda::device_count());
#endif
    info.cpu_capability = cpu_capability();
    return info;
}

Device::Device(const DeviceConfig& config, int threads, int local_rank)
    : m_config(config), m_threads(threads > 0 ? threads : util::available_cpus()) {
    const BuildInfo build = build_info();
    const std::string& want = config.device;
    const bool wants_cuda = want == "cuda" || want.rfind("cuda:", 0) == 0;
    if (wants_cuda && !build.torch_cuda) {
        throw UsageError("run.device = \"" + want + "\": this kakuren is built against LibTorch " +
                         build.torch_version +
                         " without CUDA, so it cannot use a GPU; set run.device = \"cpu\" (or "
                         "\"auto\"), or build against a CUDA-enabled LibTorch "
                         "(KAKUREN_TORCH=pypi scripts/setup.sh)");
    }
    if (wants_cuda && build.gpus == 0) {
        const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
        throw UsageError("run.device = \"" + want + "\": no GPU is visible to this process " +
                         "(LibTorch " + build.torch_version + " with CUDA " + build.cuda_version +
                         " finds 0 devices" +
                         (visible != nullptr ? std::string("; CUDA_VISIBLE_DEVICES=") + visible
                                             : std::string()) +
                         "); set run.device = \"cpu\" or \"auto\" to train on the CPU");
    }
    const bool cuda = wants_cuda || (want == "auto" && build.gpus > 0);
    if (cuda) {
        const int index = cuda_index(want, local_rank, build.gpus);
        if (index >= build.gpus) {
            throw UsageError("run.device = \"" + want + "\": GPU " + std::to_string(index) +
                             " does not exist; this process sees " + std::to_string(build.gpus) +
                             (build.gpus == 1 ? " GPU (cuda:0)" : " GPUs (cuda:0 ...)"));
        }
        m_device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
        m_name = "cuda:" + std::to_string(index) + " (" + gpu_name(index) + ")";
    }
    if (config.precision == "fp16" && !cuda) {
        throw UsageError("run.precision = \"fp16\" needs a GPU (this run is on the CPU); use "
                         "\"bf16\" for mixed precision on the CPU, or \"fp32\"");
    }
    // auto: channels-last image batches everywhere. On the CPU oneDNN's convolutions take the
    // shipped CNN's epoch to 0.77 (LibTorch 1.13) and 0.75 (2.11) of the contiguous layout's
    // (bench/device_bench.py memory_format; docs/benchmarks.md); on a GPU cuDNN's tensor-core
    // kernels want NHWC as well.
    m_channels_last = config.memory_format != "contiguous";
    if (config.deterministic) {
        // cuBLAS needs a fixed workspace for reproducible GEMMs; read when CUDA starts.
        setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
        at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
        at::globalContext().setDeterministicCuDNN(true);
        at::globalContext().setBenchmarkCuDNN(false);
    } else {
        at::globalContext().setDeterministicAlgorithms(false, false);
        at::globalContext().setBenchmarkCuDNN(cuda);
    }
#if defined(KAKUREN_TORCH_CUDA)
    if (cuda) {
        c10::cuda::set_device(m_device.index());
    }
#endif
    set_threads(m_threads);
    tune_malloc();
}

std::string Device::platform(int num_nodes) const {
    if (m_device.is_cuda()) {
        return std::to_string(num_nodes) + "x" + gpu_name(m_device.index());
    }
    return std::to_string(num_nodes) + "xCPU-" + std::to_string(m_threads) + "c";
}

torch::Tensor Device::to_device(const torch::Tensor& host) const {
    if (!host.defined()) {
        return host;
    }
    const bool image_batch = host.dim() == 4 && host.is_floating_point();
    const auto format = m_channels_last && image_batch ? c10::MemoryFormat::ChannelsLast
                                                       : c10::MemoryFormat::Contiguous;
    if (m_device.is_cpu()) {
        // Every source's batches in the run's layout (an images source reads channels-last
        // strides): the same bits whichever source held the samples. Strides, not
        // is_contiguous(): with one channel a batch is "contiguous" in both layouts, and
        // LibTorch 2.x's kernels still pick their path by the strides.
        return has_strides_of(host, format) ? host : host.clone(format);
    }
    // Non-blocking from pinned memory: the copy overlaps with the host's work until the step
    // reads its statistics back, which orders it before the buffer is refilled.
    return host.to(host.options().device(m_device), /*non_blocking=*/host.is_pinned(),
                   /*copy=*/false, format);
}

Device::Autocast::Autocast(const Device& device) {
    if (device.m_config.precision == "fp32") {
        return;
    }
    m_on = true;
    m_type = device.m_device.type();
    m_was_enabled = autocast_enabled(m_type);
    m_was_dtype = autocast_dtype(m_type);
    set_autocast(m_type, true,
                 device.m_config.precision == "bf16" ? c10::ScalarType::BFloat16
                                                     : c10::ScalarType::Half);
    at::autocast::increment_nesting();
}

Device::Autocast::~Autocast() {
    if (!m_on) {
        return;
    }
    if (at::autocast::decrement_nesting() == 0) {
        at::autocast::clear_cache();
    }
    set_autocast(m_type, m_was_enabled, m_was_dtype);
}

void Device::seed(std::uint64_t seed) {
    torch::manual_seed(seed); // the CPU's generator and every visible GPU's
}

void Device::save_rng(torch::serialize::OutputArchive& out) const {
    {
        auto generator = at::detail::getDefaultCPUGenerator();
        const std::lock_guard<std::mutex> lock(generator.mutex());
        out.write("cpu", generator.get_state(), /*is_buffer=*/true);
    }
    if (m_device.is_cuda()) {
        auto generator = at::globalContext().defaultGenerator(m_device);
        const std::lock_guard<std::mutex> lock(generator.mutex());
        out.write("cuda", generator.get_state(), /*is_buffer=*/true);
    }
}

void Device::restore_rng(torch::serialize::InputArchive& in) const {
    torch::Tensor state;
    in.read("cpu", state, /*is_buffer=*/true);
    {
        auto generator = at::detail::getDefaultCPUGenerator();
        const std::lock_guard<std::mutex> lock(generator.mutex());
        generator.set_state(state);
    }
    if (m_device.is_cuda()) {
        torch::Tensor cuda_state;
        // A checkpoint written on the CPU has none: the GPU's generator keeps its seed.
        if (in.try_read("cuda", cuda_state, /*is_buffer=*/true)) {
            auto generator = at::globalContext().defaultGenerator(m_device);
            const std::lock_guard<std::mutex> lock(generator.mutex());
            generator.set_state(cuda_state);
        }
    }
}

} // namespace kakuren::trainer

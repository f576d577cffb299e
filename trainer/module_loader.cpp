// Loading libkakuren_train.so (see trainer/module.hpp). No torch here.
#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "trainer/module.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

using AbiFn = unsigned long (*)();
using RunFn = int (*)(const ModuleCall*);

/// KAKUREN_TRAIN_MODULE: a developer setting (docs: kakuren --help, "Environment"): a module
/// built elsewhere, e.g. by a test build. It makes this process load and run that file's code,
/// so it is refused unless the file is a kakuren training module of the same ABI.
const char* module_override() {
    const char* env = std::getenv("KAKUREN_TRAIN_MODULE");
    return env != nullptr && *env != '\0' ? env : nullptr;
}

std::filesystem::path module_path() {
    if (const char* env = module_override()) {
        return env;
    }
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return (ec ? std::filesystem::path(".") : self.parent_path()) / "libkakuren_train.so";
}

/// OpenMP threads that wait for work by spinning (libgomp spins 300,000 times before it sleeps)
/// take the cores from a second process on a shared node: beside another training, the shipped
/// recipe's epochs went from 4.6 s to 77 s on 2 cores. A short spin (1,000) gives the cores back
/// almost as well as passive waiting and keeps a quiet node's speed (bench/device_bench.py
/// shared_node: quiet 1.03x of libgomp's default, passive 1.19x). It must be set before
/// LibTorch's and OpenBLAS's OpenMP runtime starts, that is before the module loads; a user's own
/// OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
void prefer_short_openmp_spins() {
    if (std::getenv("OMP_WAIT_POLICY") == nullptr && std::getenv("GOMP_SPINCOUNT") == nullptr) {
        ::setenv("GOMP_SPINCOUNT", "1000", /*overwrite=*/0);
    }
}

RunFn load() {
    static std::once_flag once;
    static RunFn run = nullptr;
    static std::string problem;
    std::call_once(once, [] {
        const std::filesystem::path path = module_path();
        prefer_short_openmp_spins();
        const std::string fix =
            module_override() != nullptr
                ? "; it is named by KAKUREN_TRAIN_MODULE, a setting for kakuren's developers: "
                  "unset it to use libkakuren_train.so beside the kakuren binary"
                : "; it is built beside the kakuren binary: rebuild both with scripts/setup.sh";
        void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) {
            const char* why = dlerror();
            problem = "cannot load the training module " + path.string() + ": " +
                      (why ? why : "unknown error") + fix;
            return;
        }
        const auto abi = reinterpret_cast<AbiFn>(dlsym(handle, "kakuren_train_module_abi"));
        run = reinterpret_cast<RunFn>(dlsym(handle, "kakuren_train_module_run"));
        if (abi == nullptr || run == nullptr) {
            run = nullptr;
            problem = path.string() +
                      " is not a kakuren training module (it has no kakuren_train_module_abi "
                      "and kakuren_train_module_run)" +
                      fix;
        } else if (abi() != module_abi()) {
            run = nullptr;
            problem = "the training module " + path.string() +
                      " does not match this kakuren binary (built from other sources)" + fix;
        }
        if (run == nullptr) {
            dlclose(handle);
        }
    });
    if (run == nullptr) {
        throw RuntimeFailure(problem);
    }
    return run;
}

} // namespace

namespace {

void call_module(const ModuleCall& call) {
    switch (load()(&call)) {
    case module_ok:
        return;
    case module_usage_error:
        throw UsageError(*call.error);
    default:
        throw RuntimeFailure(*call.error);
    }
}

} // namespace

void require_module() {
    load();
}

void check_model_via_module(const Config& config) {
    std::string error;
    ModuleCall call;
    call.config = &config;
    call.error = &error;
    call.check_only = true;
    call_module(call);
}

namespace {

/// The "key\tmessage" lines of a check's output (a line without a tab concerns data.train).
std::vector<DataProblem> parse_problems(const std::string& output) {
    std::vector<DataProblem> problems;
    std::size_t begin = 0;
    while (begin < output.size()) {
        std::size_t end = output.find('\n', begin);
        if (end == std::string::npos) {
            end = output.size();
        }
        const std::string line = output.substr(begin, end - begin);
        const std::size_t tab = line.find('\t');
        problems.push_back(tab == std::string::npos
                               ? DataProblem{"data.train", line}
                               : DataProblem{line.substr(0, tab), line.substr(tab + 1)});
        begin = end + 1;
    }
    return problems;
}

std::vector<DataProblem> check_via_module(const Config& config, const std::string& op) {
    std::string error, output;
    ModuleCall call;
    call.config = &config;
    call.error = &error;
    call.data_op = op;
    call.output = &output;
    call_module(call);
    return parse_problems(output);
}

} // namespace

std::vector<DataProblem> check_data_via_module(const Config& config) {
    return check_via_module(config, "check");
}

std::vector<DataProblem> check_model_fit_via_module(const Config& config) {
    return check_via_module(config, "model");
}

std::vector<std::string> sample_files_via_module(const Config& config,
                                                 const std::vector<std::int64_t>& ids) {
    std::string error, output;
    ModuleCall call;
    call.config = &config;
    call.error = &error;
    call.data_op = "files";
    for (const std::int64_t id : ids) {
        call.data_args.push_back(std::to_string(id));
    }
    call.output = &output;
    call_module(call);
    std::vector<std::string> files;
    for (std::size_t begin = 0; begin < output.size();) {
        const std::size_t end = output.find('\n', begin);
        files.push_back(output.substr(begin, end - begin));
        begin = end == std::string::npos ? output.size() : end + 1;
    }
    return files;
}

std::string data_command_via_module(const std::string& op, const std::vector<std::string>& args,
                                    const Config* config) {
    std::string error, output;
    ModuleCall call;
    call.config = config;
    call.error = &error;
    call.data_op = op;
    call.data_args = args;
    call.output = &output;
    call_module(call);
    return output;
}

SynthResult write_standin_via_module(const SynthConfig& config) {
    std::string error;
    SynthResult result;
    ModuleCall call;
    call.error = &error;
    call.synth = &config;
    call.synth_result = &result;
    call_module(call);
    return result;
}

Summary train_via_module(const Config& config, Observer& observer, util::MlLog& mllog,
                         const std::atomic<bool>* stop, const checkpoint::Resume* resume) {
    Summary summary;
    std::string error;
    const ModuleCall call{&config,  &observer, &mllog, stop,    resume,
                          &summary, &error,    false,  nullptr, nullptr};
    call_module(call);
    return summary;
}

} // namespace kakuren::trainer

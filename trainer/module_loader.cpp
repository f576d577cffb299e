// Loading libkakuren_train.so (see trainer/module.hpp). No torch here.
#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "trainer/module.hpp"
#include "trainer/module_layout.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

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

/// Why the module at `path` cannot be used, or "" when *table is its table of this ABI.
/// `fix` is what to do about it.
std::string open_table(const std::filesystem::path& path, const std::string& fix,
                       const ModuleTable** table) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = dlerror();
        return "cannot load the training module " + path.string() + ": " +
               (why ? why : "unknown error") + fix;
    }
    const auto table_fn = reinterpret_cast<ModuleTableFn>(dlsym(handle, k_module_table_symbol));
    const std::string stale = "the training module " + path.string() +
                              " does not match this kakuren binary (built from other sources)" +
                              fix;
    std::string problem;
    if (table_fn != nullptr) {
        // The module refuses a caller of another version (nullptr); a module of this version
        // built from other headers has another fingerprint.
        *table = table_fn(k_module_abi_version);
        if (*table == nullptr || (*table)->version != k_module_abi_version ||
            (*table)->fingerprint != module_layout_fingerprint()) {
            *table = nullptr;
            problem = stale;
        }
    } else if (dlsym(handle, "kakuren_train_module_abi") != nullptr) {
        problem = stale; // the entry point of modules before the table (ABI version 1)
    } else {
        problem = path.string() + " is not a kakuren training module (it has no " +
                  k_module_table_symbol + ")" + fix;
    }
    if (*table == nullptr) {
        dlclose(handle);
    }
    return problem;
}

const ModuleTable& load() {
    static std::once_flag once;
    static const ModuleTable* table = nullptr;
    static std::string problem;
    std::call_once(once, [] {
        const std::filesystem::path path = module_path();
        prefer_short_openmp_spins();
        const std::string fix =
            module_override() != nullptr
                ? "; it is named by KAKUREN_TRAIN_MODULE, a setting for kakuren's developers: "
                  "unset it to use libkakuren_train.so beside the kakuren binary"
                : "; it is built beside the kakuren binary: rebuild both with scripts/setup.sh";
        problem = open_table(path, fix, &table);
    });
    if (table == nullptr) {
        throw RuntimeFailure(problem);
    }
    return *table;
}

/// Calls one entry of the table with args and a ModuleError, and rethrows what it reports.
template <class Entry, class... Args> void call(Entry ModuleTable::*entry, Args&&... args) {
    const ModuleTable& table = load();
    ModuleError error;
    (table.*entry)(std::forward<Args>(args)..., error);
    switch (error.kind) {
    case ModuleErrorKind::ok:
        return;
    case ModuleErrorKind::usage_error:
        throw UsageError(error.message);
    default:
        throw RuntimeFailure(error.message);
    }
}

} // namespace

void require_module() {
    load();
}

Summary train_via_module(const Config& config, Observer& observer, util::MlLog& mllog,
                         const std::atomic<bool>* stop, const checkpoint::Resume* resume) {
    Summary summary;
    call(&ModuleTable::train, config, observer, mllog, stop, resume, summary);
    return summary;
}

void check_model_via_module(const Config& config) {
    call(&ModuleTable::check_model, config);
}

std::vector<DataProblem> check_data_via_module(const Config& config) {
    std::vector<DataProblem> problems;
    call(&ModuleTable::check_data, config, problems);
    return problems;
}

std::vector<DataProblem> check_model_fit_via_module(const Config& config) {
    std::vector<DataProblem> problems;
    call(&ModuleTable::check_model_fit, config, problems);
    return problems;
}

std::string data_command_via_module(const std::string& op, const std::vector<std::string>& args,
                                    const Config* config) {
    std::string text;
    if (op == "inspect" && args.size() == 2 && config != nullptr) {
        call(&ModuleTable::inspect_recipe_data, config->data, args[0], args[1] == "json", text);
    } else if (op == "inspect" && args.size() == 2) {
        call(&ModuleTable::inspect_data, args[0], args[1] == "json", text);
    } else if (op == "convert" && args.size() == 3) {
        call(&ModuleTable::convert_idx, args[0], args[1], args[2], text);
    } else {
        load(); // a missing or stale module is reported first, as for every command
        throw UsageError("unknown data command " + op);
    }
    return text;
}

std::vector<std::string> sample_files_via_module(const Config& config,
                                                 const std::vector<std::int64_t>& ids) {
    std::vector<std::string> files;
    call(&ModuleTable::sample_files, config.data, ids, files);
    return files;
}

SynthResult write_standin_via_module(const SynthConfig& config) {
    SynthResult result;
    call(&ModuleTable::write_standin, config, result);
    return result;
}

} // namespace kakuren::trainer

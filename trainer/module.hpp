#pragma once
// train() behind a loadable module. LibTorch drags about 290 shared libraries into a process
// (0.4 s before main runs); the kakuren binary links none of them and loads
// libkakuren_train.so (trainer + LibTorch) only when a command trains, so `status`, `submit`,
// `runs`, `report`... start in milliseconds. No torch in this header.
#include <atomic>
#include <string>
#include <vector>

#include "trainer/data_tools.hpp"
#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// One call into the module: pointers to the caller's objects (same compiler, same headers).
struct ModuleCall {
    const Config* config = nullptr;
    Observer* observer = nullptr;
    util::MlLog* mllog = nullptr;
    const std::atomic<bool>* stop = nullptr;
    const checkpoint::Resume* resume = nullptr;
    Summary* summary = nullptr;          ///< out
    std::string* error = nullptr;        ///< out: the message when the call fails
    bool check_only = false;             ///< check_model() instead of train(): observer etc. unused
    const SynthConfig* synth = nullptr;  ///< set: write_standin() instead of train()
    SynthResult* synth_result = nullptr; ///< out (with synth)
    /// kakuren data: "inspect" (args: path or, with config set, the recipe's name; then
    /// "json"|"text") or "convert" (args: idx folder,
    /// format, out) instead of training; what it prints goes to *output. "check" (no args,
    /// config set): check_data(), one "key\tmessage" line per problem in *output. "model" (no
    /// args, config set): check_model_fit() (trainer/data_tools.hpp), its problem as one
    /// "key\tmessage" line in *output, nothing when the model fits. "" = train / check_model.
    std::string data_op;
    std::vector<std::string> data_args;
    std::string* output = nullptr;
};

/// Changes whenever the layout of what crosses the boundary changes: a stale module is refused
/// instead of misreading memory.
constexpr unsigned long module_abi() {
    return 20261207UL * 31 + sizeof(SynthConfig) * 11 + sizeof(Config) * 7 + sizeof(Summary) * 5 +
           sizeof(ModuleCall) * 3 + sizeof(DataConfig) + sizeof(DistConfig) + sizeof(EpochResult) +
           sizeof(StepProgress) + sizeof(checkpoint::Resume) + sizeof(checkpoint::Snapshot) +
           sizeof(util::MlLog);
}

/// What kakuren_train_module_run returns.
enum ModuleResult : int { module_ok = 0, module_runtime_failure = 1, module_usage_error = 2 };

/// train() through the module: loads it once (from $KAKUREN_TRAIN_MODULE, else
/// libkakuren_train.so beside the running executable), checks its ABI, and rethrows its
/// failures as RuntimeFailure / UsageError with their messages. Throws RuntimeFailure naming
/// the file when the module cannot be loaded or is stale.
Summary train_via_module(const Config& config, Observer& observer, util::MlLog& mllog,
                         const std::atomic<bool>* stop = nullptr,
                         const checkpoint::Resume* resume = nullptr);

/// Loads the module and checks its ABI (as train_via_module does first), so that a command can
/// refuse a missing, foreign or stale module before it records anything. Throws RuntimeFailure
/// naming the file and what to do.
void require_module();

/// check_model() through the module (same loading and errors as train_via_module).
void check_model_via_module(const Config& config);

/// check_data() through the module (same loading and errors as train_via_module).
std::vector<DataProblem> check_data_via_module(const Config& config);

/// check_model_fit() (trainer/data_tools.hpp) through the module: [] or the one problem (same
/// loading and errors as train_via_module).
std::vector<DataProblem> check_model_fit_via_module(const Config& config);

/// kakuren data inspect / convert through the module (trainer/data_tools.hpp): the text to
/// print. With `config`, inspect reads the recipe's data set (args: the recipe's name,
/// "json"|"text"; inspect_recipe_data). Same loading and errors as train_via_module.
std::string data_command_via_module(const std::string& op, const std::vector<std::string>& args,
                                    const Config* config = nullptr);

/// sample_files() (trainer/data_tools.hpp) through the module, for config.data's training split
/// (same loading and errors as train_via_module).
std::vector<std::string> sample_files_via_module(const Config& config,
                                                 const std::vector<std::int64_t>& ids);

/// write_standin() through the module (same loading and errors as train_via_module).
SynthResult write_standin_via_module(const SynthConfig& config);

} // namespace kakuren::trainer

#pragma once
// train() behind a loadable module. LibTorch drags about 290 shared libraries into a process
// (0.4 s before main runs); the kakuren binary links none of them and loads
// libkakuren_train.so (trainer + LibTorch) only when a command trains, so `status`, `submit`,
// `runs`, `report`... start in milliseconds. No torch in this header.
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "trainer/data_tools.hpp"
#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// The version of the boundary below (ModuleTable and every type its entries take, listed in
/// trainer/module_layout.hpp). Bump it whenever any of them changes: the module refuses a caller
/// of another version, and tests/trainer/module_abi_test.cpp records the layout of this version,
/// so that a change without a bump fails there. module_layout_fingerprint() (sizes, field
/// counts, entry offsets and signatures, computed on both sides) is the second line of defence.
/// Version 1 was one ModuleCall struct through kakuren_train_module_run (refused as stale);
/// version 2 spelled the per-sample statistics as loose spans and vectors (version 3: one
/// util::SampleStatsView / util::SampleStats member in EpochResult, Snapshot and Resume) and had
/// no DataConfig / SynthConfig difficulty and data seed (version 3 has both).
constexpr unsigned k_module_abi_version = 3;

/// How a module entry ended: ok, or the exception it caught, by kind.
enum class ModuleErrorKind : int { ok = 0, runtime_failure = 1, usage_error = 2 };

/// The out-parameter of every entry: kind ok and no message, or what failed (the loader
/// rethrows it as RuntimeFailure / UsageError with that message).
struct ModuleError {
    ModuleErrorKind kind = ModuleErrorKind::ok;
    std::string message;
};

/// The module's entry points, one per operation, each with its own typed arguments (the
/// caller's objects, by reference: same compiler, same headers), its result in an out-parameter
/// and a ModuleError. Entries never throw. version and fingerprint come first and never move:
/// the loader reads them before anything else.
struct ModuleTable {
    unsigned version = 0;          ///< k_module_abi_version of the module
    std::uint64_t fingerprint = 0; ///< module_layout_fingerprint() of the module
    /// train() (trainer/trainer.hpp); stop and resume may be null.
    void (*train)(const Config& config, Observer& observer, util::MlLog& mllog,
                  const std::atomic<bool>* stop, const checkpoint::Resume* resume, Summary& summary,
                  ModuleError& error) noexcept = nullptr;
    /// check_model() (trainer/trainer.hpp).
    void (*check_model)(const Config& config, ModuleError& error) noexcept = nullptr;
    /// check_data() (trainer/data_tools.hpp): every problem, each message on one line (its own
    /// line breaks become "; ").
    void (*check_data)(const Config& config, std::vector<DataProblem>& problems,
                       ModuleError& error) noexcept = nullptr;
    /// check_model_fit() (trainer/data_tools.hpp): [] or its one problem (one line).
    void (*check_model_fit)(const Config& config, std::vector<DataProblem>& problems,
                            ModuleError& error) noexcept = nullptr;
    /// inspect_data() (trainer/data_tools.hpp): the text to print.
    void (*inspect_data)(const std::string& path, bool json, std::string& text,
                         ModuleError& error) noexcept = nullptr;
    /// inspect_recipe_data() (trainer/data_tools.hpp): the text to print.
    void (*inspect_recipe_data)(const DataConfig& data, const std::string& recipe, bool json,
                                std::string& text, ModuleError& error) noexcept = nullptr;
    /// convert_idx() (trainer/data_tools.hpp): its summary line.
    void (*convert_idx)(const std::string& idx_folder, const std::string& format,
                        const std::string& out, std::string& text,
                        ModuleError& error) noexcept = nullptr;
    /// sample_files() (trainer/data_tools.hpp).
    void (*sample_files)(const DataConfig& data, const std::vector<std::int64_t>& ids,
                         std::vector<std::string>& files, ModuleError& error) noexcept = nullptr;
    /// write_standin() (trainer/trainer.hpp).
    void (*write_standin)(const SynthConfig& config, SynthResult& result,
                          ModuleError& error) noexcept = nullptr;
};

/// The one function the module exports, by this name and type (fixed for every version):
/// its table when `version` is its own k_module_abi_version, else nullptr.
inline constexpr const char* k_module_table_symbol = "kakuren_train_module_table";
using ModuleTableFn = const ModuleTable* (*)(unsigned version);

/// train() through the module: loads it once (from $KAKUREN_TRAIN_MODULE, else
/// libkakuren_train.so beside the running executable), checks its ABI version and layout
/// fingerprint (trainer/module_layout.hpp), and rethrows its
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
/// print. op "inspect", args: path, "json"|"text" (inspect_data); with `config`, the recipe's
/// data set instead, args: the recipe's name, "json"|"text" (inspect_recipe_data). op
/// "convert", args: idx folder, format, out (convert_idx). Throws UsageError for another op or
/// count of args; else the same loading and errors as train_via_module.
std::string data_command_via_module(const std::string& op, const std::vector<std::string>& args,
                                    const Config* config = nullptr);

/// sample_files() (trainer/data_tools.hpp) through the module, for config.data's training split
/// (same loading and errors as train_via_module).
std::vector<std::string> sample_files_via_module(const Config& config,
                                                 const std::vector<std::int64_t>& ids);

/// write_standin() through the module (same loading and errors as train_via_module).
SynthResult write_standin_via_module(const SynthConfig& config);

} // namespace kakuren::trainer

// The one exported entry point of libkakuren_train.so: its table (see trainer/module.hpp).
#include "trainer/module.hpp"

#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "trainer/data_tools.hpp"
#include "trainer/module_layout.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

/// Runs work, turning what it throws into *error: no exception crosses the boundary.
template <class Work> void guarded(ModuleError& error, Work&& work) noexcept {
    try {
        work();
        error = {};
    } catch (const UsageError& e) {
        error = {ModuleErrorKind::usage_error, e.what()};
    } catch (const std::exception& e) {
        error = {ModuleErrorKind::runtime_failure, e.what()};
    } catch (...) {
        error = {ModuleErrorKind::runtime_failure, "unknown failure inside the training module"};
    }
}

/// The CLI reports each problem as one line (file: error: message): a message's own line
/// breaks become "; ".
DataProblem one_line(DataProblem problem) {
    for (std::size_t at = 0; (at = problem.message.find('\n', at)) != std::string::npos;) {
        problem.message.replace(at, 1, "; ");
    }
    return problem;
}

void check_data_entry(const Config& config, std::vector<DataProblem>& problems,
                      ModuleError& error) noexcept {
    guarded(error, [&] {
        problems.clear();
        for (DataProblem& problem : check_data(config)) {
            problems.push_back(one_line(std::move(problem)));
        }
    });
}

void check_model_fit_entry(const Config& config, std::vector<DataProblem>& problems,
                           ModuleError& error) noexcept {
    guarded(error, [&] {
        problems.clear();
        if (std::optional<DataProblem> problem = check_model_fit(config)) {
            problems.push_back(one_line(std::move(*problem)));
        }
    });
}

constexpr ModuleTable k_table{
    .version = k_module_abi_version,
    .fingerprint = module_layout_fingerprint(),
    .train =
        [](const Config& config, Observer& observer, util::MlLog& mllog,
           const std::atomic<bool>* stop, const checkpoint::Resume* resume, Summary& summary,
           ModuleError& error) noexcept {
            guarded(error, [&] { summary = train(config, observer, mllog, stop, resume); });
        },
    .check_model =
        [](const Config& config, ModuleError& error) noexcept {
            guarded(error, [&] { check_model(config); });
        },
    .check_data = check_data_entry,
    .check_model_fit = check_model_fit_entry,
    .inspect_data =
        [](const std::string& path, bool json, std::string& text, ModuleError& error) noexcept {
            guarded(error, [&] { text = inspect_data(path, json); });
        },
    .inspect_recipe_data =
        [](const DataConfig& data, const std::string& recipe, bool json, std::string& text,
           ModuleError& error) noexcept {
            guarded(error, [&] { text = inspect_recipe_data(data, recipe, json); });
        },
    .convert_idx =
        [](const std::string& idx_folder, const std::string& format, const std::string& out,
           std::string& text, ModuleError& error) noexcept {
            guarded(error, [&] { text = convert_idx(idx_folder, format, out); });
        },
    .sample_files =
        [](const DataConfig& data, const std::vector<std::int64_t>& ids,
           std::vector<std::string>& files, ModuleError& error) noexcept {
            guarded(error, [&] { files = sample_files(data, ids); });
        },
    .write_standin =
        [](const SynthConfig& config, SynthResult& result, ModuleError& error) noexcept {
            guarded(error, [&] { result = write_standin(config); });
        },
};

} // namespace
} // namespace kakuren::trainer

extern "C" __attribute__((visibility("default"))) const kakuren::trainer::ModuleTable*
kakuren_train_module_table(unsigned version) {
    // A caller of another version would read this table with another layout: it gets none.
    return version == kakuren::trainer::k_module_abi_version ? &kakuren::trainer::k_table : nullptr;
}

// The loader names this function by its string (k_module_table_symbol): same name, same type.
static_assert(
    std::is_same_v<decltype(&kakuren_train_module_table), kakuren::trainer::ModuleTableFn>);

// `kakuren data inspect` and `kakuren data convert`: the work runs inside the training module
// (the sources need LibTorch and libhdf5); this side prints.
#include <iostream>

#include "cli/commands.hpp"
#include "trainer/module.hpp"

namespace kakuren::cli {

int data_inspect_command(const CommonOptions& common, const DataOptions& options) {
    const bool json = common.format == Format::json;
    const std::string out =
        trainer::data_command_via_module("inspect", {options.path, json ? "json" : "text"});
    std::cout << out << std::flush;
    // A problem found is a failure of the data, for scripts that check before they train.
    const bool problems =
        out.find(json ? "\"problems_found\": 0" : "problems found: 0\n") == std::string::npos;
    return problems ? k_exit_failure : k_exit_ok;
}

int data_convert_command(const DataOptions& options) {
    std::cout << trainer::data_command_via_module("convert",
                                                  {options.from, options.to, options.out})
              << std::flush;
    return k_exit_ok;
}

} // namespace kakuren::cli

// The exported entry points of libkakuren_train.so (see trainer/module.hpp).
#include "trainer/module.hpp"

#include "trainer/data_tools.hpp"

#include "util/error.hpp"

extern "C" {

__attribute__((visibility("default"))) unsigned long kakuren_train_module_abi() {
    return kakuren::trainer::module_abi();
}

__attribute__((visibility("default"))) int
kakuren_train_module_run(const kakuren::trainer::ModuleCall* call) noexcept {
    using namespace kakuren;
    try {
        if (call->synth != nullptr) {
            *call->synth_result = trainer::write_standin(*call->synth);
        } else if (call->data_op == "inspect" && call->data_args.size() == 2 &&
                   call->config != nullptr) {
            *call->output = trainer::inspect_recipe_data(call->config->data, call->data_args[0],
                                                         call->data_args[1] == "json");
        } else if (call->data_op == "inspect" && call->data_args.size() == 2) {
            *call->output = trainer::inspect_data(call->data_args[0], call->data_args[1] == "json");
        } else if (call->data_op == "convert" && call->data_args.size() == 3) {
            *call->output =
                trainer::convert_idx(call->data_args[0], call->data_args[1], call->data_args[2]);
        } else if (call->data_op == "check" && call->config != nullptr) {
            // One problem a line; a message's own line breaks become "; ".
            std::string out;
            for (const trainer::DataProblem& p : trainer::check_data(*call->config)) {
                std::string message = p.message;
                for (std::size_t at = 0; (at = message.find('\n', at)) != std::string::npos;) {
                    message.replace(at, 1, "; ");
                }
                out += p.key + '\t' + message + '\n';
            }
            *call->output = out;
        } else if (call->data_op == "model" && call->config != nullptr) {
            const auto problem = trainer::check_model_fit(*call->config);
            *call->output = problem ? problem->key + '\t' + problem->message + '\n' : "";
        } else if (call->data_op == "files" && call->config != nullptr) {
            std::vector<std::int64_t> ids;
            ids.reserve(call->data_args.size());
            for (const std::string& id : call->data_args) {
                ids.push_back(std::stoll(id));
            }
            std::string out;
            for (const std::string& file : trainer::sample_files(call->config->data, ids)) {
                out += file + '\n';
            }
            *call->output = out;
        } else if (!call->data_op.empty()) {
            throw kakuren::UsageError("unknown data command " + call->data_op);
        } else if (call->check_only) {
            trainer::check_model(*call->config);
        } else {
            *call->summary = trainer::train(*call->config, *call->observer, *call->mllog,
                                            call->stop, call->resume);
        }
        return trainer::module_ok;
    } catch (const UsageError& e) {
        *call->error = e.what();
        return trainer::module_usage_error;
    } catch (const std::exception& e) {
        *call->error = e.what();
        return trainer::module_runtime_failure;
    } catch (...) {
        *call->error = "unknown failure inside the training module";
        return trainer::module_runtime_failure;
    }
}

} // extern "C"

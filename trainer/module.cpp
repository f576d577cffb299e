// The exported entry points of libkakuren_train.so (see trainer/module.hpp).
#include "trainer/module.hpp"

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

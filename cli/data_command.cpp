// kakuren data synth: the stand-in generators of the training module, writing the reference
// layouts (trainer/standin_files.cpp).
#include <algorithm>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/text.hpp"
#include "trainer/module.hpp"

namespace kakuren::cli {

int data_synth_command(trainer::SynthConfig config) {
    if (config.validation <= 0) {
        config.validation = std::max<std::int64_t>(1, config.train / 4);
    }
    const trainer::SynthResult r = trainer::write_standin_via_module(config);
    const auto samples = static_cast<double>(config.train + config.validation);
    std::cout << "wrote " << config.kind << " stand-in: " << thousands(config.train) << " train + "
              << thousands(config.validation) << " validation samples, " << thousands(r.files)
              << " files, " << fixed(static_cast<double>(r.bytes) / (1 << 20), 1) << " MiB to "
              << config.out << " in " << fixed(r.seconds, 1) << " s ("
              << thousands(static_cast<std::int64_t>(r.seconds > 0 ? samples / r.seconds : 0))
              << " samples/s)\n";
    return k_exit_ok;
}

} // namespace kakuren::cli

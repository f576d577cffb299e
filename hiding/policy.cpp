#include "hiding/policy.hpp"
#include "hiding/strategies.hpp"

#include <array>
#include <charconv>
#include <numeric>
#include <stdexcept>

namespace kakuren::hiding {

namespace {

// Shortest round-trip text ("1.4", not std::to_string's "1.400000"), as the user wrote it.
std::string format_number(double value) {
    std::array<char, 64> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    return {buffer.data(), result.ptr};
}

} // namespace

namespace detail {

void check_inputs(const EpochContext& ctx, const SampleStatsView& stats) {
    if (stats.correct.size() != stats.size() || stats.confidence.size() != stats.size()) {
        throw std::invalid_argument("hiding: sample stats differ in length (loss " +
                                    std::to_string(stats.size()) + ", correct " +
                                    std::to_string(stats.correct.size()) + ", confidence " +
                                    std::to_string(stats.confidence.size()) + ")");
    }
    if (ctx.epoch < 0) {
        throw std::invalid_argument("hiding: epoch " + std::to_string(ctx.epoch) +
                                    " is negative; epochs are 0-based");
    }
}

std::vector<std::int64_t> all_ids(std::size_t n) {
    std::vector<std::int64_t> ids(n);
    std::iota(ids.begin(), ids.end(), std::int64_t{0});
    return ids;
}

} // namespace detail

double EpochPlan::realised_fraction() const {
    if (num_samples <= 0) {
        return 0.0;
    }
    return static_cast<double>(hidden_ids.size()) / static_cast<double>(num_samples);
}

void validate(const Config& config) {
    // Written as !(in range) so that NaN fails every check.
    if (!(config.fraction >= 0.0 && config.fraction < 1.0)) {
        throw std::invalid_argument("hiding.fraction = " + format_number(config.fraction) +
                                    " is out of range; expected 0 <= fraction < 1");
    }
    if (!(config.tau >= 0.0 && config.tau <= 1.0)) {
        throw std::invalid_argument("hiding.tau = " + format_number(config.tau) +
                                    " is out of range; expected 0 <= tau <= 1");
    }
    if (config.refresh_every < 1) {
        throw std::invalid_argument(
            "hiding.refresh_every = " + std::to_string(config.refresh_every) +
            " is out of range; expected refresh_every >= 1");
    }
    for (std::size_t i = 0; i < config.fraction_decay.size(); ++i) {
        const double decay = config.fraction_decay[i];
        if (!(decay >= 0.0 && decay <= 1.0)) {
            throw std::invalid_argument("hiding.fraction_decay[" + std::to_string(i) +
                                        "] = " + format_number(decay) +
                                        " is out of range; expected 0 <= decay <= 1");
        }
    }
    switch (config.lr_compensation) {
    case LrCompensation::scheduled:
    case LrCompensation::realised:
    case LrCompensation::off:
        break;
    default:
        throw std::invalid_argument("hiding.lr_compensation has an unknown value");
    }
    switch (config.strategy) {
    case Strategy::none:
    case Strategy::kakurenbo:
        break;
    default:
        throw std::invalid_argument("hiding.strategy has an unknown value");
    }
}

std::unique_ptr<Policy> make_policy(const Config& config) {
    validate(config);
    switch (config.strategy) {
    case Strategy::none:
        return std::make_unique<detail::NonePolicy>(config);
    case Strategy::kakurenbo:
        return std::make_unique<detail::KakurenboPolicy>(config);
    }
    throw std::invalid_argument("hiding.strategy has an unknown value"); // unreachable: validated
}

std::string to_string(Strategy s) {
    switch (s) {
    case Strategy::none:
        return "none";
    case Strategy::kakurenbo:
        return "kakurenbo";
    }
    return "unknown";
}

std::string to_string(LrCompensation c) {
    switch (c) {
    case LrCompensation::scheduled:
        return "scheduled";
    case LrCompensation::realised:
        return "realised";
    case LrCompensation::off:
        return "off";
    }
    return "unknown";
}

} // namespace kakuren::hiding

#include "hiding/policy.hpp"
#include "hiding/rng.hpp"
#include "hiding/strategies.hpp"

#include <array>
#include <charconv>
#include <algorithm>
#include <cmath>
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

std::int64_t count_of(double fraction, std::size_t n) {
    constexpr double k_floor_epsilon = 1e-9;
    const double wanted = std::floor(fraction * static_cast<double>(n) + k_floor_epsilon);
    return std::clamp(static_cast<std::int64_t>(wanted), std::int64_t{0},
                      static_cast<std::int64_t>(n));
}

std::vector<std::int64_t> all_ids(std::size_t n) {
    std::vector<std::int64_t> ids(n);
    std::iota(ids.begin(), ids.end(), std::int64_t{0});
    return ids;
}

void fill_plan(EpochPlan& plan, std::span<const std::uint8_t> hidden,
               std::span<const float> weights, std::uint64_t seed, int epoch) {
    const std::size_t n = hidden.size();
    std::vector<std::int64_t> visible;
    visible.reserve(n);
    plan.hidden_ids.clear();
    bool weighted = false;
    for (std::size_t i = 0; i < n; ++i) {
        if (hidden[i] != 0) {
            plan.hidden_ids.push_back(static_cast<std::int64_t>(i));
        } else {
            visible.push_back(static_cast<std::int64_t>(i));
            weighted = weighted || (!weights.empty() && weights[i] != 1.0F);
        }
    }
    // shuffle() swaps depend only on the length and the seed, so shuffling positions and mapping
    // them gives exactly shuffle(visible) and lets the weights follow their ids.
    std::vector<std::int64_t> order = all_ids(visible.size());
    shuffle(order, seed, epoch, k_train_stream);
    plan.train_ids.resize(visible.size());
    plan.train_weights.clear();
    if (weighted) {
        plan.train_weights.resize(visible.size());
    }
    for (std::size_t j = 0; j < order.size(); ++j) {
        const auto id = visible[static_cast<std::size_t>(order[j])];
        plan.train_ids[j] = id;
        if (weighted) {
            plan.train_weights[j] = weights[static_cast<std::size_t>(id)];
        }
    }
}

std::vector<double> uniform_draws(std::size_t n, std::uint64_t seed, int epoch,
                                  std::uint64_t stream) {
    Xoshiro256 rng(mix_seed(seed, epoch, stream));
    std::vector<double> u(n);
    for (auto& x : u) {
        x = rng.uniform01();
    }
    return u;
}

} // namespace detail

double EpochPlan::realised_fraction() const {
    if (num_samples <= 0) {
        return 0.0;
    }
    return static_cast<double>(hidden_ids.size()) / static_cast<double>(num_samples);
}

std::int64_t EpochPlan::num_distinct_trained() const {
    return num_samples - static_cast<std::int64_t>(hidden_ids.size());
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
    if (!(config.infobatch_ratio >= 0.0 && config.infobatch_ratio < 1.0)) {
        throw std::invalid_argument(
            "hiding.infobatch_ratio = " + format_number(config.infobatch_ratio) +
            " is out of range; expected 0 <= infobatch_ratio < 1");
    }
    if (!(config.infobatch_delta >= 0.0 && config.infobatch_delta <= 1.0)) {
        throw std::invalid_argument(
            "hiding.infobatch_delta = " + format_number(config.infobatch_delta) +
            " is out of range; expected 0 <= infobatch_delta <= 1");
    }
    if (!(config.sb_beta >= 0.0 && std::isfinite(config.sb_beta))) {
        throw std::invalid_argument("hiding.sb_beta = " + format_number(config.sb_beta) +
                                    " is out of range; expected sb_beta >= 0");
    }
    if (!(config.rotate_fraction >= 0.0 && config.rotate_fraction <= 1.0)) {
        throw std::invalid_argument(
            "hiding.rotate_fraction = " + format_number(config.rotate_fraction) +
            " is out of range; expected 0 <= rotate_fraction <= 1");
    }
    if (!(config.rotate_ratio >= 0.0 && config.rotate_ratio < 1.0)) {
        throw std::invalid_argument("hiding.rotate_ratio = " + format_number(config.rotate_ratio) +
                                    " is out of range; expected 0 <= rotate_ratio < 1");
    }
    if (config.rotate_full_epochs < 0) {
        throw std::invalid_argument(
            "hiding.rotate_full_epochs = " + std::to_string(config.rotate_full_epochs) +
            " is out of range; expected rotate_full_epochs >= 0");
    }
    if (!(config.rotate_tau >= 0.0 && config.rotate_tau <= 1.0)) {
        throw std::invalid_argument("hiding.rotate_tau = " + format_number(config.rotate_tau) +
                                    " is out of range; expected 0 <= rotate_tau <= 1");
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
    case Strategy::random:
    case Strategy::infobatch:
    case Strategy::iswr:
    case Strategy::selective_backprop:
    case Strategy::rotate:
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
    case Strategy::random:
        return std::make_unique<detail::RandomPolicy>(config);
    case Strategy::infobatch:
        return std::make_unique<detail::InfoBatchPolicy>(config);
    case Strategy::iswr:
        return std::make_unique<detail::IswrPolicy>(config);
    case Strategy::selective_backprop:
        return std::make_unique<detail::SelectiveBackpropPolicy>(config);
    case Strategy::rotate:
        return std::make_unique<detail::RotatePolicy>(config);
    }
    throw std::invalid_argument("hiding.strategy has an unknown value"); // unreachable: validated
}

std::string to_string(Strategy s) {
    switch (s) {
    case Strategy::none:
        return "none";
    case Strategy::kakurenbo:
        return "kakurenbo";
    case Strategy::random:
        return "random";
    case Strategy::infobatch:
        return "infobatch";
    case Strategy::iswr:
        return "iswr";
    case Strategy::selective_backprop:
        return "selective_backprop";
    case Strategy::rotate:
        return "rotate";
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

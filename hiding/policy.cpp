#include "hiding/policy.hpp"
#include "hiding/registry.hpp"
#include "hiding/rng.hpp"
#include "hiding/strategies.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>

#include "util/assert.hpp"
#include "util/error.hpp"

namespace kakuren::hiding {

namespace {

// Shortest round-trip text ("1.4", not std::to_string's "1.400000"), as the user wrote it.
std::string format_number(double value) {
    std::array<char, 64> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    return {buffer.data(), result.ptr};
}

// "infobatch_ratio, infobatch_delta, ...": every strategy's own keys.
std::string param_keys_text() {
    std::string out;
    for (const StrategyInfo* s : strategies()) {
        for (const ParamInfo& p : s->params) {
            out += (out.empty() ? "" : ", ") + std::string(p.key);
        }
    }
    return out;
}

} // namespace

namespace detail {

void check_inputs(const EpochContext& ctx, const util::SampleStatsView& stats) {
    KAKUREN_ASSERT(stats.correct.size() == stats.size() && stats.confidence.size() == stats.size(),
                   "hiding: the sample stats spans (loss, correct, confidence) differ in length");
    KAKUREN_ASSERT(ctx.epoch >= 0, "hiding: a negative epoch; epochs are 0-based");
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
    const auto check = [](std::string_view key, double value) {
        const ParamInfo* info = find_param(key);
        KAKUREN_ASSERT(info != nullptr, "hiding: validate() checks a key nobody registered");
        // Written as !(in range) so that NaN fails every check.
        if (!info->bounds.contains(value)) {
            throw UsageError("hiding." + std::string(key) + " = " + format_number(value) +
                             " is out of range; expected " + info->bounds.text(key));
        }
        if (info->kind == ParamKind::integer &&
            !(std::floor(value) == value && value >= std::numeric_limits<int>::min() &&
              value <= std::numeric_limits<int>::max())) {
            throw UsageError("hiding." + std::string(key) + " = " + format_number(value) +
                             " is not an integer");
        }
    };
    check("fraction", config.fraction);
    check("tau", config.tau);
    check("refresh_every", config.refresh_every);
    for (std::size_t i = 0; i < config.fraction_decay.size(); ++i) {
        const double decay = config.fraction_decay[i];
        if (!(decay >= 0.0 && decay <= 1.0)) {
            throw UsageError("hiding.fraction_decay[" + std::to_string(i) + "] = " +
                             format_number(decay) + " is out of range; expected 0 <= decay <= 1");
        }
    }
    for (const auto& [key, value] : config.params) {
        const ParamInfo* info = find_param(key);
        const bool shared = std::any_of(shared_params().begin(), shared_params().end(),
                                        [&](const ParamInfo& p) { return &p == info; });
        if (info == nullptr || shared) {
            throw UsageError("hiding." + key +
                             " is not a strategy parameter; known: " + param_keys_text());
        }
        check(key, value);
    }
    switch (config.lr_compensation) {
    case LrCompensation::scheduled:
    case LrCompensation::realised:
    case LrCompensation::off:
        break;
    default:
        throw UsageError("hiding.lr_compensation has an unknown value");
    }
    (void)strategy_info(config.strategy); // throws for an unknown name
}

std::unique_ptr<Policy> make_policy(const Config& config) {
    validate(config);
    return strategy_info(config.strategy).make(config);
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

namespace kakuren::hiding {

const std::vector<LrCompensation>& lr_compensations() {
    static const std::vector<LrCompensation> all = {LrCompensation::scheduled,
                                                    LrCompensation::realised, LrCompensation::off};
    return all;
}

std::optional<LrCompensation> lr_compensation_named(std::string_view name) {
    for (const LrCompensation c : lr_compensations()) {
        if (to_string(c) == name) {
            return c;
        }
    }
    return std::nullopt;
}

} // namespace kakuren::hiding

// Shared helpers of every hiding strategy: the F schedule, the LR scale, candidate selection and
// the deterministic shuffle.
#include "hiding/policy.hpp"
#include "hiding/rng.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>

namespace kakuren::hiding {

namespace {

// NaN must order like +inf so that nth_element (which needs a strict weak order) and the
// stable-sort semantics agree on where it goes.
float sanitise(float loss) {
    return std::isnan(loss) ? std::numeric_limits<float>::infinity() : loss;
}

} // namespace

double scheduled_fraction(const Config& config, const EpochContext& ctx) {
    if (config.fraction_decay.empty()) {
        return config.fraction;
    }
    std::size_t passed = 0;
    for (const int milestone : ctx.lr_milestones) {
        if (milestone <= ctx.epoch) {
            ++passed;
        }
    }
    const std::size_t index = std::min(passed, config.fraction_decay.size() - 1);
    return config.fraction * config.fraction_decay[index];
}

bool refresh_due(const Config& config, const EpochContext& ctx) {
    if (config.refresh_every <= 1) {
        return true;
    }
    return (ctx.epoch + 1) % config.refresh_every == 0 || ctx.epoch == ctx.num_epochs - 1;
}

double lr_scale(const Config& config, const EpochContext& ctx, double realised_fraction) {
    if (ctx.epoch < ctx.warmup_epochs) {
        return 1.0;
    }
    double fraction = 0.0;
    switch (config.lr_compensation) {
    case LrCompensation::scheduled:
        fraction = scheduled_fraction(config, ctx);
        break;
    case LrCompensation::realised:
        fraction = realised_fraction;
        break;
    case LrCompensation::off:
        return 1.0;
    }
    if (!(fraction > 0.0) || fraction >= 1.0) {
        return 1.0;
    }
    return 1.0 / (1.0 - fraction);
}

std::vector<std::int64_t> lowest_k(std::span<const float> loss, std::int64_t k) {
    const auto n = static_cast<std::int64_t>(loss.size());
    std::vector<std::int64_t> ids;
    if (k <= 0) {
        return ids;
    }
    if (k >= n) {
        ids.resize(loss.size());
        for (std::int64_t i = 0; i < n; ++i) {
            ids[static_cast<std::size_t>(i)] = i;
        }
        return ids;
    }
    // Threshold t = the k-th smallest value; everything below it is taken, and the ties at t
    // in index order until k, which is exactly the first k of a stable ascending sort.
    std::vector<float> values(loss.size());
    std::transform(loss.begin(), loss.end(), values.begin(), sanitise);
    const auto kth = values.begin() + (k - 1);
    std::nth_element(values.begin(), kth, values.end());
    const float threshold = *kth;
    // After nth_element, [begin, kth) holds values <= t: count those strictly below.
    const auto num_below =
        std::count_if(values.begin(), kth, [&](float v) { return v < threshold; });
    std::int64_t ties_left = k - static_cast<std::int64_t>(num_below);

    ids.reserve(static_cast<std::size_t>(k));
    for (std::int64_t i = 0; i < n; ++i) {
        const float v = sanitise(loss[static_cast<std::size_t>(i)]);
        if (v < threshold) {
            ids.push_back(i);
        } else if (v == threshold && ties_left > 0) {
            ids.push_back(i);
            --ties_left;
        }
    }
    return ids;
}

void shuffle(std::vector<std::int64_t>& ids, std::uint64_t seed, int epoch, std::uint64_t stream) {
    if (ids.size() < 2) {
        return;
    }
    detail::Xoshiro256 rng(detail::mix_seed(seed, epoch, stream));
    for (std::size_t i = ids.size() - 1; i > 0; --i) {
        const auto j = static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(i) + 1));
        std::swap(ids[i], ids[j]);
    }
}

} // namespace kakuren::hiding

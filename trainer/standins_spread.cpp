// The DeepCAM stand-in's spread mode (data.synthetic_difficulty = "spread"): each sample draws
// its own difficulty, so that a data set holds many easy samples and a tail of hard ones, as the
// real DeepCAM set (CAM5 climate simulation output labelled by TECA) does. Which property of the
// real set each choice mirrors:
//  - quiet samples, no event at all (k_quiet_share): many time steps hold no tropical cyclone
//    and many only weak atmospheric rivers; the real set is about 98 % background pixels
//    (cyclones about 0.1 %, rivers about 2 %, Kurth et al. 2018). Easy once the network stops
//    painting events into the background: a single false pixel costs a third of its IoU.
//  - clear samples (large, high-contrast events): mature cyclones and strong rivers, whose
//    wind, pressure and water-vapour signatures stand far above the weather around them.
//  - faint samples (small, thin, low-contrast events): developing or weak storms and narrow,
//    faint rivers, whose TECA labels cover few pixels and whose signal is little above the
//    background variability: the hard tail.
//  - events of very different sizes within the clear and faint kinds (radius and width ranges
//    wider than the uniform mode's): cyclone extents and river widths vary severalfold.
// The event shapes, the background and the noise are the uniform mode's
// (trainer/deepcam_parts.hpp); the channel mix (the "physics") is its draw made orthogonal
// (spread_mix_weights). Deterministic per (seed, split, sample), as that mode. Draw order: kind,
// then for a sample with events its amplitude, vortex count, vortices, filament count, filaments;
// then the background and the noise. The constants (and recipes/deepcam_mini_spread.toml's LR and
// schedule) were tuned on seeds 1, 2 (run.seed = data.synthetic_seed) only; docs/benchmarks.md
// measures them on the hold-out seeds 11, 12, 13.
#include <array>
#include <cmath>

#include "trainer/deepcam_parts.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

/// One kind of sample: how often it occurs and how its events are drawn.
struct SampleKind {
    double share;          ///< of the samples
    EventRange amplitude;  ///< contrast: the events' signal x amplitude (uniform mode: 1)
    EventRange radius;     ///< vortex radius / shorter side (uniform mode: 0.08-0.14)
    EventRange half_width; ///< filament half width / shorter side (uniform mode: 0.035-0.055)
};

constexpr double k_quiet_share = 0.25;
/// quiet (no events), clear, faint; the shares add up to 1.
constexpr std::array<SampleKind, 3> k_kinds = {{
    {k_quiet_share, {0, 0}, {0, 0}, {0, 0}},
    {0.45, {1.0, 1.6}, {0.08, 0.18}, {0.035, 0.065}},
    {0.30, {0.3, 0.6}, {0.05, 0.08}, {0.025, 0.04}},
}};

/// The kind of a sample from one uniform draw u in [0, 1).
const SampleKind& kind_of(double u) {
    double upto = 0;
    for (const SampleKind& k : k_kinds) {
        upto += k.share;
        if (u < upto) {
            return k;
        }
    }
    return k_kinds.back();
}

} // namespace

void deepcam_spread_sample(DeepcamSamples& out, std::int64_t i, const DeepcamGrid& g,
                           const torch::Tensor& mix_weights, std::uint64_t seed,
                           std::uint64_t split) {
    // A split of its own in the generator's seed: the spread mode's sample i is not drawn from
    // the uniform mode's stream.
    at::Generator gen = deepcam_generator(g, seed, split + 0x5b7ead00, i);
    const SampleKind& kind = kind_of(uniform(gen, 0, 1));
    DeepcamEvents events;
    if (kind.amplitude.hi == 0) {
        events.vortices = draw_vortices(gen, g, 0, kind.radius);
        events.filaments = draw_filaments(gen, g, 0, kind.half_width);
    } else {
        events.amplitude = uniform(gen, kind.amplitude.lo, kind.amplitude.hi);
        const int num_vortices = uniform(gen, 0, 1) < 0.5 ? 1 : 2;
        events.vortices = draw_vortices(gen, g, num_vortices, kind.radius);
        const int num_filaments = uniform(gen, 0, 1) < 0.5 ? 1 : 2;
        events.filaments = draw_filaments(gen, g, num_filaments, kind.half_width);
    }
    compose_deepcam(out, i, g, mix_weights, events, gen);
}

torch::Tensor spread_mix_weights(const torch::Tensor& mix_weights) {
    const auto [q, r] = torch::linalg_qr(mix_weights.t()); // q: [C, 3], orthonormal columns
    return q.t().contiguous() * std::sqrt(static_cast<double>(mix_weights.size(1)));
}

DeepcamDifficulty deepcam_difficulty(const std::string& name) {
    if (name == "uniform") {
        return DeepcamDifficulty::uniform;
    }
    if (name == "spread") {
        return DeepcamDifficulty::spread;
    }
    throw UsageError("unknown deepcam stand-in difficulty \"" + name +
                     "\"; expected uniform or spread");
}

} // namespace kakuren::trainer

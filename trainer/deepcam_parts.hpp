#pragma once
// The parts of the DeepCAM stand-in (trainer/standins.hpp) that its two difficulty modes share:
// the per-sample generator, the event drawings and the composition of the fields. Private to
// trainer/standins*.cpp.
#include <cstdint>

#include <torch/torch.h>

#include "trainer/standins.hpp"

namespace kakuren::trainer {

/// A generator for sample i of a split (the same stream on every run and machine with this
/// LibTorch: torch's CPU generator is a seeded mt19937).
at::Generator generator_for(std::uint64_t seed, std::uint64_t split, std::int64_t i,
                            std::uint64_t shape);

/// The pixel grid of a deepcam sample: [H * W, 2] (y, x) coordinates and its shorter side.
struct DeepcamGrid {
    std::int64_t height = 0, width = 0;
    torch::Tensor grid;
    double side = 0;
};

/// The generator of deepcam sample i of a split (seeded by seed, split, i and the grid's shape).
at::Generator deepcam_generator(const DeepcamGrid& g, std::uint64_t seed, std::uint64_t split,
                                std::int64_t i);

/// A uniform draw in [lo, hi) from gen (one torch::rand of one element).
double uniform(at::Generator& gen, double lo, double hi);

/// The range an event's size is drawn from, as a fraction [lo, hi) of the grid's shorter side.
struct EventRange {
    double lo = 0, hi = 0;
};

/// Vortices: their bumps, the rotation field they induce, and the pixels they cover.
struct Vortices {
    torch::Tensor vortex, spin_y, spin_x, is_vortex;
};

/// Draws num_vortices (>= 0) vortices of radius in radius x the shorter side (3 draws each).
Vortices draw_vortices(at::Generator& gen, const DeepcamGrid& g, int num_vortices,
                       EventRange radius);

/// Filaments: their ridges and the pixels they cover.
struct Filaments {
    torch::Tensor filament, is_filament;
};

/// Draws num_filaments (>= 0) filaments of half width in half_width x the shorter side (6 draws
/// each).
Filaments draw_filaments(at::Generator& gen, const DeepcamGrid& g, int num_filaments,
                         EventRange half_width);

/// A sample's events and the contrast they are shown with (1 = the uniform mode's).
struct DeepcamEvents {
    Vortices vortices;
    Filaments filaments;
    double amplitude = 1.0;
};

/// Writes sample i of out: labels from events, then the smooth background and the pixel noise
/// drawn from gen (in that order), added to amplitude x each channel's mix of the events.
void compose_deepcam(DeepcamSamples& out, std::int64_t i, const DeepcamGrid& g,
                     const torch::Tensor& mix_weights, const DeepcamEvents& events,
                     at::Generator& gen);

/// The spread mode's channel mix: mix_weights [3, C] with its rows made orthogonal, each of norm
/// sqrt(C) (a random row's expected norm), so that vortices, filaments and rotation are equally
/// distinguishable for every seed and the difficulty is the samples' spread, not the seed's luck.
torch::Tensor spread_mix_weights(const torch::Tensor& mix_weights);

/// Sample i of the spread mode (trainer/standins_spread.cpp).
void deepcam_spread_sample(DeepcamSamples& out, std::int64_t i, const DeepcamGrid& g,
                           const torch::Tensor& mix_weights, std::uint64_t seed,
                           std::uint64_t split);

} // namespace kakuren::trainer

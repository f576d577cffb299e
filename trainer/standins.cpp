#include "trainer/standins.hpp"

#include "trainer/deepcam_parts.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "util/error.hpp"
#include "util/hash.hpp"

namespace kakuren::trainer {
namespace {

/// splitmix64's output for one word (util/hash.hpp).
constexpr std::uint64_t mix(std::uint64_t z) {
    return util::splitmix64_mix(z);
}

} // namespace

at::Generator generator_for(std::uint64_t seed, std::uint64_t split, std::int64_t i,
                            std::uint64_t shape) {
    const std::uint64_t s =
        mix(mix(mix(seed ^ 0x636f736d6f666c6fULL) ^ split) ^ static_cast<std::uint64_t>(i)) ^
        mix(shape);
    return at::make_generator<at::CPUGeneratorImpl>(s);
}

namespace {

/// Squared wave numbers of an rfftn grid [S, S, S/2 + 1] (in cycles per box).
torch::Tensor wave_numbers(std::int64_t size) {
    const torch::Tensor k =
        torch::fft::fftfreq(size, 1.0 / static_cast<double>(size), torch::kFloat32);
    const torch::Tensor kz =
        torch::fft::rfftfreq(size, 1.0 / static_cast<double>(size), torch::kFloat32);
    const auto grids = torch::meshgrid({k, k, kz}, "ij");
    return (grids[0].square() + grids[1].square() + grids[2].square()).sqrt();
}

} // namespace

CosmoflowGenerator::CosmoflowGenerator(std::int64_t size, std::uint64_t seed, std::uint64_t split)
    : m_size(size), m_seed(seed), m_split(split) {
    if (size < 4) {
        throw RuntimeFailure("cosmoflow stand-in needs a cube side >= 4");
    }
    torch::NoGradGuard no_grad;
    const torch::Tensor k = wave_numbers(size);
    m_log_k = k.clamp_min(1.0).log();
    m_dc = k.eq(0);
}

void CosmoflowGenerator::sample(std::int64_t i, torch::Tensor counts, torch::Tensor targets) const {
    torch::NoGradGuard no_grad;
    const std::int64_t size = m_size;
    at::Generator gen = generator_for(m_seed, m_split, i, static_cast<std::uint64_t>(size));
    const torch::Tensor t = torch::rand({k_cosmoflow_targets}, gen) * 2 - 1;
    const auto* tv = t.data_ptr<float>();
    const torch::Tensor white = torch::randn({size, size, size}, gen);
    // Amplitude sqrt(P(k)) = k^((-2 + t1) / 2); the mean (k = 0) removed.
    const torch::Tensor amplitude =
        torch::where(m_dc, torch::zeros_like(m_log_k), (0.5 * (-2.0 + tv[1]) * m_log_k).exp());
    torch::Tensor field =
        torch::fft::irfftn(torch::fft::rfftn(white) * amplitude, {size, size, size});
    field = field / field.std().clamp_min(1e-12);
    const double sigma = 0.5 + 0.25 * (tv[0] + 1.0);
    const double lambda = 4.0 * std::exp(0.5 * tv[2]);
    for (std::int64_t c = 0; c < k_cosmoflow_channels; ++c) {
        const double sigma_c = sigma * (1.0 + 0.2 * tv[3] * (static_cast<double>(c) - 1.5) / 1.5);
        const torch::Tensor density = (field * sigma_c - 0.5 * sigma_c * sigma_c).exp();
        counts[c].copy_(torch::poisson(density * lambda, gen).clamp_max(32767));
    }
    targets.copy_(t);
}

CosmoflowSamples make_cosmoflow(std::int64_t n, std::int64_t size, std::uint64_t seed,
                                std::uint64_t split) {
    if (n < 1 || size < 4) {
        throw RuntimeFailure("cosmoflow stand-in needs >= 1 sample and a cube side >= 4");
    }
    torch::NoGradGuard no_grad;
    const CosmoflowGenerator generator(size, seed, split);
    CosmoflowSamples out;
    out.counts = torch::empty({n, k_cosmoflow_channels, size, size, size}, torch::kInt16);
    out.targets = torch::empty({n, k_cosmoflow_targets}, torch::kFloat32);
    for (std::int64_t i = 0; i < n; ++i) {
        generator.sample(i, out.counts[i], out.targets[i]);
    }
    return out;
}

double uniform(at::Generator& gen, double lo, double hi) {
    return lo + (hi - lo) * torch::rand({1}, gen).item<double>();
}

/// Draws num_vortices vortices of radius in [shape.lo, shape.hi) x the shorter side (3 draws
/// each).
Vortices draw_vortices(at::Generator& gen, const DeepcamGrid& g, int num_vortices,
                       EventRange shape) {
    const std::int64_t pixels = g.height * g.width;
    Vortices v{torch::zeros({pixels}), torch::zeros({pixels}), torch::zeros({pixels}),
               torch::zeros({pixels}, torch::kBool)};
    for (int k = 0; k < num_vortices; ++k) {
        const double r = uniform(gen, shape.lo, shape.hi) * g.side;
        const double cy = uniform(gen, r, static_cast<double>(g.height) - r);
        const double cx = uniform(gen, r, static_cast<double>(g.width) - r);
        const torch::Tensor dy = g.grid.select(1, 0) - cy;
        const torch::Tensor dx = g.grid.select(1, 1) - cx;
        const torch::Tensor d = (dy.square() + dx.square()).sqrt() / r;
        const torch::Tensor bump = (-0.5 * d.square()).exp();
        v.vortex = torch::maximum(v.vortex, bump);
        v.spin_y += -dx / r * bump;
        v.spin_x += dy / r * bump;
        v.is_vortex = v.is_vortex.logical_or(d.lt(1.0));
    }
    return v;
}

/// Draws num_filaments filaments of half width in [shape.lo, shape.hi) x the shorter side (6
/// draws each).
Filaments draw_filaments(at::Generator& gen, const DeepcamGrid& g, int num_filaments,
                         EventRange shape) {
    const std::int64_t pixels = g.height * g.width;
    Filaments out{torch::zeros({pixels}), torch::zeros({pixels}, torch::kBool)};
    for (int f = 0; f < num_filaments; ++f) {
        // A quadratic Bezier curve across a good part of the field, sampled densely.
        const double half_width = uniform(gen, shape.lo, shape.hi) * g.side;
        const double y0 = uniform(gen, 0, static_cast<double>(g.height));
        const double x0 = uniform(gen, 0, static_cast<double>(g.width));
        const double angle = uniform(gen, 0, 2 * std::numbers::pi);
        const double length = uniform(gen, 0.6, 1.0) * g.side;
        const double y2 = y0 + length * std::sin(angle);
        const double x2 = x0 + length * std::cos(angle);
        const double bend = uniform(gen, -0.3, 0.3) * length;
        const double y1 = 0.5 * (y0 + y2) + bend * std::cos(angle);
        const double x1 = 0.5 * (x0 + x2) - bend * std::sin(angle);
        const auto points = static_cast<std::int64_t>(std::ceil(2 * length)) + 2;
        const torch::Tensor s = torch::linspace(0, 1, points).view({-1, 1});
        const torch::Tensor curve = (1 - s).square() * torch::tensor({y0, x0}, torch::kFloat32) +
                                    2 * (1 - s) * s * torch::tensor({y1, x1}, torch::kFloat32) +
                                    s.square() * torch::tensor({y2, x2}, torch::kFloat32);
        const torch::Tensor dist = torch::cdist(g.grid, curve).amin(1) / half_width;
        out.filament = torch::maximum(out.filament, (-0.5 * dist.square()).exp());
        out.is_filament = out.is_filament.logical_or(dist.lt(1.0));
    }
    return out;
}

void compose_deepcam(DeepcamSamples& out, std::int64_t i, const DeepcamGrid& g,
                     const torch::Tensor& mix_weights, const DeepcamEvents& events,
                     at::Generator& gen) {
    const std::int64_t height = g.height, width = g.width, channels = k_deepcam_channels;
    const Vortices& v = events.vortices;
    const Filaments& f = events.filaments;
    torch::Tensor labels = torch::zeros({height * width}, torch::kInt64);
    labels.masked_fill_(f.is_filament, 2);
    labels.masked_fill_(v.is_vortex, 1); // a vortex on a filament is a vortex
    // Smooth background weather: coarse noise, upsampled.
    const std::int64_t coarse_h = std::max<std::int64_t>(2, height / 8);
    const std::int64_t coarse_w = std::max<std::int64_t>(2, width / 8);
    const torch::Tensor background = torch::upsample_bilinear2d(
        torch::randn({1, channels, coarse_h, coarse_w}, gen), {height, width}, false);
    const torch::Tensor signal =
        torch::stack({v.vortex, f.filament, v.spin_y + v.spin_x}, 1).matmul(mix_weights); // [HW, C]
    const torch::Tensor noise = torch::randn({height * width, channels}, gen);
    // amplitude 1 (the uniform mode) leaves the signal's bytes as they were.
    const torch::Tensor sample =
        events.amplitude * signal + 0.6 * background.view({channels, -1}).t() + 0.5 * noise;
    out.data[i].copy_(sample.view({height, width, channels}));
    out.labels[i].copy_(labels.view({height, width}));
}

at::Generator deepcam_generator(const DeepcamGrid& g, std::uint64_t seed, std::uint64_t split,
                                std::int64_t i) {
    const std::uint64_t shape =
        static_cast<std::uint64_t>(g.height) * 65536ULL + static_cast<std::uint64_t>(g.width);
    return generator_for(seed, split + 0xdeca00, i, shape);
}

namespace {

/// Sample i of the uniform mode: the vortex count, the vortices, the filament count, the
/// filaments, then the background and the noise, in that draw order (the golden digests pin it).
void deepcam_sample(DeepcamSamples& out, std::int64_t i, const DeepcamGrid& g,
                    const torch::Tensor& mix_weights, std::uint64_t seed, std::uint64_t split) {
    at::Generator gen = deepcam_generator(g, seed, split, i);
    DeepcamEvents events;
    const int num_vortices = uniform(gen, 0, 1) < 0.5 ? 1 : 2;
    events.vortices = draw_vortices(gen, g, num_vortices, {0.08, 0.14});
    const int num_filaments = uniform(gen, 0, 1) < 0.5 ? 1 : 2;
    events.filaments = draw_filaments(gen, g, num_filaments, {0.035, 0.055});
    compose_deepcam(out, i, g, mix_weights, events, gen);
}

} // namespace

DeepcamSamples make_deepcam(std::int64_t n, std::int64_t height, std::int64_t width,
                            std::uint64_t seed, std::uint64_t split, DeepcamDifficulty difficulty) {
    if (n < 1 || height < 8 || width < 8) {
        throw RuntimeFailure("deepcam stand-in needs >= 1 sample and at least 8 x 8 pixels");
    }
    torch::NoGradGuard no_grad;
    const std::int64_t channels = k_deepcam_channels;
    // The "physics": how each channel shows vortices, filaments and rotation (fixed).
    at::Generator physics = generator_for(seed, 0xdeca, 0, 0);
    torch::Tensor mix_weights = torch::randn({3, channels}, physics);
    if (difficulty == DeepcamDifficulty::spread) {
        mix_weights = spread_mix_weights(mix_weights);
    }
    const torch::Tensor ys = torch::arange(height, torch::kFloat32).view({height, 1});
    const torch::Tensor xs = torch::arange(width, torch::kFloat32).view({1, width});
    DeepcamGrid g;
    g.height = height;
    g.width = width;
    g.grid =
        torch::stack({ys.expand({height, width}), xs.expand({height, width})}, -1).view({-1, 2});
    g.side = static_cast<double>(std::min(height, width));

    DeepcamSamples out;
    out.data = torch::empty({n, height, width, channels}, torch::kFloat32);
    out.labels = torch::empty({n, height, width}, torch::kInt64);
    for (std::int64_t i = 0; i < n; ++i) {
        if (difficulty == DeepcamDifficulty::spread) {
            deepcam_spread_sample(out, i, g, mix_weights, seed, split);
        } else {
            deepcam_sample(out, i, g, mix_weights, seed, split);
        }
    }
    return out;
}

} // namespace kakuren::trainer

#pragma once
// Learnable stand-ins for the MLPerf HPC data sets, generated in memory: one generator serves the
// in-memory data set (data.dataset = "synthetic", data.synthetic_kind = "cosmoflow" | "deepcam")
// and `kakuren data synth`, which writes the same samples in the reference layouts. Seeded and
// reproducible: sample i of a split depends only on (seed, split, i, shape), so a smaller set is a
// prefix of a larger one. Private to trainer/ (torch).
#include <cstdint>
#include <string>

#include <torch/torch.h>

namespace kakuren::trainer {

/// CosmoFlow stand-in: counts int16 [N, 4, S, S, S] (4 "redshifts"), targets float32 [N, 4] in
/// [-1, 1]. Per sample: a Gaussian random field with power spectrum k^(-2 + t1), scaled per
/// channel to sigma_c = (0.5 + 0.25 (t0 + 1)) (1 + 0.2 t3 (c - 1.5) / 1.5), made log-normal with
/// mean 1, then Poisson counts of mean 4 exp(0.5 t2) x field. Only t2 moves the channel means
/// (bench/standin_baselines.cpp measures what a linear fit on them reaches).
struct CosmoflowSamples {
    torch::Tensor counts, targets;
};
CosmoflowSamples make_cosmoflow(std::int64_t n, std::int64_t size, std::uint64_t seed,
                                std::uint64_t split);

/// The CosmoFlow stand-in one sample at a time (kakuren data synth streams them to disk):
/// sample(i) writes exactly row i of make_cosmoflow(n, size, seed, split), for any n > i.
class CosmoflowGenerator {
  public:
    /// Throws RuntimeFailure for a cube side < 4.
    CosmoflowGenerator(std::int64_t size, std::uint64_t seed, std::uint64_t split);
    /// Fills counts (int16 [4, S, S, S]) and targets (float32 [4]) with sample i; both may be
    /// views (rows of a larger tensor).
    void sample(std::int64_t i, torch::Tensor counts, torch::Tensor targets) const;

  private:
    std::int64_t m_size;
    std::uint64_t m_seed, m_split;
    torch::Tensor m_log_k, m_dc; ///< log of the wave numbers (clamped at 1), and k = 0
};

/// How hard the DeepCAM stand-in's samples are (data.synthetic_difficulty).
enum class DeepcamDifficulty {
    /// every sample alike: one or two vortices and one or two filaments of similar size, at the
    /// same contrast (the golden digests pin these bytes)
    uniform,
    /// each sample draws its own difficulty: no event at all, large clear events, or small,
    /// thin, faint ones (trainer/standins_spread.cpp says which property of the real set each
    /// mirrors)
    spread,
};

/// DeepcamDifficulty by its recipe name ("uniform" | "spread"); throws UsageError naming the
/// allowed values for another.
DeepcamDifficulty deepcam_difficulty(const std::string& name);

/// DeepCAM stand-in: data float32 [N, H, W, 16] (channels last, as on disk), labels int64
/// [N, H, W] with classes 0 (background), 1 (compact vortices: "tropical cyclones") and 2 (long
/// thin filaments: "atmospheric rivers"). Uniform mode: every sample has one or two vortices and
/// one or two filaments; each channel mixes the vortex intensity, the filament intensity and the
/// vortex's rotation with fixed channel weights, plus a smooth background field and pixel noise.
/// Background is about 85-90 % of the pixels. Spread mode: the same fields, with a per-sample
/// number, size and contrast of the events.
struct DeepcamSamples {
    torch::Tensor data, labels;
};
DeepcamSamples make_deepcam(std::int64_t n, std::int64_t height, std::int64_t width,
                            std::uint64_t seed, std::uint64_t split,
                            DeepcamDifficulty difficulty = DeepcamDifficulty::uniform);

inline constexpr std::int64_t k_deepcam_channels = 16;
inline constexpr std::int64_t k_cosmoflow_channels = 4;
inline constexpr std::int64_t k_cosmoflow_targets = 4;

} // namespace kakuren::trainer

#pragma once
// Sample-hiding policies: per-sample statistics in, the epoch's plan out.
// Pure: no I/O, no clock, no torch; all randomness comes from Config::seed and the epoch.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kakuren::hiding {

enum class Strategy { none, kakurenbo };
/// Where the learning-rate compensation 1/(1-f) takes f from: the scheduled maximum fraction
/// F_e (reference), the realised hidden fraction of this epoch, or nowhere (scale 1).
enum class LrCompensation { scheduled, realised, off };

struct Config {
    Strategy strategy = Strategy::none;
    double fraction = 0.3;                                  ///< F, the maximum hidden fraction, 0 <= F < 1
    double tau = 0.7;                                       ///< confidence threshold for hiding
    std::vector<double> fraction_decay = {1.0, 0.8, 0.6, 0.4}; ///< F multiplier after k LR milestones
    LrCompensation lr_compensation = LrCompensation::scheduled;
    int refresh_every = 1;         ///< run the forward refresh of hidden samples every k epochs (1 = reference)
    std::uint64_t seed = 0;        ///< run seed; per-epoch draws use (seed, epoch)
};

/// Schedule facts a policy needs; epochs are 0-based.
struct EpochContext {
    int epoch = 0;
    int num_epochs = 1;
    int warmup_epochs = 0;
    std::vector<int> lr_milestones; ///< epochs at which the LR steps down (F decays there too)
};

/// Read-only view of the latest per-sample statistics (all spans have the same length N).
/// loss: last recorded loss (NaN is treated as +inf); correct: 1 if argmax == label;
/// confidence: prediction confidence in [0, 1].
struct SampleStatsView {
    std::span<const float> loss;
    std::span<const std::uint8_t> correct;
    std::span<const float> confidence;
    std::size_t size() const { return loss.size(); }
};

/// What to do in one epoch. Ids are global sample indices in [0, N).
struct EpochPlan {
    std::vector<std::int64_t> train_ids;   ///< trained with backward, in visiting order (shuffled)
    std::vector<float> train_weights;      ///< per-entry loss weights; empty = all 1
    std::vector<std::int64_t> hidden_ids;  ///< not trained this epoch, ascending
    std::vector<std::int64_t> refresh_ids; ///< forward-only refresh this epoch (subset of hidden), shuffled
    double max_fraction = 0.0;             ///< F_e, the scheduled maximum hidden fraction
    double lr_scale = 1.0;                 ///< multiply the scheduled LR by this for the epoch's steps
    std::int64_t num_candidates = 0;       ///< floor(F_e * N) lowest-loss samples considered
    std::int64_t num_moved_back = 0;       ///< candidates kept visible (wrong or unconfident)
    double realised_fraction() const;      ///< hidden_ids.size() / N (0 when N == 0)
    std::int64_t num_samples = 0;          ///< N
};

class Policy {
  public:
    virtual ~Policy() = default;
    /// Plans epoch ctx.epoch from the statistics recorded so far. Deterministic in
    /// (config, ctx, stats): every rank computes the same plan.
    virtual EpochPlan plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) = 0;
    virtual std::string name() const = 0;
};

/// Builds the policy for config.strategy. Throws std::invalid_argument for an invalid config
/// (the recipe layer validates first, so users never see that).
std::unique_ptr<Policy> make_policy(const Config& config);

/// F_e: the maximum hidden fraction of epoch ctx.epoch after the LR milestones passed so far.
double scheduled_fraction(const Config& config, const EpochContext& ctx);

/// Candidate selection equal to a stable ascending sort by loss taking the first k: every sample
/// with loss < t, then the lowest indices among loss == t. O(N). Returns ascending ids.
std::vector<std::int64_t> lowest_k(std::span<const float> loss, std::int64_t k);

/// Deterministic Fisher-Yates shuffle seeded by (seed, epoch, stream); same on every machine.
void shuffle(std::vector<std::int64_t>& ids, std::uint64_t seed, int epoch, std::uint64_t stream);

std::string to_string(Strategy s);
std::string to_string(LrCompensation c);

} // namespace kakuren::hiding

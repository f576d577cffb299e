#pragma once
// Sample-hiding policies: per-sample statistics in, the epoch's plan out.
// Pure: no I/O, no clock, no torch; all randomness comes from Config::seed and the epoch.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/sample_stats.hpp"

namespace kakuren::hiding {

/// Where the learning-rate compensation 1/(1-f) takes f from: the scheduled maximum fraction
/// F_e (reference), the realised hidden fraction of this epoch, or nowhere (scale 1).
enum class LrCompensation { scheduled, realised, off };

/// The strategies' own parameters by key (ParamInfo::key in hiding/registry.hpp, e.g.
/// "rotate_ratio"); a key left out takes its registered default.
using Params = std::map<std::string, double, std::less<>>;

struct Config {
    /// A registered strategy name (hiding/registry.hpp): none, kakurenbo, random, ...
    std::string strategy = "none";
    double fraction = 0.3; ///< F, the maximum hidden fraction, 0 <= F < 1
    double tau = 0.7;      ///< confidence threshold for hiding
    /// F multiplier after k LR milestones (entry min(k, size - 1)); empty = no decay.
    std::vector<double> fraction_decay = {1.0, 0.8, 0.6, 0.4};
    LrCompensation lr_compensation = LrCompensation::scheduled;
    /// Run the forward refresh of hidden samples every k epochs (1 = reference): the refresh is due
    /// on epoch e when (e + 1) % k == 0 or e is the last epoch, so stats are fresh at the end.
    int refresh_every = 1;
    Params params;          ///< the strategies' own knobs (each strategy's file documents its own)
    std::uint64_t seed = 0; ///< run seed; per-epoch draws use (seed, epoch)
};

/// Schedule facts a policy needs; epochs are 0-based.
struct EpochContext {
    int epoch = 0;
    int num_epochs = 1;
    int warmup_epochs = 0;
    std::vector<int> lr_milestones; ///< epochs at which the LR steps down (F decays there too)
};

/// Shuffle streams: independent permutations drawn from the same (seed, epoch).
inline constexpr std::uint64_t k_train_stream = 0;   ///< EpochPlan::train_ids
inline constexpr std::uint64_t k_refresh_stream = 1; ///< EpochPlan::refresh_ids
inline constexpr std::uint64_t k_prune_stream = 2;   ///< per-sample hide / prune / keep draws
inline constexpr std::uint64_t k_draw_stream = 3;    ///< iswr: draws with replacement

/// What to do in one epoch. Ids are global sample indices in [0, N).
struct EpochPlan {
    /// Trained with backward, in visiting order: the visible ids (ascending) permuted by
    /// shuffle(ids, seed, epoch, k_train_stream). Every rank gets the same order; the trainer
    /// splits it (rank r takes r, r + W, ...). Strategies that draw with replacement may repeat
    /// ids.
    std::vector<std::int64_t> train_ids;
    std::vector<float> train_weights;     ///< per-entry loss weights; empty = all 1
    std::vector<std::int64_t> hidden_ids; ///< not trained this epoch, ascending
    /// Forward-only refresh this epoch: all of hidden_ids permuted by shuffle(.., k_refresh_stream)
    /// when the refresh is due (see Config::refresh_every), else empty.
    std::vector<std::int64_t> refresh_ids;
    double max_fraction = 0.0;        ///< F_e, the scheduled maximum hidden fraction
    double lr_scale = 1.0;            ///< multiply the scheduled LR by this for the epoch's steps
    std::int64_t num_candidates = 0;  ///< floor(F_e * N) lowest-loss samples considered
    std::int64_t num_moved_back = 0;  ///< candidates kept visible (wrong or unconfident)
    double realised_fraction() const; ///< hidden_ids.size() / N (0 when N == 0)
    std::int64_t num_samples = 0;     ///< N
    /// Distinct ids in train_ids: N - hidden_ids.size() (train_ids.size() unless ids repeat).
    std::int64_t num_distinct_trained() const;
};

class Policy {
  public:
    virtual ~Policy() = default;
    /// Plans epoch ctx.epoch from the statistics recorded so far. Deterministic in
    /// (config, ctx, stats): every rank computes the same plan.
    virtual EpochPlan plan_epoch(const EpochContext& ctx, const util::SampleStatsView& stats) = 0;
    virtual std::string name() const = 0;
    /// Whether the trainer must run a forward-only pass over all N samples (recording their
    /// statistics) before calling plan_epoch for ctx.epoch. Default: never (iswr: epoch >= 1).
    virtual bool wants_full_refresh(const EpochContext& ctx) const {
        (void)ctx;
        return false;
    }
};

/// Checks a config whatever its strategy: a registered strategy name, 0 <= fraction < 1,
/// 0 <= tau <= 1, refresh_every >= 1, every fraction_decay entry in [0, 1] (an empty list means no
/// decay), a known compensation, and every entry of params a registered parameter inside its
/// bounds (an integer one integral). Throws kakuren::UsageError (util/error.hpp) naming the field
/// and the expected range:
/// "hiding.fraction = 1.4 is out of range; expected 0 <= fraction < 1".
void validate(const Config& config);

/// Builds the policy of config.strategy after validate(config) (throws its UsageError). Each
/// strategy's file (hiding/<name>.cpp) states what its plan_epoch does. Common to all: every
/// strategy that draws takes its draws from (seed, epoch, k_prune_stream) or k_draw_stream, one
/// uniform u in [0, 1) per sample in ascending id order, trains its visible ids in the order
/// shuffle(ascending visible ids, seed, epoch, k_train_stream) with train_weights permuted
/// alongside, and ranks NaN losses as +inf. Calling plan_epoch with stats spans of different
/// lengths or ctx.epoch < 0 breaks its contract (asserted).
std::unique_ptr<Policy> make_policy(const Config& config);

/// F_e: the maximum hidden fraction of epoch ctx.epoch after the LR milestones passed so far:
/// F * fraction_decay[min(k, size - 1)], k = number of milestones m <= ctx.epoch (the epoch m
/// already uses the new LR); F when fraction_decay is empty.
double scheduled_fraction(const Config& config, const EpochContext& ctx);

/// Whether the forward refresh of hidden samples runs in epoch ctx.epoch:
/// (epoch + 1) % refresh_every == 0, or epoch == num_epochs - 1. refresh_every <= 1: always.
bool refresh_due(const Config& config, const EpochContext& ctx);

/// The LR multiplier 1 / (1 - f) for epoch ctx.epoch: 1 during warm-up (epoch < warmup_epochs)
/// and for LrCompensation::off; else f = scheduled_fraction (scheduled) or realised_fraction
/// (realised). f >= 1 (impossible for a valid config) gives 1.
double lr_scale(const Config& config, const EpochContext& ctx, double realised_fraction);

/// Candidate selection equal to a stable ascending sort by loss taking the first k: every sample
/// with loss < t, then the lowest indices among loss == t. O(N). Returns ascending ids.
/// NaN ranks as +inf (ties with +inf, by index). k <= 0: empty; k >= N: all ids.
std::vector<std::int64_t> lowest_k(std::span<const float> loss, std::int64_t k);

/// Deterministic Fisher-Yates shuffle seeded by (seed, epoch, stream); same on every machine
/// (xoshiro256** seeded through splitmix64, Lemire's unbiased bounded draw; no <random>).
void shuffle(std::vector<std::int64_t>& ids, std::uint64_t seed, int epoch, std::uint64_t stream);

/// "scheduled", "realised", "off": the recipe's hiding.lr_compensation values.
std::string to_string(LrCompensation c);
/// Every LrCompensation, in the order the recipe reference lists them.
const std::vector<LrCompensation>& lr_compensations();
/// The LrCompensation whose to_string is name, or nullopt.
std::optional<LrCompensation> lr_compensation_named(std::string_view name);

} // namespace kakuren::hiding

#pragma once
// Sample-hiding policies: per-sample statistics in, the epoch's plan out.
// Pure: no I/O, no clock, no torch; all randomness comes from Config::seed and the epoch.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kakuren::hiding {

/// none: full data; kakurenbo: the reference algorithm; random: uniform random hiding;
/// infobatch: InfoBatch's soft pruning; iswr: importance sampling with replacement;
/// selective_backprop: epoch-level Selective Backprop; rotate: kakuren's own (see make_policy).
enum class Strategy { none, kakurenbo, random, infobatch, iswr, selective_backprop, rotate };
/// Where the learning-rate compensation 1/(1-f) takes f from: the scheduled maximum fraction
/// F_e (reference), the realised hidden fraction of this epoch, or nowhere (scale 1).
enum class LrCompensation { scheduled, realised, off };

struct Config {
    Strategy strategy = Strategy::none;
    double fraction = 0.3; ///< F, the maximum hidden fraction, 0 <= F < 1
    double tau = 0.7;      ///< confidence threshold for hiding
    /// F multiplier after k LR milestones (entry min(k, size - 1)); empty = no decay.
    std::vector<double> fraction_decay = {1.0, 0.8, 0.6, 0.4};
    LrCompensation lr_compensation = LrCompensation::scheduled;
    /// Run the forward refresh of hidden samples every k epochs (1 = reference): the refresh is due
    /// on epoch e when (e + 1) % k == 0 or e is the last epoch, so stats are fresh at the end.
    int refresh_every = 1;
    double infobatch_ratio = 0.5;   ///< infobatch: r, prune probability of a below-mean sample
    double infobatch_delta = 0.875; ///< infobatch: prune while epoch < delta * num_epochs
    double sb_beta = 1.0;           ///< selective_backprop: keep probability = percentile^beta
    double rotate_fraction = 0.9;   ///< rotate: lowest-loss share of N considered for hiding
    double rotate_ratio = 0.65;     ///< rotate: probability that an eligible sample is hidden
    int rotate_full_epochs = 1;     ///< rotate: final epochs trained on the full data
    double rotate_tau = 0.9;        ///< rotate: confidence an eligible sample needs
    std::uint64_t seed = 0;         ///< run seed; per-epoch draws use (seed, epoch)
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
    virtual EpochPlan plan_epoch(const EpochContext& ctx, const SampleStatsView& stats) = 0;
    virtual std::string name() const = 0;
    /// Whether the trainer must run a forward-only pass over all N samples (recording their
    /// statistics) before calling plan_epoch for ctx.epoch. Default: never (iswr: epoch >= 1).
    virtual bool wants_full_refresh(const EpochContext& ctx) const {
        (void)ctx;
        return false;
    }
};

/// Checks a config whatever its strategy: 0 <= fraction < 1, 0 <= tau <= 1, refresh_every >= 1,
/// every fraction_decay entry in [0, 1] (an empty list means no decay), 0 <= infobatch_ratio < 1,
/// 0 <= infobatch_delta <= 1, sb_beta >= 0, 0 <= rotate_fraction <= 1, 0 <= rotate_ratio < 1,
/// rotate_full_epochs >= 0, 0 <= rotate_tau <= 1, a known strategy and compensation. Throws
/// std::invalid_argument naming the field and the expected range.
void validate(const Config& config);

/// Builds the policy for config.strategy (after validate(config)). Throws std::invalid_argument for
/// an invalid config (the recipe layer validates first, so users never see that).
///
/// kakurenbo, per epoch: num_candidates = floor(F_e * N) lowest-loss samples (lowest_k); a
/// candidate is hidden only if correct == 1, its loss is not NaN and confidence >= tau (compared in
/// float: confidence >= float(tau)); the other candidates stay visible (num_moved_back) and their
/// slots are not refilled. A NaN loss is never hidden (it ranks as +inf, so it is a candidate only
/// when num_candidates exceeds the non-NaN count, and then it is moved back). Hiding is active
/// during LR warm-up; only the LR scale waits for its end. none: every id trained (shuffled),
/// nothing hidden, max_fraction 0, lr_scale 1.
///
/// Every strategy below draws from (seed, epoch, k_prune_stream) or k_draw_stream, one uniform
/// u in [0, 1) per sample in ascending id order (uniform01), and trains its visible ids in the
/// order shuffle(ascending visible ids, seed, epoch, k_train_stream) with train_weights
/// permuted alongside. NaN losses rank as +inf.
///
/// random: from epoch 0, hides floor(F_e * N) ids chosen uniformly (the first of
/// shuffle(all ids, .., k_prune_stream)); num_candidates = that count; no refresh; lr_scale as
/// kakurenbo.
///
/// infobatch: while epoch < infobatch_delta * num_epochs, every sample whose loss is below the
/// mean loss of the finite losses (computed in double, ascending id order) is a candidate and is
/// pruned (hidden) when u < r; kept candidates get loss weight 1 / (1 - r), all others 1
/// (train_weights empty when nothing is weighted). num_candidates = below-mean count,
/// num_moved_back = kept candidates, max_fraction = r; afterwards full data and max_fraction 0.
/// No refresh (pruned samples keep stale scores), lr_scale 1.
///
/// iswr: epoch 0 as none. From epoch 1 (after the trainer's full refresh) N ids are drawn with
/// replacement, P(i) = w_i / sum w, w_i = loss_i (non-finite: the largest finite loss;
/// negative: 0; all zero: uniform), u from k_draw_stream, id = first with cumulative weight >
/// u * sum; train_ids is the draw order, hidden_ids the ids never drawn, no weights, lr_scale 1.
///
/// selective_backprop: percentile_i = #{j : loss_j <= loss_i} / N; kept (trained) when
/// u < percentile_i^sb_beta, else hidden and refreshed (refresh_due, as kakurenbo). lr_scale 1.
///
/// rotate: the floor(rotate_fraction * N) lowest-loss samples are candidates (lowest_k); a
/// candidate that is correct with confidence >= rotate_tau is eligible (else moved back), and an
/// eligible sample is hidden when u < rotate_ratio; eligible samples that stay visible get loss
/// weight 1 / (1 - rotate_ratio). No refresh pass: a hidden sample's statistics are refreshed the
/// next time the draw keeps it. The last rotate_full_epochs epochs hide nothing; max_fraction =
/// rotate_ratio while hiding; lr_scale 1.
///
/// plan_epoch throws std::invalid_argument when the stats spans differ in length or
/// ctx.epoch < 0.
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

std::string to_string(Strategy s);
std::string to_string(LrCompensation c);

} // namespace kakuren::hiding

#pragma once
// What keeps the ranks of a data-parallel run identical: local (one rank, nothing to do) or c10d
// (per step: gradient buckets all-reduced during the backward pass as they become ready, plus
// one small all-reduce of the global batch's per-sample outcome, the model's buffers and the
// stop flag, started before the backward pass). The step engine and the phases call the same
// methods whatever the world size; only this file knows how ranks talk. Private to trainer/.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "trainer/models.hpp"
#include "trainer/task.hpp"
#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// Seconds of communication since the replicator was made (cumulative; all 0 with one rank).
struct CommTimes {
    /// Blocked waiting on collectives (training steps, forward-only batches, evaluation sums,
    /// stop checks): communication not hidden behind computation.
    double wait_s = 0;
    /// Training steps only: the time at least one of a step's all-reduces was under way (from
    /// its start to its end), and the part of it the step waited for; the rest ran behind the
    /// backward pass.
    double step_comm_s = 0, step_wait_s = 0;
    std::int64_t steps = 0, buckets = 0; ///< training steps; gradient buckets per step
};

class Replicator {
  public:
    virtual ~Replicator() = default;
    [[nodiscard]] virtual int rank() const = 0;
    [[nodiscard]] virtual int world() const = 0;

    /// Binds the model's parameters and buffers (call once, after the model is built and before
    /// the first step). The c10d replicator makes the gradients views of its bucket.
    virtual void attach(Model& model, std::int64_t local_batch, std::int64_t forward_batch,
                        bool forward_moves_buffers) = 0;
    /// Before a training step's forward: clears the gradients the step accumulates into.
    virtual void begin_step(torch::optim::Optimizer& optimizer) = 0;
    /// The loss to differentiate from a micro-batch's weighted per-sample losses, `len` being
    /// this rank's samples in the whole step: their mean (one rank; sum / len when the step has
    /// several micro-batches) or their sum, the gradients being divided by the global count
    /// after the reduction.
    virtual torch::Tensor batch_loss(const torch::Tensor& weighted_losses,
                                     std::int64_t len) const = 0;
    /// After the step's last forward and before its last backward (len = this rank's samples
    /// of the step, 0 when its share ran out; local then has no tensors): starts exchanging the
    /// step's outcome, buffers and stop flag, and lets the coming backward pass start the
    /// gradient buckets' all-reduces as they become ready. Earlier micro-batches' backward
    /// passes only accumulate.
    virtual void start_sync(const Outcome& local, std::int64_t len) = 0;
    /// After the last backward (or instead of it for an empty share): waits for the step's
    /// collectives; gradients, buffers and the batch's outcome are then equal on every rank.
    /// The outcome is the global batch's (all ranks' samples, no graph), entry k belonging to
    /// the k-th entry of the batch's slice of the phase's id list.
    virtual Outcome end_step() = 0;
    /// The same for a forward-only batch (refresh): outcome and, if asked at attach, buffers.
    virtual Outcome end_forward(const Outcome& local, std::int64_t len) = 0;
    /// Sums evaluation sums over the ranks (carrying the stop flag).
    virtual EvalSums sum(const EvalSums& local) = 0;
    /// Sums a count over the ranks, exactly (int64; e.g. the bytes each rank read in an epoch).
    /// A collective with world > 1: every rank calls it at the same point.
    virtual std::int64_t sum_count(std::int64_t local) = 0;

    /// At a phase boundary: whether any rank saw the stop flag (a collective with world > 1).
    virtual bool stop_at_phase() = 0;
    /// Before a batch: whether the run stops here (with world > 1: what the last batch's
    /// collective carried, so that every rank stops at the same step).
    [[nodiscard]] virtual bool stop_at_batch() const = 0;
    /// Throws RuntimeFailure naming `what` unless every rank passed the same values.
    virtual void check_same(const std::vector<double>& values, const std::string& what) = 0;
    /// A line on the step all-reduces for the debug log (empty when there were none).
    [[nodiscard]] virtual std::string summary() const { return {}; }
    /// Communication so far (see CommTimes).
    [[nodiscard]] virtual CommTimes comm_times() const { return {}; }
};

/// One rank. `stop` (may be null) is the process's stop flag.
std::unique_ptr<Replicator> make_local_replicator(const std::atomic<bool>* stop);
/// Meets the other ranks (see Comm: NCCL when `device` is a GPU, else Gloo) and returns the c10d
/// replicator. Throws RuntimeFailure.
std::unique_ptr<Replicator> make_c10d_replicator(const DistConfig& config, torch::Device device,
                                                 const std::atomic<bool>* stop);

/// Entries per rank of a list of n split into strided shards: the most any rank has (rank 0's).
inline std::int64_t max_shard_size(std::size_t n, int world) {
    return static_cast<std::int64_t>((n + static_cast<std::size_t>(world) - 1) /
                                     static_cast<std::size_t>(world));
}

/// The rank's share of ids: entries rank, rank + world, ... (no padding, so no sample is seen
/// twice). With one rank it is the whole list, not copied.
class Shard {
  public:
    Shard(std::span<const std::int64_t> ids, int rank, int world) {
        if (world == 1) {
            m_ids = ids;
            return;
        }
        for (auto i = static_cast<std::size_t>(rank); i < ids.size();
             i += static_cast<std::size_t>(world)) {
            m_owned.push_back(ids[i]);
        }
        m_ids = m_owned;
    }
    [[nodiscard]] std::span<const std::int64_t> ids() const { return m_ids; }

  private:
    std::vector<std::int64_t> m_owned;
    std::span<const std::int64_t> m_ids;
};

} // namespace kakuren::trainer

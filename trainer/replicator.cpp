// The local and c10d replicators.
//
// c10d (world > 1): every phase goes through its id list in global batches of W x b entries,
// where rank r takes entries r, r + W, ... (its strided shard) in local batches of b. After each
// batch one all-reduce of one flat float32 bucket carries everything the ranks must agree on:
//   [gradients (training) | loss, confidence, correct of the global batch by slot | the model's
//    buffers | samples, ranks that ran, stop flag]
// Slot r + W t holds rank r's t-th sample of the batch and every other rank adds zeros, so the sum
// copies each statistic exactly; every rank then stores the whole batch's statistics, and the
// state stays identical bit for bit at every step boundary (checkpoints need no extra exchange).
// The summed gradients are divided by the global sample count (the mean over the global batch,
// as one process computes it up to the summation order). The stop flag rides in the same bucket,
// so all ranks stop at the same step boundary: the one after the step where any rank saw it.
#include "trainer/replicator.hpp"

#include <algorithm>
#include <chrono>

#include "trainer/dist.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace kakuren::trainer {
namespace {

using Clock = std::chrono::steady_clock;

bool flag_set(const std::atomic<bool>* stop) {
    return stop != nullptr && stop->load(std::memory_order_relaxed);
}

class LocalReplicator final : public Replicator {
  public:
    explicit LocalReplicator(const std::atomic<bool>* stop) : m_stop(stop) {}
    [[nodiscard]] int rank() const override { return 0; }
    [[nodiscard]] int world() const override { return 1; }
    void attach(Model&, std::int64_t, std::int64_t, bool) override {}
    void begin_step(torch::optim::Optimizer& optimizer) override { optimizer.zero_grad(); }
    torch::Tensor batch_loss(const torch::Tensor& weighted_losses) const override {
        return weighted_losses.mean();
    }
    GlobalOutcome end_step(const Outcome& local, std::int64_t len) override {
        return {local.losses.detach(), local.correct, local.confidence, len};
    }
    GlobalOutcome end_forward(const Outcome& local, std::int64_t len) override {
        return end_step(local, len);
    }
    EvalSums sum(const EvalSums& local) override { return local; }
    bool stop_at_phase() override { return flag_set(m_stop); }
    [[nodiscard]] bool stop_at_batch() const override { return flag_set(m_stop); }
    void check_same(const std::vector<double>&, const std::string&) override {}

  private:
    const std::atomic<bool>* m_stop;
};

/// The flat float32 buffer that one all-reduce per step of a multi-rank phase sums (see the top
/// of this file). Allocated once per phase kind; its sections are views.
struct StepBucket {
    static constexpr std::int64_t k_chunk_floats = 25 * 1024 * 1024 / 4; // ~25 MB per all-reduce

    torch::Tensor flat;
    std::vector<torch::Tensor> chunks;              // views of flat, all-reduced together
    torch::Tensor grads, loss, confidence, correct; // sections of flat
    torch::Tensor buffers;                          // the model's buffers, flattened
    torch::Tensor slots;                            // int64 [b]: r + W t
    float* meta = nullptr;                          // samples, ranks that ran, stop

    StepBucket() = default;
    StepBucket(std::int64_t num_grads, std::int64_t local_batch, std::int64_t num_buffers, int rank,
               int world) {
        const std::int64_t g = local_batch * world;
        const std::int64_t total = num_grads + 3 * g + num_buffers + 3;
        flat = torch::zeros({total}, torch::kFloat32);
        std::int64_t at = 0;
        const auto take = [&](std::int64_t n) {
            torch::Tensor v = flat.narrow(0, at, n);
            at += n;
            return v;
        };
        grads = take(num_grads);
        loss = take(g);
        confidence = take(g);
        correct = take(g);
        buffers = take(num_buffers);
        meta = flat.data_ptr<float>() + at;
        for (std::int64_t off = 0; off < total; off += k_chunk_floats) {
            chunks.push_back(flat.narrow(0, off, std::min(k_chunk_floats, total - off)));
        }
        slots = torch::arange(local_batch, torch::kInt64).mul_(world).add_(rank);
    }

    /// Puts this rank's len samples of the batch into their slots.
    void put(const Outcome& local, std::int64_t len) const {
        const torch::Tensor at = slots.narrow(0, 0, len);
        loss.index_copy_(0, at, local.losses.detach());
        confidence.index_copy_(0, at, local.confidence);
        correct.index_copy_(0, at, local.correct.to(torch::kFloat32));
    }

    /// The global batch's outcome after the all-reduce (views of the bucket).
    [[nodiscard]] GlobalOutcome global() const {
        const auto count = static_cast<std::int64_t>(meta[0]);
        return {loss.narrow(0, 0, count), correct.narrow(0, 0, count).gt(0.5),
                confidence.narrow(0, 0, count), count};
    }
};

class C10dReplicator final : public Replicator {
  public:
    C10dReplicator(const DistConfig& config, const std::atomic<bool>* stop)
        : m_comm(config), m_stop(stop) {}

    [[nodiscard]] int rank() const override { return m_comm.rank(); }
    [[nodiscard]] int world() const override { return m_comm.world(); }
    [[nodiscard]] double rendezvous_s() const { return m_comm.rendezvous_s(); }

    void attach(Model& model, std::int64_t local_batch, std::int64_t forward_batch,
                bool forward_moves_buffers) override {
        std::int64_t num_grads = 0;
        for (const auto& p : model.parameters()) {
            num_grads += p.numel();
        }
        std::int64_t num_buffers = 0;
        for (const auto& b : model.buffers()) {
            m_buffers.push_back(b);
            num_buffers += b.numel();
        }
        m_train = StepBucket(num_grads, local_batch, num_buffers, rank(), world());
        m_forward =
            StepBucket(0, forward_batch, forward_moves_buffers ? num_buffers : 0, rank(), world());
        // Backward accumulates straight into the bucket (the gradients are views of it): no copy
        // before or after the all-reduce, and zeroing the bucket zeroes the gradients.
        std::int64_t at = 0;
        for (auto& p : model.parameters()) {
            p.mutable_grad() = m_train.grads.narrow(0, at, p.numel()).view(p.sizes());
            at += p.numel();
        }
    }

    void begin_step(torch::optim::Optimizer&) override { m_train.flat.zero_(); }

    torch::Tensor batch_loss(const torch::Tensor& weighted_losses) const override {
        // The sum here, divided by the global batch's size after the all-reduce: the mean over
        // the global batch, as one process takes it.
        return weighted_losses.sum();
    }

    GlobalOutcome end_step(const Outcome& local, std::int64_t len) override {
        StepBucket& bucket = m_train;
        if (len > 0) {
            // A rank whose shard ran out adds zeros (its gradient, its slots).
            torch::NoGradGuard no_grad;
            bucket.put(local, len);
            put_buffers(bucket);
            bucket.meta[0] = static_cast<float>(len);
            bucket.meta[1] = 1;
        }
        exchange(bucket, true);
        torch::NoGradGuard no_grad;
        bucket.grads.div_(static_cast<double>(static_cast<std::int64_t>(bucket.meta[0])));
        take_buffers(bucket);
        return bucket.global();
    }

    GlobalOutcome end_forward(const Outcome& local, std::int64_t len) override {
        StepBucket& bucket = m_forward;
        bucket.flat.zero_();
        if (len > 0) {
            bucket.put(local, len);
            put_buffers(bucket);
            bucket.meta[0] = static_cast<float>(len);
            bucket.meta[1] = 1;
        }
        exchange(bucket, false);
        take_buffers(bucket);
        return bucket.global();
    }

    EvalSums sum(const EvalSums& local) override {
        torch::Tensor sums = torch::zeros({4}, torch::kFloat64);
        double* s = sums.data_ptr<double>();
        s[0] = local.loss;
        s[1] = local.metric;
        s[2] = local.count;
        s[3] = flag_set(m_stop) ? 1.0 : 0.0;
        m_comm.sum(sums);
        m_stop_agreed = m_stop_agreed || s[3] > 0;
        return {s[0], s[1], s[2]};
    }

    bool stop_at_phase() override {
        torch::Tensor flag = torch::full({1}, flag_set(m_stop) || m_stop_agreed ? 1.0F : 0.0F);
        m_comm.sum(flag);
        m_stop_agreed = flag.item<float>() > 0;
        return m_stop_agreed;
    }
    [[nodiscard]] bool stop_at_batch() const override { return m_stop_agreed; }

    void check_same(const std::vector<double>& values, const std::string& what) override {
        const auto n = static_cast<std::int64_t>(values.size());
        torch::Tensor t = torch::empty({2 * n}, torch::kFloat64);
        for (std::int64_t i = 0; i < n; ++i) {
            t[i] = values[static_cast<std::size_t>(i)];
            t[n + i] = -values[static_cast<std::size_t>(i)];
        }
        m_comm.max(t);
        const double* m = t.data_ptr<double>();
        for (std::int64_t i = 0; i < n; ++i) {
            if (m[i] != -m[n + i]) { // max != min
                throw RuntimeFailure("rank " + std::to_string(rank()) + " of " +
                                     std::to_string(world()) + ": the ranks disagree on " + what +
                                     "; every rank must run the same recipe (and resume from the "
                                     "same checkpoint)");
            }
        }
    }

    [[nodiscard]] std::string summary() const override {
        if (m_step_comm_count == 0) {
            return {};
        }
        return "rank " + std::to_string(rank()) + ": " + std::to_string(m_step_comm_count) +
               " step all-reduces of " + std::to_string(m_train.flat.numel()) + " floats, " +
               std::to_string(1e3 * m_step_comm_s / static_cast<double>(m_step_comm_count)) +
               " ms each on average";
    }

  private:
    void exchange(StepBucket& bucket, bool timed) {
        bucket.meta[2] = flag_set(m_stop) ? 1.0F : 0.0F;
        const auto start = Clock::now();
        m_comm.sum(bucket.chunks);
        if (timed) {
            m_step_comm_s += std::chrono::duration<double>(Clock::now() - start).count();
            ++m_step_comm_count;
        }
        m_stop_agreed = m_stop_agreed || bucket.meta[2] > 0;
    }

    void put_buffers(StepBucket& bucket) const {
        if (bucket.buffers.numel() == 0) {
            return;
        }
        std::int64_t at = 0;
        for (const torch::Tensor& b : m_buffers) {
            bucket.buffers.narrow(0, at, b.numel()).copy_(b.reshape({-1}));
            at += b.numel();
        }
    }

    void take_buffers(StepBucket& bucket) {
        // The mean over the ranks that ran a batch (BatchNorm running statistics; the batch
        // counter is the same on each of them, so its mean is exact).
        const float ran = bucket.meta[1];
        if (bucket.buffers.numel() == 0 || ran <= 0) {
            return;
        }
        bucket.buffers.div_(ran);
        std::int64_t at = 0;
        for (torch::Tensor& b : m_buffers) {
            b.copy_(bucket.buffers.narrow(0, at, b.numel()).view(b.sizes()));
            at += b.numel();
        }
    }

    Comm m_comm;
    const std::atomic<bool>* m_stop;
    StepBucket m_train, m_forward;
    std::vector<torch::Tensor> m_buffers; // the model's buffers, in bucket order
    bool m_stop_agreed = false;
    double m_step_comm_s = 0; // seconds in the training steps' all-reduces
    std::int64_t m_step_comm_count = 0;
};

} // namespace

std::unique_ptr<Replicator> make_local_replicator(const std::atomic<bool>* stop) {
    return std::make_unique<LocalReplicator>(stop);
}

std::unique_ptr<Replicator> make_c10d_replicator(const DistConfig& config,
                                                 const std::atomic<bool>* stop) {
    auto replicator = std::make_unique<C10dReplicator>(config, stop);
    util::log_debug("rank " + std::to_string(config.rank) + " of " + std::to_string(config.world) +
                    ": met the other ranks at " + config.master_addr + ":" +
                    std::to_string(config.master_port) + " in " +
                    std::to_string(replicator->rendezvous_s()) + " s");
    return replicator;
}

} // namespace kakuren::trainer

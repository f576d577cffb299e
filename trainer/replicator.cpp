// The local and c10d replicators.
//
// c10d (world > 1): every phase goes through its id list in global batches of W x b entries,
// where rank r takes entries r, r + W, ... (its strided shard) in local batches of b.
//
// A training step reduces two things:
// - The gradients, in buckets all-reduced *during* the backward pass (as PyTorch's DDP does):
//   the gradients are views of one flat buffer in parameter order; buckets are contiguous
//   ranges of it, filled in reverse registration order (the order backward produces them) up
//   to launcher.bucket_mb (the first at most 1 MB, as DDP's first bucket). A post-hook on each
//   parameter's gradient accumulator counts down its bucket; a bucket whose gradients are all
//   there starts its all-reduce at once, while autograd computes the earlier layers. Buckets
//   start strictly in order (c10d matches collectives by their order on each rank); those
//   whose hooks did not all fire (a rank whose share ran out, unused parameters) start after
//   the backward pass, with the zeros they hold.
// - The step's outcome bucket [loss, confidence, correct of the global batch by slot | the
//   model's buffers | samples, ranks that ran, stop flag], known after the forward pass, so
//   started before the backward pass and hidden behind it.
// Slot r + W t holds rank r's t-th sample of the batch and every other rank adds zeros, so the sum
// copies each statistic exactly; every rank then stores the whole batch's statistics, and the
// state stays identical bit for bit at every step boundary (checkpoints need no extra exchange).
// The summed gradients are divided by the global sample count (the mean over the global batch,
// as one process computes it up to the summation order). The stop flag rides in the outcome
// bucket, so all ranks stop at the same step boundary: the one after the step where any rank
// saw it.
//
// Why not LibTorch's own c10d::Reducer (DDP's C++ half; its symbols are exported by Debian's
// libtorch_cpu.so 1.13)? Its contract differs from this trainer's in the places that matter
// here: it divides every gradient by the world size before the all-reduce, where kakuren sums
// and divides by the global batch's sample count after it (the last batch of a phase may leave
// a rank with fewer or no samples; summing two ranks' halves is exact, so 2-rank runs stay bit
// for bit what they were); it expects every rank to run a backward pass every step (an empty
// share would hang it; DDP needs its Python-side Join for that); its bucket rebuilding, unused
// parameter search and comm hooks are driven from DDP's Python module; and it is an internal
// header (torch/csrc), not LibTorch's API. The hooks below are the part of it kakuren needs,
// on the same c10d ProcessGroup (Gloo on CPU, NCCL on CUDA builds).
#include "trainer/replicator.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <span>
#include <utility>

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

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
    torch::Tensor batch_loss(const torch::Tensor& weighted_losses,
                             std::int64_t len) const override {
        // One micro-batch: torch's mean, as always (the golden digests depend on its bits).
        return weighted_losses.size(0) == len ? weighted_losses.mean()
                                              : weighted_losses.sum().div(static_cast<double>(len));
    }
    void start_sync(const Outcome& local, std::int64_t len) override {
        m_step = {len > 0 ? local.losses.detach() : torch::Tensor(), local.correct,
                  local.confidence};
    }
    Outcome end_step() override { return std::exchange(m_step, {}); }
    Outcome end_forward(const Outcome& local, std::int64_t len) override {
        return {len > 0 ? local.losses.detach() : torch::Tensor(), local.correct, local.confidence};
    }
    EvalSums sum(const EvalSums& local) override { return local; }
    std::int64_t sum_count(std::int64_t local) override { return local; }
    bool stop_at_phase() override { return flag_set(m_stop); }
    [[nodiscard]] bool stop_at_batch() const override { return flag_set(m_stop); }
    void check_same(const std::vector<double>&, const std::string&) override {}

  private:
    const std::atomic<bool>* m_stop;
    Outcome m_step; // the step's outcome, from start_sync to end_step
};

/// The flat float32 buffer of a batch's outcome that one all-reduce per batch of a multi-rank
/// phase sums (see the top of this file). Allocated once per phase kind; its sections are views.
struct StepBucket {
    static constexpr std::int64_t k_chunk_floats = 25 * 1024 * 1024 / 4; // ~25 MB per all-reduce

    torch::Tensor flat;
    std::vector<torch::Tensor> chunks;       // views of flat, all-reduced together
    torch::Tensor loss, confidence, correct; // sections of flat
    torch::Tensor buffers;                   // the model's buffers, flattened
    torch::Tensor slots;                     // int64 [b]: r + W t
    float* meta = nullptr;                   // samples, ranks that ran, stop

    StepBucket() = default;
    StepBucket(std::int64_t local_batch, std::int64_t num_buffers, int rank, int world) {
        const std::int64_t g = local_batch * world;
        const std::int64_t total = 3 * g + num_buffers + 3;
        flat = torch::zeros({total}, torch::kFloat32);
        std::int64_t at = 0;
        const auto take = [&](std::int64_t n) {
            torch::Tensor v = flat.narrow(0, at, n);
            at += n;
            return v;
        };
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
    [[nodiscard]] Outcome global() const {
        const auto count = static_cast<std::int64_t>(meta[0]);
        return {loss.narrow(0, 0, count), correct.narrow(0, 0, count).gt(0.5),
                confidence.narrow(0, 0, count)};
    }
};

/// A contiguous range of the flat gradient buffer, all-reduced as one collective.
struct GradBucket {
    torch::Tensor view;
    int hooked = 0;     // parameters whose accumulator hook counts this bucket down
    int pending = 0;    // of those, the ones whose gradient this step has not produced yet
    bool ready = false; // all its gradients are there (or the backward pass is over)
};

class C10dReplicator final : public Replicator {
  public:
    C10dReplicator(const DistConfig& config, torch::Device device, const std::atomic<bool>* stop)
        : m_comm(config, device), m_stop(stop), m_bucket_mb(config.bucket_mb) {}

    [[nodiscard]] int rank() const override { return m_comm.rank(); }
    [[nodiscard]] int world() const override { return m_comm.world(); }
    [[nodiscard]] double rendezvous_s() const { return m_comm.rendezvous_s(); }

    void attach(Model& model, std::int64_t local_batch, std::int64_t forward_batch,
                bool forward_moves_buffers) override {
        std::vector<torch::Tensor> params = model.parameters();
        std::int64_t num_grads = 0;
        for (const auto& p : params) {
            num_grads += p.numel();
        }
        std::int64_t num_buffers = 0;
        for (const auto& b : model.buffers()) {
            m_buffers.push_back(b);
            num_buffers += b.numel();
        }
        m_train = StepBucket(local_batch, num_buffers, rank(), world());
        m_forward =
            StepBucket(forward_batch, forward_moves_buffers ? num_buffers : 0, rank(), world());
        // Backward accumulates straight into the flat buffer (the gradients are views of it):
        // no copy before or after the all-reduces, and zeroing it zeroes the gradients.
        // On the parameters' device: a CUDA build reduces the buckets where backward wrote them.
        m_grads = torch::zeros({num_grads}, torch::TensorOptions()
                                                .dtype(torch::kFloat32)
                                                .device(params.empty() ? torch::Device(torch::kCPU)
                                                                       : params.front().device()));
        std::vector<std::int64_t> offset(params.size());
        std::int64_t at = 0;
        for (std::size_t i = 0; i < params.size(); ++i) {
            offset[i] = at;
            params[i].mutable_grad() =
                m_grads.narrow(0, at, params[i].numel()).view(params[i].sizes());
            at += params[i].numel();
        }
        make_buckets(params, offset);
    }

    void begin_step(torch::optim::Optimizer&) override {
        m_grads.zero_();
        for (GradBucket& b : m_buckets) {
            b.pending = b.hooked;
            b.ready = b.hooked == 0;
        }
        m_next_bucket = 0;
    }

    torch::Tensor batch_loss(const torch::Tensor& weighted_losses, std::int64_t) const override {
        // The sum here, divided by the global batch's size after the all-reduce: the mean over
        // the global batch, as one process takes it.
        return weighted_losses.sum();
    }

    void start_sync(const Outcome& local, std::int64_t len) override {
        StepBucket& bucket = m_train;
        bucket.flat.zero_();
        if (len > 0) {
            // A rank whose shard ran out adds zeros (its gradient, its slots).
            torch::NoGradGuard no_grad;
            bucket.put(local, len);
            put_buffers(bucket);
            bucket.meta[0] = static_cast<float>(len);
            bucket.meta[1] = 1;
        }
        bucket.meta[2] = flag_set(m_stop) ? 1.0F : 0.0F;
        for (const torch::Tensor& chunk : bucket.chunks) {
            m_comm.start_sum(chunk);
        }
        m_armed = true; // the coming backward pass starts the buckets
        start_ready_buckets();
    }

    Outcome end_step() override {
        m_armed = false;
        // Buckets the backward pass did not complete: an empty share, unused parameters.
        for (GradBucket& b : m_buckets) {
            b.ready = true;
        }
        start_ready_buckets();
        const Comm::Waited waited = m_comm.wait_all();
        m_times.wait_s += waited.blocked_s;
        m_times.step_wait_s += std::min(waited.blocked_s, waited.in_flight_s);
        m_times.step_comm_s += waited.in_flight_s;
        ++m_times.steps;
        StepBucket& bucket = m_train;
        m_stop_agreed = m_stop_agreed || bucket.meta[2] > 0;
        torch::NoGradGuard no_grad;
        m_grads.div_(static_cast<double>(static_cast<std::int64_t>(bucket.meta[0])));
        take_buffers(bucket);
        return bucket.global();
    }

    Outcome end_forward(const Outcome& local, std::int64_t len) override {
        StepBucket& bucket = m_forward;
        bucket.flat.zero_();
        if (len > 0) {
            bucket.put(local, len);
            put_buffers(bucket);
            bucket.meta[0] = static_cast<float>(len);
            bucket.meta[1] = 1;
        }
        exchange(bucket);
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
        timed_sum(sums);
        m_stop_agreed = m_stop_agreed || s[3] > 0;
        return {s[0], s[1], s[2]};
    }

    std::int64_t sum_count(std::int64_t local) override {
        torch::Tensor count = torch::full({1}, local, torch::kInt64);
        timed_sum(count);
        return count.item<std::int64_t>();
    }

    bool stop_at_phase() override {
        torch::Tensor flag = torch::full({1}, flag_set(m_stop) || m_stop_agreed ? 1.0F : 0.0F);
        timed_sum(flag);
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
        if (m_times.steps == 0) {
            return {};
        }
        const double steps = static_cast<double>(m_times.steps);
        const double hidden =
            m_times.step_comm_s > 0 ? 1.0 - m_times.step_wait_s / m_times.step_comm_s : 0.0;
        return "rank " + std::to_string(rank()) + ": " + std::to_string(m_times.steps) +
               " steps of " + std::to_string(m_buckets.size()) + " gradient bucket(s) (" +
               std::to_string(m_grads.numel()) + " floats) and an outcome bucket of " +
               std::to_string(m_train.flat.numel()) + " floats; all-reduces under way " +
               std::to_string(1e3 * m_times.step_comm_s / steps) + " ms per step, waited for " +
               std::to_string(1e3 * m_times.step_wait_s / steps) + " ms (" +
               std::to_string(100.0 * std::max(0.0, hidden)) +
               " % hidden behind the backward pass)";
    }

    [[nodiscard]] CommTimes comm_times() const override {
        CommTimes t = m_times;
        t.buckets = static_cast<std::int64_t>(m_buckets.size());
        return t;
    }

  private:
    /// Buckets in reverse parameter order up to m_bucket_mb (the first at most 1 MB; 0 = one
    /// bucket, ready when the backward pass ends), each a contiguous range of m_grads; a
    /// post-hook on every parameter's gradient accumulator.
    void make_buckets(const std::vector<torch::Tensor>& params,
                      const std::vector<std::int64_t>& offset) {
        constexpr double k_first_bucket_mb = 1.0; // DDP's first_bucket_bytes_cap
        const auto cap_bytes = [&](std::size_t bucket) {
            if (m_bucket_mb <= 0) {
                return std::numeric_limits<std::int64_t>::max(); // one bucket: no overlap
            }
            const double mb = bucket == 0 ? std::min(k_first_bucket_mb, m_bucket_mb) : m_bucket_mb;
            return static_cast<std::int64_t>(mb * 1024 * 1024);
        };
        m_param_bucket.assign(params.size(), 0);
        std::int64_t end = m_grads.numel(); // the open bucket covers [offset of its first, end)
        std::int64_t bytes = 0;
        for (std::size_t k = params.size(); k-- > 0;) {
            m_param_bucket[k] = m_buckets.size();
            bytes += params[k].numel() * static_cast<std::int64_t>(sizeof(float));
            if (bytes >= cap_bytes(m_buckets.size()) || k == 0) {
                GradBucket b;
                b.view = m_grads.narrow(0, offset[k], end - offset[k]);
                m_buckets.push_back(b);
                end = offset[k];
                bytes = 0;
            }
        }
        for (std::size_t k = 0; k < params.size(); ++k) {
            if (!params[k].requires_grad()) {
                continue; // no gradient: its bucket starts after the backward pass
            }
            // The accumulator is held here: the parameter itself keeps only a weak reference,
            // and a new accumulator would not have the hook.
            std::shared_ptr<torch::autograd::Node> accumulator =
                torch::autograd::impl::grad_accumulator(params[k]);
            if (!accumulator) {
                continue;
            }
            const std::size_t bucket = m_param_bucket[k];
            ++m_buckets[bucket].hooked;
            accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
                [this, bucket](const torch::autograd::variable_list& outputs,
                               const torch::autograd::variable_list&) {
                    gradient_ready(bucket);
                    return outputs;
                }));
            m_accumulators.push_back(std::move(accumulator));
        }
    }

    /// On autograd's thread, after a parameter's gradient was accumulated. (With CUDA that is
    /// the device's autograd thread, and the all-reduce would first have to wait for the stream
    /// that computed the gradient, as DDP does with an event: untested, no GPU here.)
    void gradient_ready(std::size_t bucket) {
        if (!m_armed) {
            return; // an earlier micro-batch of the step: accumulate only
        }
        GradBucket& b = m_buckets[bucket];
        if (--b.pending == 0) {
            b.ready = true;
            start_ready_buckets();
        }
    }

    /// Starts the ready buckets in bucket order (every rank starts them in the same order).
    void start_ready_buckets() {
        while (m_next_bucket < m_buckets.size() && m_buckets[m_next_bucket].ready) {
            GradBucket& b = m_buckets[m_next_bucket++];
            m_comm.start_sum(b.view);
        }
    }

    void exchange(StepBucket& bucket) {
        bucket.meta[2] = flag_set(m_stop) ? 1.0F : 0.0F;
        timed_sum(bucket.chunks);
        m_stop_agreed = m_stop_agreed || bucket.meta[2] > 0;
    }

    void timed_sum(std::span<const torch::Tensor> tensors) {
        const auto start = Clock::now();
        m_comm.sum(tensors);
        m_times.wait_s += std::chrono::duration<double>(Clock::now() - start).count();
    }
    void timed_sum(const torch::Tensor& tensor) {
        timed_sum(std::span<const torch::Tensor>(&tensor, 1));
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
    double m_bucket_mb;
    StepBucket m_train, m_forward;
    std::vector<torch::Tensor> m_buffers; // the model's buffers, in bucket order
    torch::Tensor m_grads;                // every parameter's gradient, in parameter order
    std::vector<GradBucket> m_buckets;    // in the order they start (last layers first)
    std::vector<std::size_t> m_param_bucket;
    std::vector<std::shared_ptr<torch::autograd::Node>> m_accumulators;
    std::size_t m_next_bucket = 0; // the next bucket to start this step
    bool m_armed = false;          // between start_sync and end_step
    bool m_stop_agreed = false;
    CommTimes m_times;
};

} // namespace

std::unique_ptr<Replicator> make_local_replicator(const std::atomic<bool>* stop) {
    return std::make_unique<LocalReplicator>(stop);
}

std::unique_ptr<Replicator> make_c10d_replicator(const DistConfig& config, torch::Device device,
                                                 const std::atomic<bool>* stop) {
    auto replicator = std::make_unique<C10dReplicator>(config, device, stop);
    util::log_debug("rank " + std::to_string(config.rank) + " of " + std::to_string(config.world) +
                    ": met the other ranks at " + config.master_addr + ":" +
                    std::to_string(config.master_port) + " in " +
                    std::to_string(replicator->rendezvous_s()) + " s");
    return replicator;
}

} // namespace kakuren::trainer

// The in-memory sources: IDX files (fashion-mnist, idx) and the synthetic problem, both loaded
// whole by data.cpp and read by index.
#include "trainer/source.hpp"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "trainer/data.hpp"
#include "trainer/stream.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

/// index_select into a kept buffer: its storage is reused once it has held a full batch.
/// Emptying it first (the storage stays) avoids torch's warning about resizing an output.
torch::Tensor gather(const torch::Tensor& source, const torch::Tensor& ids, torch::Tensor& buffer) {
    if (buffer.scalar_type() != source.scalar_type()) {
        // float targets (regression)
        buffer = torch::empty({0}, source.options().pinned_memory(buffer.is_pinned()));
    }
    if (buffer.dim() == 0 || buffer.size(0) != ids.size(0)) {
        buffer.resize_({0});
    }
    torch::index_select_out(buffer, source, 0, ids);
    return buffer;
}

/// One split held in memory: images float32 [N, sample shape...], labels [N, target shape...]
/// (int64 class ids, or float32 regression targets).
class InMemorySource final : public SampleSource {
  public:
    explicit InMemorySource(Dataset data) : m_data(std::move(data)) {}
    [[nodiscard]] std::int64_t size() const override { return m_data.size(); }
    [[nodiscard]] std::vector<std::int64_t> sample_shape() const override {
        return m_data.images.sizes().slice(1).vec();
    }
    [[nodiscard]] std::vector<std::int64_t> target_shape() const override {
        return m_data.labels.sizes().slice(1).vec();
    }
    Batch read(const torch::Tensor& ids, BatchBuffer& buffer) const override {
        return {gather(m_data.images, ids, buffer.inputs),
                gather(m_data.labels, ids, buffer.targets)};
    }
    Batch read_range(std::int64_t begin, std::int64_t count) const override {
        return {m_data.images.narrow(0, begin, count), m_data.labels.narrow(0, begin, count)};
    }

  private:
    Dataset m_data;
};

Sources in_memory(DataSplits data) {
    Sources out;
    out.info = {data.num_classes, data.channels, data.height, data.width, data.mean, data.std};
    out.info.sample_shape = data.train.images.sizes().slice(1).vec();
    out.info.target_shape = data.train.labels.sizes().slice(1).vec();
    out.train = std::make_unique<InMemorySource>(std::move(data.train));
    out.test = std::make_unique<InMemorySource>(std::move(data.test));
    return out;
}

} // namespace

Sources open_sources(const DataConfig& config) {
    if (config.dataset == "npy" || config.dataset == "hdf5" || config.dataset == "images") {
        return open_stream_sources(config);
    }
    // load_data knows the IDX layouts (fashion-mnist, idx) and the synthetic problem.
    return in_memory(load_data(config));
}

/// The reader threads of one pass: each takes the next unread step (in the pass's order, never
/// more than `depth` steps past the one the step loop asked for last) and leaves its batch, or
/// the error that stopped it, for read().
struct Prefetcher::Pool {
    struct Slot {
        Batch batch;
        std::exception_ptr error;
    };
    std::mutex mutex;
    std::condition_variable changed;
    std::map<std::int64_t, Slot> ready;
    std::int64_t next = 0;   ///< the next step a reader takes
    std::int64_t wanted = 0; ///< the step the loop waits for (or read last)
    std::int64_t end = 0;    ///< steps of the pass
    std::int64_t depth = 1;  ///< steps read ahead of `wanted`, at most
    bool stopping = false;
    std::vector<std::thread> threads;

    void stop() {
        {
            const std::lock_guard lock(mutex);
            stopping = true;
        }
        changed.notify_all();
        for (auto& t : threads) {
            t.join();
        }
        threads.clear();
    }
};

Prefetcher::~Prefetcher() {
    if (m_pool) {
        m_pool->stop();
    }
}

Prefetcher::Prefetcher(const SampleSource& source, std::span<const std::int64_t> ids,
                       std::int64_t batch_size, BatchBuffer& buffer,
                       std::optional<std::int64_t> train_epoch)
    : m_source(source),
      m_ids(torch::from_blob(const_cast<std::int64_t*>(ids.data()),
                             {static_cast<std::int64_t>(ids.size())}, torch::kInt64)),
      m_batch_size(batch_size), m_buffer(buffer), m_train_epoch(train_epoch) {}

Batch Prefetcher::fetch(const torch::Tensor& ids, BatchBuffer& buffer) const {
    return m_train_epoch ? m_source.read_for_training(ids, buffer, *m_train_epoch)
                         : m_source.read(ids, buffer);
}

std::int64_t Prefetcher::length(std::int64_t step) const {
    return std::clamp<std::int64_t>(m_ids.size(0) - step * m_batch_size, 0, m_batch_size);
}

torch::Tensor Prefetcher::ids(std::int64_t step) const {
    return m_ids.narrow(0, std::min(step * m_batch_size, m_ids.size(0)), length(step));
}

Batch Prefetcher::read(std::int64_t step) {
    if (length(step) == 0) {
        return {};
    }
    const int threads = m_source.reader_threads();
    if (threads <= 0) {
        return fetch(ids(step), m_buffer);
    }
    if (!m_pool || step < m_pool->wanted) {
        if (m_pool) {
            m_pool->stop(); // a pass walked back (not done by the loop today): start again
        }
        m_pool = std::make_unique<Pool>();
        Pool& pool = *m_pool;
        pool.next = step;
        pool.wanted = step;
        pool.end = (m_ids.size(0) + m_batch_size - 1) / m_batch_size;
        pool.depth = std::max(1, m_source.prefetch_batches());
        for (int t = 0; t < threads; ++t) {
            pool.threads.emplace_back([this, &pool] {
                // A reader decodes with one intra-op thread: the step beside it owns the
                // configured ones (an OpenMP team per reader would spin on the same cores).
                // Only this thread's setting and that of threads started later change; the
                // step's thread keeps its count (and its results).
                at::internal::lazy_init_num_threads();
                at::set_num_threads(1);
                while (true) {
                    std::int64_t mine = 0;
                    {
                        std::unique_lock lock(pool.mutex);
                        pool.changed.wait(lock, [&] {
                            return pool.stopping || pool.next >= pool.end ||
                                   pool.next < pool.wanted + pool.depth;
                        });
                        if (pool.stopping || pool.next >= pool.end) {
                            return;
                        }
                        mine = pool.next++;
                    }
                    Pool::Slot slot;
                    try {
                        BatchBuffer own; // the batch owns its memory until the loop drops it
                        slot.batch = fetch(ids(mine), own);
                        if (m_buffer.is_pinned()) {
                            slot.batch = {slot.batch.inputs.pin_memory(),
                                          slot.batch.targets.pin_memory()};
                        }
                    } catch (...) {
                        slot.error = std::current_exception();
                    }
                    {
                        const std::lock_guard lock(pool.mutex);
                        pool.ready.emplace(mine, std::move(slot));
                    }
                    pool.changed.notify_all();
                }
            });
        }
    }
    Pool& pool = *m_pool;
    Pool::Slot slot;
    {
        std::unique_lock lock(pool.mutex);
        pool.wanted = step;
        pool.next = std::max(pool.next, step);
        // Steps skipped by the caller are never waited for; their batches are dropped.
        pool.ready.erase(pool.ready.begin(), pool.ready.lower_bound(step));
        pool.changed.notify_all();
        pool.changed.wait(lock, [&] { return pool.ready.count(step) > 0; });
        auto it = pool.ready.find(step);
        slot = std::move(it->second);
        pool.ready.erase(it);
        pool.wanted = step + 1;
    }
    pool.changed.notify_all();
    if (slot.error) {
        std::rethrow_exception(slot.error);
    }
    return slot.batch;
}

} // namespace kakuren::trainer

// The in-memory sources: IDX files (fashion-mnist, idx) and the synthetic problem, both loaded
// whole by data.cpp and read by index.
#include "trainer/source.hpp"

#include <algorithm>
#include <functional>
#include <map>

#include "trainer/data.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

/// index_select into a kept buffer: its storage is reused once it has held a full batch.
/// Emptying it first (the storage stays) avoids torch's warning about resizing an output.
torch::Tensor gather(const torch::Tensor& source, const torch::Tensor& ids, torch::Tensor& buffer) {
    if (buffer.scalar_type() != source.scalar_type()) {
        buffer = torch::empty({0}, source.options()); // float targets (regression)
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
    // load_data knows the IDX layouts (fashion-mnist, idx) and the synthetic problem.
    return in_memory(load_data(config));
}

Prefetcher::Prefetcher(const SampleSource& source, std::span<const std::int64_t> ids,
                       std::int64_t batch_size, BatchBuffer& buffer)
    : m_source(source),
      m_ids(torch::from_blob(const_cast<std::int64_t*>(ids.data()),
                             {static_cast<std::int64_t>(ids.size())}, torch::kInt64)),
      m_batch_size(batch_size), m_buffer(buffer) {}

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
    return m_source.read(ids(step), m_buffer);
}

} // namespace kakuren::trainer

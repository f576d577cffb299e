// Opening a split as the recipe names it, and data.layout (trainer/data_paths.hpp).
#include "trainer/data_paths.hpp"

#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

/// A split stored channels-last ([N, H, W, C], data.layout = "nhwc"): the reader's own bytes,
/// marked channels_last, so that StreamSource transposes each batch to [B, C, H, W] after the
/// cast (the same float values as an [N, C, H, W] file gives, in the same places).
class ChannelsLastReader final : public RawReader {
  public:
    explicit ChannelsLastReader(std::unique_ptr<RawReader> inner)
        : m_inner(std::move(inner)), m_layout(m_inner->layout()) {
        m_layout.channels_last = true;
    }
    [[nodiscard]] std::int64_t size() const override { return m_inner->size(); }
    [[nodiscard]] const RawLayout& layout() const override { return m_layout; }
    std::uint64_t read(std::int64_t id, std::byte* input, std::byte* target) const override {
        return m_inner->read(id, input, target);
    }
    std::uint64_t read_batch(const std::int64_t* ids, std::int64_t count, std::byte* inputs,
                             std::byte* targets) const override {
        return m_inner->read_batch(ids, count, inputs, targets);
    }
    void read_targets(std::int64_t begin, std::int64_t count, std::byte* targets) const override {
        m_inner->read_targets(begin, count, targets);
    }
    [[nodiscard]] std::string name() const override { return m_inner->name(); }
    [[nodiscard]] std::string target_name(std::int64_t id) const override {
        return m_inner->target_name(id);
    }
    [[nodiscard]] std::string sample_file(std::int64_t id) const override {
        return m_inner->sample_file(id);
    }
    [[nodiscard]] std::int64_t num_classes() const override { return m_inner->num_classes(); }

  private:
    std::unique_ptr<RawReader> m_inner;
    RawLayout m_layout;
};

} // namespace

const std::string& split_targets(const DataConfig& config, const std::string& key) {
    return key == "data.test" ? config.test_targets_path : config.train_targets_path;
}

std::unique_ptr<RawReader> open_array_split(const DataConfig& config, const std::string& path,
                                            const std::string& key) {
    if (config.layout != "nchw" && config.layout != "nhwc") {
        throw UsageError("unknown data.layout \"" + config.layout + "\"; expected nchw or nhwc");
    }
    const std::string& targets = split_targets(config, key);
    std::unique_ptr<RawReader> reader =
        config.dataset == "npy"
            ? open_npy_split(path, key, targets)
            : open_hdf5_split(path, key, config.data_key, config.target_key, targets);
    if (config.layout == "nchw" || reader->layout().channels_last) {
        return reader; // a DeepCAM folder is channels-last already
    }
    if (reader->layout().input_shape.size() != 3) {
        throw RuntimeFailure(reader->name() + ": data.layout = \"nhwc\" needs samples [H, W, C] " +
                             "(arrays [N, H, W, C]); its samples are " +
                             util::shape_text(reader->layout().input_shape));
    }
    return std::make_unique<ChannelsLastReader>(std::move(reader));
}

std::string problem_key(const DataConfig& config, const std::string& key,
                        const std::string& message) {
    const std::string& targets = split_targets(config, key);
    if (targets.empty()) {
        return key;
    }
    const std::string targets_key = key + "_targets";
    // The message names the targets first when they are at fault ("/d/y.npy: ...", or the
    // dataset's "(data.train_targets)"); a mismatch of N names the data file first.
    const bool names_targets = message.find("(" + targets_key + ")") != std::string::npos ||
                               message.rfind(targets, 0) == 0 ||
                               message.rfind("cannot read " + targets, 0) == 0;
    return names_targets ? targets_key : key;
}

std::string channels_last_hint(const std::vector<std::int64_t>& sample_shape,
                               const std::string& layout) {
    if (layout != "nchw" || sample_shape.size() != 3) {
        return "";
    }
    const std::int64_t h = sample_shape[0], w = sample_shape[1], c = sample_shape[2];
    const bool channels = c == 1 || c == 3 || c == 4;
    if (!channels || h < 4 * c || w < 4 * c) {
        return "";
    }
    return "; the samples look channels-last (" + std::to_string(h) + " x " + std::to_string(w) +
           " x " + std::to_string(c) + ", [H, W, C]): set data.layout = \"nhwc\"";
}

} // namespace kakuren::trainer

#include "checkpoint/state.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <unordered_map>

namespace kakuren::checkpoint {

namespace {

constexpr std::string_view k_magic = "KKNLOOP1";
constexpr std::uint32_t k_format_version = 1;

// ---- little-endian encoding, whatever the host ----

template <typename T> void put_le(std::string& out, T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    if constexpr (std::endian::native == std::endian::big) {
        std::reverse(bytes, bytes + sizeof(T));
    }
    out.append(bytes, sizeof(T));
}

template <typename T> T get_le(const char* p) {
    char bytes[sizeof(T)];
    std::memcpy(bytes, p, sizeof(T));
    if constexpr (std::endian::native == std::endian::big) {
        std::reverse(bytes, bytes + sizeof(T));
    }
    T value;
    std::memcpy(&value, bytes, sizeof(T));
    return value;
}

template <typename T> void put_array(std::string& out, std::span<const T> values) {
    const std::size_t at = out.size();
    out.resize(at + values.size() * sizeof(T));
    if (!values.empty()) {
        std::memcpy(out.data() + at, values.data(), values.size() * sizeof(T));
    }
    if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1) {
        for (std::size_t i = at; i < out.size(); i += sizeof(T)) {
            std::reverse(out.begin() + static_cast<std::ptrdiff_t>(i),
                         out.begin() + static_cast<std::ptrdiff_t>(i + sizeof(T)));
        }
    }
}

/// Writes (name, length, payload) fields.
class Writer {
  public:
    Writer() {
        m_out.append(k_magic);
        put_le<std::uint32_t>(m_out, k_format_version);
    }
    void i64(std::string_view name, std::int64_t v) {
        header(name, sizeof v);
        put_le(m_out, v);
    }
    void u64(std::string_view name, std::uint64_t v) {
        header(name, sizeof v);
        put_le(m_out, v);
    }
    void f64(std::string_view name, double v) {
        header(name, sizeof v);
        put_le(m_out, v);
    }
    template <typename T> void array(std::string_view name, std::span<const T> values) {
        header(name, values.size() * sizeof(T));
        put_array(m_out, values);
    }
    std::string take() { return std::move(m_out); }

  private:
    void header(std::string_view name, std::size_t length) {
        put_le<std::uint16_t>(m_out, static_cast<std::uint16_t>(name.size()));
        m_out.append(name);
        put_le<std::uint64_t>(m_out, static_cast<std::uint64_t>(length));
    }
    std::string m_out;
};

/// Reads the fields of a loop.bin; a field absent from the file reads as its default.
class Reader {
  public:
    explicit Reader(std::string_view bytes) {
        if (bytes.size() < k_magic.size() + 4 || bytes.substr(0, k_magic.size()) != k_magic) {
            fail("not a kakuren loop state (bad magic)");
        }
        std::size_t at = k_magic.size();
        m_version = get_le<std::uint32_t>(bytes.data() + at);
        at += 4;
        if (m_version < 1) {
            fail("format version " + std::to_string(m_version) + " is not valid");
        }
        while (at < bytes.size()) {
            if (bytes.size() - at < 2) {
                fail("cut short in a field header");
            }
            const auto name_size = get_le<std::uint16_t>(bytes.data() + at);
            at += 2;
            if (bytes.size() - at < name_size + 8U) {
                fail("cut short in a field header");
            }
            const std::string name(bytes.substr(at, name_size));
            at += name_size;
            const auto length = get_le<std::uint64_t>(bytes.data() + at);
            at += 8;
            if (length > bytes.size() - at) {
                fail("field " + name + " is cut short (" + std::to_string(bytes.size() - at) +
                     " of " + std::to_string(length) + " bytes)");
            }
            m_fields[name] = bytes.substr(at, static_cast<std::size_t>(length));
            at += static_cast<std::size_t>(length);
        }
    }

    std::int64_t i64(std::string_view name, std::int64_t fallback = 0) const {
        return scalar<std::int64_t>(name, fallback);
    }
    std::uint64_t u64(std::string_view name, std::uint64_t fallback = 0) const {
        return scalar<std::uint64_t>(name, fallback);
    }
    double f64(std::string_view name, double fallback = 0) const {
        return scalar<double>(name, fallback);
    }
    template <typename T> std::vector<T> array(std::string_view name) const {
        const auto it = m_fields.find(std::string(name));
        if (it == m_fields.end()) {
            return {};
        }
        if (it->second.size() % sizeof(T) != 0) {
            fail("field " + std::string(name) + " has " + std::to_string(it->second.size()) +
                 " bytes, not a multiple of " + std::to_string(sizeof(T)));
        }
        std::vector<T> values(it->second.size() / sizeof(T));
        for (std::size_t i = 0; i < values.size(); ++i) {
            values[i] = get_le<T>(it->second.data() + i * sizeof(T));
        }
        return values;
    }

  private:
    template <typename T> T scalar(std::string_view name, T fallback) const {
        const auto it = m_fields.find(std::string(name));
        if (it == m_fields.end()) {
            return fallback;
        }
        if (it->second.size() != sizeof(T)) {
            fail("field " + std::string(name) + " has " + std::to_string(it->second.size()) +
                 " bytes; expected " + std::to_string(sizeof(T)));
        }
        return get_le<T>(it->second.data());
    }
    [[noreturn]] static void fail(const std::string& why) {
        throw CheckpointError("loop.bin: " + why);
    }

    std::uint32_t m_version = 0;
    std::unordered_map<std::string, std::string_view> m_fields;
};

} // namespace

bool Schedule::due_at_epoch_end(int epoch, bool last) const {
    if (last) {
        return true;
    }
    return m_config.every_epochs > 0 && epoch % m_config.every_epochs == 0;
}

bool Schedule::due_within_epoch(std::int64_t batches, double seconds) const {
    if (batches <= 0) {
        return false; // nothing happened since the last one
    }
    if (m_config.every_steps > 0 && batches >= m_config.every_steps) {
        return true;
    }
    return m_config.every_seconds > 0 && seconds >= m_config.every_seconds;
}

std::string Position::name() const {
    char buf[48];
    if (epoch_end) {
        std::snprintf(buf, sizeof buf, "%04d-end", epoch);
    } else {
        std::snprintf(buf, sizeof buf, "%04d-%06lld", epoch, static_cast<long long>(step));
    }
    return buf;
}

std::string Position::describe() const {
    if (epoch_end) {
        return "end of epoch " + std::to_string(epoch);
    }
    return "epoch " + std::to_string(epoch) + ", step " + std::to_string(step);
}

std::optional<Position> parse_position_name(std::string_view name) {
    const std::size_t dash = name.find('-');
    if (dash == std::string_view::npos || dash == 0) {
        return std::nullopt;
    }
    const auto number = [](std::string_view text, auto& out) {
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
        return ec == std::errc() && ptr == text.data() + text.size() && !text.empty();
    };
    Position p;
    if (!number(name.substr(0, dash), p.epoch) || p.epoch < 1) {
        return std::nullopt;
    }
    const std::string_view rest = name.substr(dash + 1);
    if (rest == "end") {
        p.epoch_end = true;
    } else if (!number(rest, p.step) || p.step < 1) {
        return std::nullopt;
    }
    if (p.name() != name) {
        return std::nullopt; // only the canonical spelling
    }
    return p;
}

std::string to_string(Reason reason) {
    switch (reason) {
    case Reason::epoch:
        return "epoch";
    case Reason::steps:
        return "steps";
    case Reason::seconds:
        return "seconds";
    case Reason::signal:
        return "signal";
    case Reason::final:
        return "final";
    }
    return "epoch";
}

Reason reason_from_string(std::string_view text) {
    for (const Reason r :
         {Reason::epoch, Reason::steps, Reason::seconds, Reason::signal, Reason::final}) {
        if (to_string(r) == text) {
            return r;
        }
    }
    throw CheckpointError("unknown checkpoint reason '" + std::string(text) +
                          "'; expected epoch, steps, seconds, signal or final");
}

std::string encode(const LoopState& s) {
    Writer w;
    w.i64("epoch", s.position.epoch);
    w.i64("step", s.position.step);
    w.i64("epoch_end", s.position.epoch_end ? 1 : 0);
    w.i64("num_samples", s.num_samples);
    w.i64("train_steps", s.train_steps);
    w.i64("refresh_steps", s.refresh_steps);
    const hiding::EpochPlan& p = s.plan;
    w.array<std::int64_t>("plan.train_ids", p.train_ids);
    w.array<float>("plan.train_weights", p.train_weights);
    w.array<std::int64_t>("plan.hidden_ids", p.hidden_ids);
    w.array<std::int64_t>("plan.refresh_ids", p.refresh_ids);
    w.f64("plan.max_fraction", p.max_fraction);
    w.f64("plan.lr_scale", p.lr_scale);
    w.i64("plan.num_candidates", p.num_candidates);
    w.i64("plan.num_moved_back", p.num_moved_back);
    w.i64("plan.num_samples", p.num_samples);
    w.f64("train_loss_sum", s.train_loss_sum);
    w.i64("train_correct", s.train_correct);
    w.i64("train_count", s.train_count);
    w.f64("train_loss", s.train_loss);
    w.f64("train_accuracy", s.train_accuracy);
    w.f64("lr", s.lr);
    w.f64("samples_per_s", s.samples_per_s);
    w.f64("train_s", s.train_s);
    w.f64("hidden_pass_s", s.hidden_pass_s);
    w.f64("final_accuracy", s.final_accuracy);
    w.f64("best_accuracy", s.best_accuracy);
    w.i64("mllog_bytes", s.mllog_bytes);
    w.u64("seed", s.seed);
    w.i64("world_size", s.world_size);
    w.i64("threads", s.threads);
    return w.take();
}

LoopState decode_loop_state(std::string_view bytes) {
    const Reader r(bytes);
    LoopState s;
    s.position.epoch = static_cast<int>(r.i64("epoch"));
    s.position.step = r.i64("step");
    s.position.epoch_end = r.i64("epoch_end") != 0;
    s.num_samples = r.i64("num_samples");
    s.train_steps = r.i64("train_steps");
    s.refresh_steps = r.i64("refresh_steps");
    hiding::EpochPlan& p = s.plan;
    p.train_ids = r.array<std::int64_t>("plan.train_ids");
    p.train_weights = r.array<float>("plan.train_weights");
    p.hidden_ids = r.array<std::int64_t>("plan.hidden_ids");
    p.refresh_ids = r.array<std::int64_t>("plan.refresh_ids");
    p.max_fraction = r.f64("plan.max_fraction");
    p.lr_scale = r.f64("plan.lr_scale", 1.0);
    p.num_candidates = r.i64("plan.num_candidates");
    p.num_moved_back = r.i64("plan.num_moved_back");
    p.num_samples = r.i64("plan.num_samples");
    s.train_loss_sum = r.f64("train_loss_sum");
    s.train_correct = r.i64("train_correct");
    s.train_count = r.i64("train_count");
    s.train_loss = r.f64("train_loss");
    s.train_accuracy = r.f64("train_accuracy");
    s.lr = r.f64("lr");
    s.samples_per_s = r.f64("samples_per_s");
    s.train_s = r.f64("train_s");
    s.hidden_pass_s = r.f64("hidden_pass_s");
    s.final_accuracy = r.f64("final_accuracy");
    s.best_accuracy = r.f64("best_accuracy");
    s.mllog_bytes = r.i64("mllog_bytes");
    s.seed = r.u64("seed");
    s.world_size = static_cast<int>(r.i64("world_size", 1));
    s.threads = static_cast<int>(r.i64("threads", 1));
    if (s.position.epoch < 1 || s.position.step < 0 || s.num_samples < 0) {
        throw CheckpointError("loop.bin: position " + s.position.describe() + " or sample count " +
                              std::to_string(s.num_samples) + " is not valid");
    }
    return s;
}

} // namespace kakuren::checkpoint

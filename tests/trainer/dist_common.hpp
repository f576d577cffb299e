#pragma once
// What dist_test.cpp and its worker process (dist_worker.cpp) share: the run's config and the
// reading of the checkpoint folder the worker writes; a snapshot as the manager loads it back
// (resume_test.cpp, device_test.cpp).
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "checkpoint/state.hpp"
#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// A snapshot as the manager would load it back.
inline checkpoint::Resume to_resume(const checkpoint::Snapshot& s) {
    checkpoint::Resume r;
    r.name = s.loop.position.name();
    r.loop = s.loop;
    r.test_accuracy = s.test_accuracy;
    for (const checkpoint::File& f : s.files) {
        r.files[f.name] = f.bytes;
    }
    r.stats.assign(s.stats);
    r.hidden_ids.assign(s.hidden_ids.begin(), s.hidden_ids.end());
    return r;
}

/// A small synthetic problem (resume_test.cpp's, made noisier so that accuracy stays below 1 and
/// the curves say something) where kakurenbo hides samples in epochs 3 and 4, with a checkpoint
/// offered before every batch.
inline Config dist_test_config() {
    Config c;
    c.data.dataset = "synthetic";
    c.data.synthetic_train = 512;
    c.data.synthetic_test = 128;
    c.data.synthetic_classes = 4;
    c.data.synthetic_channels = 1;
    c.data.synthetic_size = 8;
    c.data.synthetic_noise = 4.0;
    c.data.batch_size = 64;
    c.data.eval_batch_size = 32;
    c.model.kind = "mlp";
    c.model.hidden = {32};
    c.optim.lr = 0.05;
    c.schedule.epochs = 4;
    c.schedule.warmup_epochs = 1;
    c.schedule.milestones = {3};
    c.hiding.strategy = "kakurenbo";
    c.hiding.fraction = 0.3;
    c.hiding.tau = 0.5;
    c.threads = 1;
    c.seed = 11;
    checkpoint::Config k;
    k.every_steps = 1; // rank 0 is offered every position (the stop test picks one)
    c.checkpoint = k;
    return c;
}

inline std::string read_test_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <typename T> std::vector<T> read_test_vector(const std::filesystem::path& path) {
    const std::string bytes = read_test_file(path);
    std::vector<T> out(bytes.size() / sizeof(T));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
    return out;
}

/// Reads back the checkpoint folder a worker of rank 0 wrote (loop.bin, file.<name>, ...).
inline checkpoint::Resume load_test_checkpoint(const std::filesystem::path& dir) {
    checkpoint::Resume r;
    r.loop = checkpoint::decode_loop_state(read_test_file(dir / "loop.bin"));
    r.name = r.loop.position.name();
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("file.", 0) == 0) {
            r.files[name.substr(5)] = read_test_file(entry.path());
        }
    }
    r.stats = util::SampleStats(read_test_vector<float>(dir / "loss.bin"),
                                read_test_vector<std::uint8_t>(dir / "correct.bin"),
                                read_test_vector<float>(dir / "confidence.bin"));
    r.hidden_ids = read_test_vector<std::int64_t>(dir / "hidden.bin");
    std::ifstream position(dir / "position.txt");
    std::string line;
    std::getline(position, line);
    double accuracy = -1;
    position >> accuracy;
    if (accuracy >= 0) {
        r.test_accuracy = accuracy;
    }
    return r;
}

} // namespace kakuren::trainer

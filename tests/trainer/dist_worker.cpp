// kakuren_dist_worker: one rank of a small multi-rank training run, started as a process by
// dist_test.cpp (one process per rank, as the launcher does). Settings come from the
// environment:
//   KAKUREN_RANK, KAKUREN_WORLD, KAKUREN_PORT    place in the run, rank 0's TCPStore port
//   KAKUREN_OUT                                  folder for rank<R>.txt (and ckpt/ from rank 0)
//   KAKUREN_TIMEOUT_S                            dist.timeout_s (default 30)
//   KAKUREN_BUCKET_MB, KAKUREN_ACCUMULATION      dist.bucket_mb, data.accumulation_steps
//   KAKUREN_BATCH                                data.batch_size (default 64)
//   KAKUREN_MODE  full   train the 4 epochs
//                 stop   KAKUREN_STOP_RANK alone sets its stop flag: rank 0 at the checkpoint
//                        before step 2 of epoch 2, another rank at its first progress report
//                        of epoch 2's training
//                 resume continue from the checkpoint in KAKUREN_RESUME (a ckpt/ folder)
//                 die    rank 1 exits abruptly (_exit) after epoch 1
//                 hang   rank 1 stops itself (SIGSTOP) after epoch 1, like a node cut off
// rank<R>.txt has one line per epoch ("epoch E train_loss train_accuracy test_loss
// test_accuracy hidden hidden_hash state_hash"), then "summary interrupted epochs_done digest"
// or "error <message>" (exit 1). Rank 0 writes the last checkpoint it was handed to ckpt/.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/state.hpp"
#include "tests/trainer/dist_common.hpp"
#include "trainer/trainer.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"
#include "util/mllog.hpp"

namespace {

using namespace kakuren;
namespace fs = std::filesystem;

std::string env(const char* name, const std::string& fallback = "") {
    const char* value = std::getenv(name);
    return value != nullptr ? value : fallback;
}

template <typename T> std::uint64_t hash_of(std::span<const T> values) {
    util::Fnv1a h;
    h.add(values.data(), values.size_bytes());
    return h.value();
}

void write_file(const fs::path& path, const void* data, std::size_t size) {
    std::ofstream out(path, std::ios::binary);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

class Recorder : public trainer::Observer {
  public:
    Recorder(int rank, std::string mode, int stop_rank)
        : m_rank(rank), m_mode(std::move(mode)), m_stop_rank(stop_rank) {}

    void on_progress(const trainer::StepProgress& p) override {
        if (m_mode == "stop" && m_rank == m_stop_rank && m_rank != 0 && p.epoch == 2 &&
            p.phase == "train") {
            stop.store(true);
        }
    }
    void on_epoch(const trainer::EpochResult& r) override {
        char line[512];
        std::snprintf(line, sizeof line, "epoch %d %.9g %.9g %.9g %.9g %lld %016llx %016llx\n",
                      r.epoch, r.train_loss, r.train_accuracy, r.test_loss, r.test_accuracy,
                      static_cast<long long>(r.hidden_ids.size()),
                      static_cast<unsigned long long>(hash_of(r.hidden_ids)),
                      static_cast<unsigned long long>(hash_of(r.stats.loss) ^
                                                      (hash_of(r.stats.confidence) * 3) ^
                                                      (hash_of(r.stats.correct) * 7)));
        lines += line;
        if (m_rank == 1 && r.epoch == 1 && m_mode == "die") {
            std::_Exit(3); // no unwinding, sockets closed by the kernel: a crashed rank
        }
        if (m_rank == 1 && r.epoch == 1 && m_mode == "hang") {
            std::raise(SIGSTOP); // alive, connections open, silent: a node cut off
        }
    }
    void on_checkpoint(const checkpoint::Snapshot& s) override {
        last = s.loop;
        files.clear();
        for (const auto& f : s.files) {
            files.emplace_back(f.name, f.bytes);
        }
        loss.assign(s.stats.loss.begin(), s.stats.loss.end());
        confidence.assign(s.stats.confidence.begin(), s.stats.confidence.end());
        correct.assign(s.stats.correct.begin(), s.stats.correct.end());
        hidden.assign(s.hidden_ids.begin(), s.hidden_ids.end());
        test_accuracy = s.test_accuracy;
        if (m_mode == "stop" && m_stop_rank == 0 && s.loop.position.epoch == 2 &&
            s.loop.position.step == 2 && !s.loop.position.epoch_end) {
            stop.store(true);
        }
    }

    void save_checkpoint(const fs::path& dir) const {
        if (!last) {
            return;
        }
        fs::create_directories(dir);
        const std::string loop = checkpoint::encode(*last);
        write_file(dir / "loop.bin", loop.data(), loop.size());
        for (const auto& [name, bytes] : files) {
            write_file(dir / ("file." + name), bytes.data(), bytes.size());
        }
        write_file(dir / "loss.bin", loss.data(), loss.size() * sizeof(float));
        write_file(dir / "confidence.bin", confidence.data(), confidence.size() * sizeof(float));
        write_file(dir / "correct.bin", correct.data(), correct.size());
        write_file(dir / "hidden.bin", hidden.data(), hidden.size() * sizeof(std::int64_t));
        std::ofstream(dir / "position.txt") << last->position.describe() << "\n"
                                            << (test_accuracy ? *test_accuracy : -1.0) << "\n";
    }

    std::atomic<bool> stop{false};
    std::string lines;

  private:
    int m_rank;
    std::string m_mode;
    int m_stop_rank;
    std::optional<checkpoint::LoopState> last;
    std::vector<std::pair<std::string, std::string>> files;
    std::vector<float> loss, confidence;
    std::vector<std::uint8_t> correct;
    std::vector<std::int64_t> hidden;
    std::optional<double> test_accuracy;
};

} // namespace

int main() {
    util::setup_logging(true);
    const int rank = std::stoi(env("KAKUREN_RANK", "0"));
    const int world = std::stoi(env("KAKUREN_WORLD", "1"));
    const fs::path out = env("KAKUREN_OUT", ".");
    const std::string mode = env("KAKUREN_MODE", "full");
    trainer::Config config = trainer::dist_test_config();
    config.dist.rank = rank;
    config.dist.world = world;
    config.dist.master_port = std::stoi(env("KAKUREN_PORT", "29500"));
    config.dist.timeout_s = std::stod(env("KAKUREN_TIMEOUT_S", "30"));
    if (const std::string mb = env("KAKUREN_BUCKET_MB"); !mb.empty()) {
        config.dist.bucket_mb = std::stod(mb);
    }
    if (const std::string k = env("KAKUREN_ACCUMULATION"); !k.empty()) {
        config.data.accumulation_steps = std::stoi(k);
    }
    if (const std::string batch = env("KAKUREN_BATCH"); !batch.empty()) {
        config.data.batch_size = std::stoi(batch);
    }
    if (const std::string model = env("KAKUREN_MODEL_PATH"); !model.empty()) {
        config.model.kind = "torchscript"; // the test's module for the same problem
        config.model.path = model;
    }

    Recorder recorder(rank, mode, std::stoi(env("KAKUREN_STOP_RANK", "0")));
    std::ofstream result(out / ("rank" + std::to_string(rank) + ".txt"));
    try {
        std::optional<checkpoint::Resume> resume;
        if (mode == "resume") {
            resume = trainer::load_test_checkpoint(env("KAKUREN_RESUME"));
        }
        util::MlLog no_log;
        const trainer::Summary s =
            trainer::train(config, recorder, no_log, &recorder.stop, resume ? &*resume : nullptr);
        result << recorder.lines << "summary " << (s.interrupted ? 1 : 0) << " " << s.epochs_done
               << " " << std::hex << s.model_digest << "\n";
        if (rank == 0) {
            recorder.save_checkpoint(out / "ckpt");
        }
        return 0;
    } catch (const std::exception& e) {
        result << recorder.lines << "error " << e.what() << "\n";
        return 1;
    }
}

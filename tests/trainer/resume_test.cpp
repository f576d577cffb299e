// Checkpoints and resume inside the trainer: a run stopped at any checkpoint position (inside
// the training steps, between the phases, inside the refresh pass of hidden samples, during
// evaluation, at an epoch's end) and resumed ends bit-identical to the run that never stopped:
// weights, optimizer state, per-sample statistics, hidden sets, epoch records and MLPerf log.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "tests/trainer/dist_common.hpp"
#include "trainer/trainer.hpp"
#include "util/error.hpp"
#include "util/mllog.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;
using checkpoint::Position;
using checkpoint::Resume;
using checkpoint::Snapshot;

/// An easy synthetic problem where kakurenbo hides samples from epoch 2 on, with small eval
/// batches so that the refresh pass of hidden samples spans several batches.
Config resumable_config() {
    Config c = dist_test_config(); // the same problem, less noisy
    c.data.synthetic_noise = DataConfig{}.synthetic_noise;
    return c;
}

/// What must be identical: everything of an epoch but its times.
struct EpochRecord {
    int epoch = 0;
    double train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0, lr = 0,
           lr_scale = 0, max_fraction = 0;
    std::int64_t visible = 0, hidden = 0, moved_back = 0, candidates = 0, refreshed = 0;
    std::vector<std::int64_t> hidden_ids;
    std::vector<float> loss, confidence;
    std::vector<std::uint8_t> correct;
    bool operator==(const EpochRecord&) const = default;
};

/// Keeps every checkpoint and epoch; stops the run at a chosen checkpoint or in a phase.
class Keeper : public Observer {
  public:
    void on_progress(const StepProgress& p) override {
        if (stop_in_phase && p.epoch == stop_in_epoch && p.phase == *stop_in_phase) {
            stop.store(true);
        }
    }
    void on_epoch(const EpochResult& r) override {
        EpochRecord e{r.epoch,
                      r.train_loss,
                      r.train_accuracy,
                      r.test_loss,
                      r.test_accuracy,
                      r.lr,
                      r.lr_scale,
                      r.max_fraction,
                      r.visible,
                      r.hidden,
                      r.moved_back,
                      r.candidates,
                      r.refreshed,
                      {r.hidden_ids.begin(), r.hidden_ids.end()},
                      {r.stats.loss.begin(), r.stats.loss.end()},
                      {r.stats.confidence.begin(), r.stats.confidence.end()},
                      {r.stats.correct.begin(), r.stats.correct.end()}};
        epochs.push_back(std::move(e));
    }
    void on_checkpoint(const Snapshot& s) override {
        checkpoints.push_back(to_resume(s));
        reasons.push_back(s.reason);
        if (stop_at && s.loop.position == *stop_at) {
            stop.store(true);
        }
    }

    std::vector<EpochRecord> epochs;
    std::vector<Resume> checkpoints;
    std::vector<checkpoint::Reason> reasons;
    std::optional<Position> stop_at;
    std::optional<std::string> stop_in_phase;
    int stop_in_epoch = 0;
    std::atomic<bool> stop{false};
};

Summary run(const Config& c, Keeper& keeper, const Resume* resume = nullptr,
            util::MlLog* log = nullptr) {
    util::MlLog none;
    return train(c, keeper, log != nullptr ? *log : none, &keeper.stop, resume);
}

/// The final checkpoint of a complete run: the state everything is compared on.
const Resume& final_checkpoint(const Keeper& k) {
    EXPECT_FALSE(k.checkpoints.empty());
    EXPECT_EQ(k.reasons.back(), checkpoint::Reason::final);
    return k.checkpoints.back();
}

void expect_same_final_state(const Resume& a, const Resume& b) {
    EXPECT_EQ(a.name, b.name);
    ASSERT_EQ(a.files.size(), b.files.size());
    for (const auto& [name, bytes] : a.files) {
        EXPECT_TRUE(b.files.at(name) == bytes) << name << " differs";
    }
    EXPECT_TRUE(std::ranges::equal(a.stats.loss(), b.stats.loss())) << "per-sample losses differ";
    EXPECT_TRUE(std::ranges::equal(a.stats.correct(), b.stats.correct()))
        << "per-sample correctness differs";
    EXPECT_TRUE(std::ranges::equal(a.stats.confidence(), b.stats.confidence()))
        << "per-sample confidences differ";
    EXPECT_EQ(a.hidden_ids, b.hidden_ids);
    EXPECT_EQ(a.loop.final_accuracy, b.loop.final_accuracy);
    EXPECT_EQ(a.loop.best_accuracy, b.loop.best_accuracy);
}

/// The uninterrupted run, once per process.
const Keeper& reference() {
    static const Keeper* keeper = [] {
        auto* k = new Keeper;
        const Summary s = run(resumable_config(), *k);
        EXPECT_EQ(s.epochs_done, 4);
        return k;
    }();
    return *keeper;
}

/// Stops a run as `stopper` says, resumes it from its last checkpoint, and checks that the two
/// attempts together recorded exactly what the uninterrupted run did.
void stop_and_resume(const std::function<void(Keeper&)>& stopper, const std::string& what) {
    SCOPED_TRACE(what);
    const Keeper& ref = reference();
    Keeper first;
    stopper(first);
    const Summary s1 = run(resumable_config(), first);
    ASSERT_TRUE(s1.interrupted);
    ASSERT_FALSE(first.checkpoints.empty());
    const Resume from = first.checkpoints.back();

    Keeper second;
    const Summary s2 = run(resumable_config(), second, &from);
    EXPECT_FALSE(s2.interrupted);
    EXPECT_EQ(s2.epochs_done, 4);
    expect_same_final_state(final_checkpoint(second), final_checkpoint(ref));

    std::vector<EpochRecord> epochs = first.epochs;
    epochs.resize(static_cast<std::size_t>(from.loop.position.epochs_done()));
    epochs.insert(epochs.end(), second.epochs.begin(), second.epochs.end());
    ASSERT_EQ(epochs.size(), ref.epochs.size()) << "no epoch missing or recorded twice";
    for (std::size_t i = 0; i < epochs.size(); ++i) {
        EXPECT_TRUE(epochs[i] == ref.epochs[i]) << "epoch " << i + 1 << " differs";
    }
}

TEST(Resume, TheReferenceRunOffersEveryKindOfPosition) {
    const Keeper& ref = reference();
    bool mid_train = false, between = false, mid_refresh = false, epoch_end = false;
    for (const Resume& r : ref.checkpoints) {
        const Position& p = r.loop.position;
        epoch_end |= p.epoch_end;
        mid_train |= !p.epoch_end && p.step < r.loop.train_steps;
        between |= !p.epoch_end && p.step == r.loop.train_steps && r.loop.refresh_steps > 0;
        mid_refresh |= !p.epoch_end && p.step > r.loop.train_steps &&
                       p.step < r.loop.train_steps + r.loop.refresh_steps;
    }
    EXPECT_TRUE(mid_train && between && mid_refresh && epoch_end)
        << "the test problem must hide enough samples for a refresh pass of several batches";
    EXPECT_EQ(ref.reasons.back(), checkpoint::Reason::final);
    EXPECT_EQ(ref.checkpoints.back().name, "0004-end");
}

TEST(Resume, EverySecondsWritesCheckpointsInsideEpochs) {
    Config c = resumable_config();
    c.checkpoint->every_steps = 0;
    c.checkpoint->every_seconds = 1e-9; // due before every batch
    c.schedule.epochs = 1;
    Keeper k;
    run(c, k);
    ASSERT_GT(k.checkpoints.size(), 2U);
    EXPECT_EQ(k.reasons.front(), checkpoint::Reason::seconds);
    EXPECT_EQ(k.checkpoints.front().name, "0001-000001");
    EXPECT_EQ(k.reasons.back(), checkpoint::Reason::final);
}

TEST(Resume, StoppedAtAnyCheckpointAndResumedEndsBitIdentical) {
    const Keeper& ref = reference();
    // Every position of the run but the last: inside the training steps, between the phases,
    // inside the refresh pass, and at each epoch's end.
    for (std::size_t i = 0; i + 1 < ref.checkpoints.size(); ++i) {
        const Position p = ref.checkpoints[i].loop.position;
        stop_and_resume([p](Keeper& k) { k.stop_at = p; }, "stopped at " + p.describe());
    }
}

TEST(Resume, StoppedDuringEvaluationResumesBeforeIt) {
    for (const int epoch : {1, 3}) {
        stop_and_resume(
            [epoch](Keeper& k) {
                k.stop_in_phase = "eval";
                k.stop_in_epoch = epoch;
            },
            "stopped during the evaluation of epoch " + std::to_string(epoch));
    }
}

TEST(Resume, StoppedDuringTheRefreshPassWithoutPeriodicCheckpoints) {
    // Only the stop writes a checkpoint here, from inside the refresh pass.
    Config c = resumable_config();
    c.checkpoint->every_steps = 0;
    const Keeper& ref = reference();
    Keeper first;
    first.stop_in_phase = "refresh";
    first.stop_in_epoch = 3;
    ASSERT_TRUE(run(c, first).interrupted);
    ASSERT_EQ(first.reasons.back(), checkpoint::Reason::signal);
    const Resume from = first.checkpoints.back();
    EXPECT_FALSE(from.loop.position.epoch_end);
    EXPECT_GE(from.loop.position.step, from.loop.train_steps) << from.name;
    Keeper second;
    run(c, second, &from);
    expect_same_final_state(final_checkpoint(second), final_checkpoint(ref));
}

/// (key, value, epoch_num) of every record but `resume`: the log without its times.
std::vector<std::string> log_records(const fs::path& path, int& resumes) {
    std::vector<std::string> out;
    std::ifstream in(path);
    std::string line;
    const std::regex time(R"re("time_ms": \d+, )re");
    resumes = 0;
    while (std::getline(in, line)) {
        if (line.find("\"key\": \"resume\"") != std::string::npos) {
            ++resumes;
            continue;
        }
        out.push_back(std::regex_replace(line, time, ""));
    }
    return out;
}

TEST(Resume, TheMlperfLogContinuesWithoutDuplicatesOrGaps) {
    const fs::path dir =
        fs::temp_directory_path() / ("kakuren-resume-log-" + std::to_string(getpid()));
    fs::remove_all(dir);
    const fs::path ref_path = dir / "reference.txt", path = dir / "mllog.txt";
    Config c = resumable_config();
    {
        util::MlLog log(ref_path);
        Keeper k;
        run(c, k, nullptr, &log);
    }
    // Stopped inside epoch 2's training, resumed; stopped during epoch 3's evaluation, resumed.
    std::optional<Resume> from;
    for (int attempt = 0; attempt < 3; ++attempt) {
        Keeper k;
        if (attempt == 0) {
            k.stop_at = Position{2, 3, false};
        } else if (attempt == 1) {
            k.stop_in_phase = "eval";
            k.stop_in_epoch = 3;
        }
        if (from) {
            fs::resize_file(path, static_cast<std::uintmax_t>(from->loop.mllog_bytes));
        }
        {
            util::MlLog log(path);
            run(c, k, from ? &*from : nullptr, &log);
        }
        from = k.checkpoints.back();
    }
    int ref_resumes = 0, resumes = 0;
    const auto expected = log_records(ref_path, ref_resumes);
    const auto got = log_records(path, resumes);
    EXPECT_EQ(ref_resumes, 0);
    EXPECT_EQ(resumes, 2) << "one resume record per attempt that took over";
    EXPECT_EQ(got, expected);
    fs::remove_all(dir);
}

TEST(Resume, ACheckpointOfAnotherDataSetIsRefused) {
    const Resume& last = reference().checkpoints.back();
    Config c = resumable_config();
    c.data.synthetic_train = 256;
    Keeper k;
    try {
        run(c, k, &last);
        FAIL() << "expected RuntimeFailure";
    } catch (const RuntimeFailure& e) {
        EXPECT_NE(std::string(e.what()).find("it holds 512 training samples; the data set has 256"),
                  std::string::npos)
            << e.what();
    }
    c = resumable_config();
    c.model.hidden = {16};
    try {
        run(c, k, &last);
        FAIL() << "expected RuntimeFailure";
    } catch (const RuntimeFailure& e) {
        EXPECT_NE(std::string(e.what()).find("of shape [32, 64]; this recipe's model has"),
                  std::string::npos)
            << e.what();
    }
}

TEST(Resume, AFinishedRunResumedFromItsFinalCheckpointJustEnds) {
    const Resume& last = reference().checkpoints.back();
    Keeper k;
    const Summary s = run(resumable_config(), k, &last);
    EXPECT_EQ(s.epochs_done, 4);
    EXPECT_TRUE(k.epochs.empty());
    EXPECT_TRUE(k.checkpoints.empty());
}

} // namespace
} // namespace kakuren::trainer

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "trainer/trainer.hpp"
#include "util/error.hpp"
#include "util/mllog.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;

/// An easy 8x8 synthetic problem and a small MLP: a few epochs take milliseconds.
Config small_config() {
    Config c;
    c.data.dataset = "synthetic";
    c.data.synthetic_train = 1024;
    c.data.synthetic_test = 512;
    c.data.synthetic_classes = 10;
    c.data.synthetic_channels = 1;
    c.data.synthetic_size = 8;
    c.data.batch_size = 64;
    c.data.eval_batch_size = 256;
    c.model.kind = "mlp";
    c.model.hidden = {32};
    c.optim.lr = 0.05;
    c.schedule.epochs = 3;
    c.schedule.warmup_epochs = 1;
    c.schedule.milestones = {};
    c.hiding.strategy = "none";
    c.threads = 1;
    c.seed = 7;
    return c;
}

Config hiding_config(int epochs) {
    Config c = small_config();
    c.schedule.epochs = epochs;
    c.hiding.strategy = "kakurenbo";
    c.hiding.fraction = 0.3;
    return c;
}

/// An epoch's result with its own copies of the spans.
struct Recorded {
    EpochResult result;
    std::vector<std::int64_t> hidden_ids;
    std::vector<float> loss, confidence;
    std::vector<std::uint8_t> correct;
};

class Recorder : public Observer {
  public:
    void on_start(std::int64_t num_train, std::int64_t num_test) override {
        started = true;
        this->num_train = num_train;
        this->num_test = num_test;
    }
    void on_progress(const StepProgress& p) override {
        progress.push_back(p);
        if (stop_at_train_of_epoch == p.epoch && p.phase == "train") {
            stop_flag.store(true);
        }
    }
    void on_epoch(const EpochResult& r) override {
        Recorded rec{r,
                     {r.hidden_ids.begin(), r.hidden_ids.end()},
                     {r.stats.loss.begin(), r.stats.loss.end()},
                     {r.stats.confidence.begin(), r.stats.confidence.end()},
                     {r.stats.correct.begin(), r.stats.correct.end()}};
        rec.result.hidden_ids = {};
        rec.result.stats = {};
        epochs.push_back(std::move(rec));
    }

    bool started = false;
    std::int64_t num_train = 0, num_test = 0;
    std::vector<StepProgress> progress;
    std::vector<Recorded> epochs;
    int stop_at_train_of_epoch = -1;
    std::atomic<bool> stop_flag{false};
};

Summary run(const Config& config, Recorder& recorder, const std::atomic<bool>* stop = nullptr) {
    util::MlLog no_log;
    return train(config, recorder, no_log, stop);
}

TEST(Train, LearnsTheSyntheticProblem) {
    Recorder rec;
    const Summary s = run(small_config(), rec);
    EXPECT_TRUE(rec.started);
    EXPECT_EQ(rec.num_train, 1024);
    EXPECT_EQ(rec.num_test, 512);
    EXPECT_EQ(s.epochs_done, 3);
    EXPECT_FALSE(s.interrupted);
    EXPECT_FALSE(s.target_reached);
    ASSERT_EQ(rec.epochs.size(), 3U);
    EXPECT_GT(s.final_accuracy, 0.6) << "chance is 0.1";
    EXPECT_LT(rec.epochs.back().result.train_loss, rec.epochs.front().result.train_loss);
    for (const Recorded& e : rec.epochs) {
        EXPECT_EQ(e.result.visible, 1024);
        EXPECT_EQ(e.result.hidden, 0);
        EXPECT_EQ(e.result.refreshed, 0);
        EXPECT_EQ(e.loss.size(), 1024U);
        EXPECT_GT(e.result.train_s, 0.0);
    }
    EXPECT_EQ(s.final_accuracy, rec.epochs.back().result.test_accuracy);
    // Every phase reports its end.
    for (const char* phase : {"train", "refresh", "eval"}) {
        EXPECT_TRUE(std::any_of(rec.progress.begin(), rec.progress.end(), [&](const auto& p) {
            return p.phase == phase && p.step == p.num_steps && p.epoch == 3;
        })) << phase;
    }
}

// The live line's running loss and sample count: the train phase's closing report of an epoch
// carries the epoch's mean training loss and every trained sample.
TEST(Train, ProgressCarriesTheRunningLossAndTheSamplesDone) {
    Recorder rec;
    run(small_config(), rec);
    ASSERT_EQ(rec.epochs.size(), 3U);
    for (const Recorded& e : rec.epochs) {
        const auto last =
            std::find_if(rec.progress.rbegin(), rec.progress.rend(), [&](const auto& p) {
                return p.phase == "train" && p.epoch == e.result.epoch && p.step == p.num_steps;
            });
        ASSERT_NE(last, rec.progress.rend()) << "epoch " << e.result.epoch;
        EXPECT_TRUE(last->has_loss);
        EXPECT_EQ(last->loss_mean, e.result.train_loss);
        EXPECT_EQ(last->samples, 1024);
    }
}

TEST(Train, ACnnLearnsTheSyntheticProblemToo) {
    Config c = small_config();
    c.model.kind = "cnn";
    c.model.channels = {8, 16};
    c.model.fc = 32;
    c.data.synthetic_size = 12;
    Recorder rec;
    EXPECT_GT(run(c, rec).final_accuracy, 0.5);
}

TEST(Train, SameConfigAndOneThreadGiveIdenticalRuns) {
    Recorder a, b;
    run(hiding_config(3), a);
    run(hiding_config(3), b);
    ASSERT_EQ(a.epochs.size(), 3U);
    ASSERT_EQ(b.epochs.size(), 3U);
    for (std::size_t e = 0; e < 3; ++e) {
        EXPECT_EQ(a.epochs[e].result.train_loss, b.epochs[e].result.train_loss) << e;
        EXPECT_EQ(a.epochs[e].result.test_loss, b.epochs[e].result.test_loss) << e;
        EXPECT_EQ(a.epochs[e].hidden_ids, b.epochs[e].hidden_ids) << e;
        EXPECT_EQ(a.epochs[e].loss, b.epochs[e].loss) << e;
        EXPECT_EQ(a.epochs[e].confidence, b.epochs[e].confidence) << e;
        EXPECT_EQ(a.epochs[e].correct, b.epochs[e].correct) << e;
    }
}

TEST(Train, KakurenboHidesConfidentSamplesOfAnEasyProblem) {
    Recorder rec;
    run(hiding_config(4), rec);
    ASSERT_EQ(rec.epochs.size(), 4U);
    const EpochResult& first = rec.epochs[0].result;
    EXPECT_EQ(first.hidden, 0) << "epoch 1 has no statistics yet";
    EXPECT_EQ(first.lr_scale, 1.0) << "warm-up";
    for (std::size_t e = 1; e < 4; ++e) {
        const Recorded& r = rec.epochs[e];
        // The statistics lag by an epoch: epoch 2 plans with the losses measured during the
        // first (warm-up) epoch, before the model was confident; from epoch 3 on it hides.
        if (e >= 2) {
            EXPECT_GT(r.result.hidden, 0) << "epoch " << e + 1;
        }
        EXPECT_EQ(r.result.candidates, 307) << "floor(0.3 * 1024)";
        EXPECT_EQ(r.result.candidates, r.result.hidden + r.result.moved_back);
        EXPECT_EQ(r.result.visible + r.result.hidden, 1024);
        EXPECT_EQ(r.result.refreshed, r.result.hidden);
        EXPECT_EQ(static_cast<std::int64_t>(r.hidden_ids.size()), r.result.hidden);
        EXPECT_TRUE(std::is_sorted(r.hidden_ids.begin(), r.hidden_ids.end()));
        for (const std::int64_t id : r.hidden_ids) {
            // Hidden samples were correct and confident when chosen, and still are.
            EXPECT_EQ(r.correct[static_cast<std::size_t>(id)], 1);
        }
        EXPECT_DOUBLE_EQ(r.result.lr_scale, 1.0 / 0.7);
        EXPECT_DOUBLE_EQ(r.result.lr * r.result.lr_scale, 0.05 / 0.7)
            << "LR after warm-up, compensated";
        EXPECT_DOUBLE_EQ(r.result.lr, 0.05) << "the scheduled LR is recorded without the scale";
        EXPECT_DOUBLE_EQ(r.result.max_fraction, 0.3);
    }
}

TEST(Train, RefreshPassUpdatesHiddenSamplesWhenDue) {
    // refresh_every 1: the stats of every hidden sample are recomputed in its hidden epoch.
    Recorder every;
    run(hiding_config(4), every);
    for (std::size_t e = 2; e < 4; ++e) {
        const auto& before = every.epochs[e - 1];
        const auto& after = every.epochs[e];
        ASSERT_GT(after.hidden_ids.size(), 0U);
        EXPECT_EQ(after.result.refreshed, after.result.hidden);
        std::size_t changed = 0;
        for (const std::int64_t id : after.hidden_ids) {
            const auto i = static_cast<std::size_t>(id);
            changed += before.loss[i] != after.loss[i] ? 1 : 0;
        }
        EXPECT_GT(changed, after.hidden_ids.size() * 9 / 10) << "epoch " << e + 1;
    }

    // refresh_every 3 over 5 epochs: due at epochs 3 and 5 (1-based: every third, and the
    // last), skipped at epoch 4, where the hidden samples keep the stats of epoch 3 exactly.
    Config c = hiding_config(5);
    c.hiding.refresh_every = 3;
    Recorder sometimes;
    run(c, sometimes);
    ASSERT_EQ(sometimes.epochs.size(), 5U);
    EXPECT_EQ(sometimes.epochs[2].result.refreshed, sometimes.epochs[2].result.hidden);
    EXPECT_GT(sometimes.epochs[2].result.hidden, 0);
    const auto& skipped = sometimes.epochs[3];
    ASSERT_GT(skipped.result.hidden, 0);
    EXPECT_EQ(skipped.result.refreshed, 0);
    for (const std::int64_t id : skipped.hidden_ids) {
        const auto i = static_cast<std::size_t>(id);
        ASSERT_EQ(skipped.loss[i], sometimes.epochs[2].loss[i]);
        ASSERT_EQ(skipped.confidence[i], sometimes.epochs[2].confidence[i]);
        ASSERT_EQ(skipped.correct[i], sometimes.epochs[2].correct[i]);
    }
    EXPECT_EQ(sometimes.epochs[4].result.refreshed, sometimes.epochs[4].result.hidden);
}

TEST(Train, RefreshRunsInTrainModeWithBatchNormAsTheReferenceDoes) {
    // The reference refreshes in train mode, so BatchNorm's running statistics move during the
    // forward-only pass: that must work inside the trainer's no-grad refresh.
    Config c = hiding_config(3);
    c.model.kind = "resnet18";
    c.model.width = 4;
    c.data.synthetic_train = 512;
    c.data.synthetic_test = 128;
    c.stats.hidden_pass_train_mode = true;
    Recorder rec;
    const Summary s = run(c, rec);
    EXPECT_EQ(s.epochs_done, 3);
    EXPECT_GT(rec.epochs[2].result.refreshed, 0);
    EXPECT_GT(s.final_accuracy, 0.1) << "chance";
}

TEST(Train, ConfidenceCanBeTakenOverTheBatchAsTheReferenceDoes) {
    Config c = small_config();
    c.schedule.epochs = 1;
    Recorder by_class, by_batch;
    run(c, by_class);
    c.stats.confidence_over_batch = true;
    run(c, by_batch);
    const auto mean = [](const std::vector<float>& v) {
        double sum = 0;
        for (float x : v) {
            sum += x;
        }
        return sum / static_cast<double>(v.size());
    };
    // Max class probability is at least 1/10; a softmax over a batch of 64 spreads each class's
    // mass over the batch, so its maxima are far smaller on average.
    EXPECT_GE(*std::min_element(by_class.epochs[0].confidence.begin(),
                                by_class.epochs[0].confidence.end()),
              0.1F - 1e-6F);
    EXPECT_LT(mean(by_batch.epochs[0].confidence), mean(by_class.epochs[0].confidence));
    EXPECT_EQ(by_class.epochs[0].loss, by_batch.epochs[0].loss) << "only the confidence differs";
}

TEST(Train, StopsOnceTheTargetAccuracyIsReached) {
    Config c = small_config();
    c.schedule.epochs = 10;
    c.target_accuracy = 0.5;
    Recorder rec;
    const Summary s = run(c, rec);
    EXPECT_TRUE(s.target_reached);
    EXPECT_LT(s.epochs_done, 10);
    EXPECT_EQ(rec.epochs.size(), static_cast<std::size_t>(s.epochs_done));
    EXPECT_GE(s.final_accuracy, 0.5);
}

TEST(Train, TheStopFlagInterruptsWithoutAPartialEpoch) {
    Recorder rec;
    rec.stop_at_train_of_epoch = 2;
    const Summary s = run(small_config(), rec, &rec.stop_flag);
    EXPECT_TRUE(s.interrupted);
    EXPECT_EQ(s.epochs_done, 1);
    EXPECT_EQ(rec.epochs.size(), 1U);

    Recorder early;
    std::atomic<bool> stop{true};
    const Summary none = run(small_config(), early, &stop);
    EXPECT_TRUE(none.interrupted);
    EXPECT_EQ(none.epochs_done, 0);
    EXPECT_TRUE(early.epochs.empty());
}

TEST(Train, ErrorsNameTheCause) {
    Config c = small_config();
    c.model.kind = "resnet18";
    c.data.synthetic_size = 4;
    Recorder rec;
    try {
        run(c, rec);
        FAIL() << "expected RuntimeFailure";
    } catch (const RuntimeFailure& e) {
        EXPECT_STREQ(e.what(), "model resnet18 needs images of at least 8x8 (it halves them "
                               "three times); the data has 4x4");
    }
    c = small_config();
    c.data.dataset = "idx";
    c.data.train_images = c.data.train_labels = c.data.test_images = c.data.test_labels =
        "/nonexistent/train-images";
    EXPECT_THROW(run(c, rec), RuntimeFailure);
}

// ---- MLPerf log ----

struct Record {
    std::string key, event_type, value, file;
    int epoch_num = -1;
    std::string status;
};

std::vector<Record> read_log(const fs::path& path) {
    std::vector<Record> out;
    std::ifstream in(path);
    std::string line;
    const std::regex key(R"re("key": "([a-z_]+)")re");
    const std::regex type(R"re("event_type": "([A-Z_]+)")re");
    const std::regex epoch(R"re("epoch_num": (-?\d+))re");
    const std::regex status(R"re("status": "([a-z]+)")re");
    const std::regex file(R"re("file": "([^"]+)")re");
    while (std::getline(in, line)) {
        EXPECT_EQ(line.rfind(":::MLLOG {", 0), 0U) << line;
        Record r;
        std::smatch m;
        if (std::regex_search(line, m, key)) {
            r.key = m[1];
        }
        if (std::regex_search(line, m, type)) {
            r.event_type = m[1];
        }
        if (std::regex_search(line, m, epoch)) {
            r.epoch_num = std::stoi(m[1]);
        }
        if (std::regex_search(line, m, status)) {
            r.status = m[1];
        }
        if (std::regex_search(line, m, file)) {
            r.file = m[1];
        }
        const std::string value_tag = "\"value\": ";
        const auto v = line.find(value_tag);
        const auto meta = line.find(", \"metadata\": ");
        if (v != std::string::npos && meta != std::string::npos) {
            r.value = line.substr(v + value_tag.size(), meta - v - value_tag.size());
        }
        out.push_back(r);
    }
    return out;
}

/// The keys of the records before the first epoch, in order.
std::vector<std::string> mllog_header_keys() {
    return {"cache_clear",
            "init_start",
            "submission_benchmark",
            "submission_org",
            "submission_division",
            "submission_status",
            "submission_platform",
            "seed",
            "kakuren_torch_version",
            "kakuren_device",
            "kakuren_cpu_capability",
            "kakuren_precision",
            "kakuren_memory_format",
            "kakuren_deterministic",
            "number_of_ranks",
            "number_of_nodes",
            "accelerators_per_node",
            "global_batch_size",
            "gradient_accumulation_steps",
            "opt_name",
            "opt_base_learning_rate",
            "opt_learning_rate_warmup_epochs",
            "opt_learning_rate_warmup_factor",
            "opt_learning_rate_decay_boundary_epochs",
            "opt_learning_rate_decay_factor",
            "opt_weight_decay",
            "opt_momentum",
            "hiding_strategy",
            "hiding_fraction",
            "hiding_tau",
            "hiding_lr_compensation",
            "hiding_refresh_every",
            "train_samples",
            "eval_samples",
            "init_stop",
            "run_start"};
}

/// The keys of each epoch's records, in order.
std::vector<std::string> mllog_epoch_keys() {
    return {"epoch_start",   "hidden_samples", "moved_back_samples", "realised_hidden_fraction",
            "learning_rate", "lr_scale",       "train_loss",         "eval_start",
            "eval_accuracy", "eval_error",     "eval_stop",          "epoch_stop"};
}

/// Checks each record's file, epoch and event type; returns the values of the records outside
/// the epochs by key.
std::map<std::string, std::string> record_values(const std::vector<Record>& records,
                                                 std::size_t header_size, std::size_t epoch_size) {
    std::map<std::string, std::string> values;
    for (std::size_t i = 0; i < records.size(); ++i) {
        const Record& r = records[i];
        EXPECT_TRUE(r.file.starts_with("trainer/") && r.file.ends_with(".cpp"))
            << r.key << " " << r.file;
        const bool is_epoch = i >= header_size && i + 1 < records.size();
        if (is_epoch) {
            const int epoch = static_cast<int>((i - header_size) / epoch_size) + 1;
            EXPECT_EQ(r.epoch_num, epoch) << r.key;
        } else if (r.key != "run_stop") {
            EXPECT_EQ(r.epoch_num, -1) << r.key;
        }
        const std::string expected_type = r.key.ends_with("_start")  ? "INTERVAL_START"
                                          : r.key.ends_with("_stop") ? "INTERVAL_END"
                                                                     : "POINT_IN_TIME";
        EXPECT_EQ(r.event_type, expected_type) << r.key;
        if (!is_epoch) {
            values[r.key] = r.value;
        }
    }
    return values;
}

/// Checks the values of the header records of hiding_config(2)'s run.
void expect_header_values(std::map<std::string, std::string> values) {
    EXPECT_EQ(values["cache_clear"], "true");
    EXPECT_EQ(values["init_start"], "null");
    EXPECT_EQ(values["submission_benchmark"], "\"synthetic_mlp\"");
    EXPECT_EQ(values["submission_org"], "\"kakuren\"");
    EXPECT_EQ(values["submission_division"], "\"open\"");
    EXPECT_EQ(values["submission_status"], "\"research\"");
    EXPECT_EQ(values["submission_platform"], "\"1xCPU-1c\"");
    EXPECT_EQ(values["seed"], "7");
    EXPECT_EQ(values["number_of_ranks"], "1");
    EXPECT_EQ(values["number_of_nodes"], "1");
    EXPECT_EQ(values["accelerators_per_node"], "0");
    EXPECT_EQ(values["global_batch_size"], "64");
    EXPECT_EQ(values["gradient_accumulation_steps"], "1");
    EXPECT_EQ(values["opt_name"], "\"sgd\"");
    EXPECT_EQ(values["opt_base_learning_rate"], "0.05");
    EXPECT_EQ(values["opt_learning_rate_warmup_epochs"], "1");
    EXPECT_EQ(values["opt_learning_rate_warmup_factor"], "0.0625") << "1 / 16 warm-up steps";
    EXPECT_EQ(values["opt_learning_rate_decay_boundary_epochs"], "[]");
    EXPECT_EQ(values["opt_learning_rate_decay_factor"], "1.0");
    EXPECT_EQ(values["hiding_strategy"], "\"kakurenbo\"");
    EXPECT_EQ(values["hiding_fraction"], "0.3");
    EXPECT_EQ(values["hiding_tau"], "0.7");
    EXPECT_EQ(values["hiding_lr_compensation"], "\"scheduled\"");
    EXPECT_EQ(values["hiding_refresh_every"], "1");
    EXPECT_EQ(values["train_samples"], "1024");
    EXPECT_EQ(values["eval_samples"], "512");
}

/// A run that reaches its target ends with status success (and logs its milestones).
void expect_target_run_succeeds(const fs::path& path) {
    Config c = small_config();
    c.schedule.epochs = 10;
    c.target_accuracy = 0.5;
    c.schedule.milestones = {5, 8};
    util::MlLog log(path);
    Recorder rec;
    const Summary s = train(c, rec, log);
    ASSERT_TRUE(s.target_reached);
    const auto success = read_log(path);
    EXPECT_EQ(success.back().key, "run_stop");
    EXPECT_EQ(success.back().status, "success");
    EXPECT_EQ(success.back().epoch_num, s.epochs_done);
    for (const Record& r : success) {
        if (r.key == "opt_learning_rate_decay_boundary_epochs") {
            EXPECT_EQ(r.value, "[5, 8]");
        }
        if (r.key == "opt_learning_rate_decay_factor") {
            EXPECT_EQ(r.value, "0.1");
        }
    }
}

/// A run stopped during epoch 2's training ends with status aborted, without epoch 2's
/// evaluation.
void expect_interrupted_run_aborts(const fs::path& path) {
    util::MlLog log(path);
    Recorder rec;
    rec.stop_at_train_of_epoch = 2;
    train(small_config(), rec, log, &rec.stop_flag);
    const auto interrupted = read_log(path);
    EXPECT_EQ(interrupted.back().key, "run_stop");
    EXPECT_EQ(interrupted.back().status, "aborted");
    EXPECT_EQ(interrupted.back().epoch_num, 2);
    // The stop came during epoch 2's training: no evaluation or epoch_stop of epoch 2.
    for (const Record& r : interrupted) {
        if (r.epoch_num == 2) {
            EXPECT_TRUE(r.key != "eval_start" && r.key != "epoch_stop") << r.key;
        }
    }
}

TEST(Train, WritesEveryMlperfRecordInOrder) {
    const fs::path dir = fs::temp_directory_path() / ("kakuren-mllog-" + std::to_string(getpid()));
    fs::remove_all(dir);
    const fs::path path = dir / "mllog.txt";
    Config c = hiding_config(2);
    c.benchmark_name = "synthetic_mlp";
    {
        util::MlLog log(path);
        Recorder rec;
        train(c, rec, log);
    }
    const std::vector<Record> records = read_log(path);
    const std::vector<std::string> header = mllog_header_keys();
    const std::vector<std::string> per_epoch = mllog_epoch_keys();
    std::vector<std::string> expected = header;
    for (int e = 0; e < 2; ++e) {
        expected.insert(expected.end(), per_epoch.begin(), per_epoch.end());
    }
    expected.emplace_back("run_stop");
    std::vector<std::string> keys;
    for (const Record& r : records) {
        keys.push_back(r.key);
    }
    ASSERT_EQ(keys, expected);

    expect_header_values(record_values(records, header.size(), per_epoch.size()));
    const Record& stop = records.back();
    EXPECT_EQ(stop.status, "aborted") << "no target set";
    EXPECT_EQ(stop.epoch_num, 2);

    // A run that reaches its target ends with status success; an interrupted one with aborted.
    fs::remove(path);
    ASSERT_NO_FATAL_FAILURE(expect_target_run_succeeds(path));
    fs::remove(path);
    expect_interrupted_run_aborts(path);
    fs::remove_all(dir);
}

} // namespace
} // namespace kakuren::trainer

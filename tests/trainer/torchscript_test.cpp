// [model] kind = "torchscript": modules exported by the real PyTorch (tests/trainer/torchscript/
// make_modules.py, run here) train like the built-in networks, exactly resume, and every module
// that cannot be trained is refused with a message that says why.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/errors.hpp"
#include "trainer/trainer.hpp"
#include "util/error.hpp"
#include "util/mllog.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;

const fs::path k_fashion = "/usr/share/datasets/fashion-mnist";

/// The modules, written once per process into a temporary folder.
const fs::path& modules() {
    static const fs::path dir = [] {
        std::string pattern = (fs::temp_directory_path() / "kakuren-ts-XXXXXX").string();
        const fs::path out = ::mkdtemp(pattern.data());
        const std::string command = std::string(KAKUREN_TORCH_PYTHON " ") + KAKUREN_SOURCE_DIR +
                                    "/tests/trainer/torchscript/make_modules.py " + out.string();
        EXPECT_EQ(std::system(command.c_str()), 0) << command;
        return out;
    }();
    return dir;
}

Config fashion_config(const std::string& kind, const std::string& module = "") {
    Config c;
    c.data.dataset = "fashion-mnist";
    c.data.train_images = k_fashion / "train-images-idx3-ubyte.gz";
    c.data.train_labels = k_fashion / "train-labels-idx1-ubyte.gz";
    c.data.test_images = k_fashion / "t10k-images-idx3-ubyte.gz";
    c.data.test_labels = k_fashion / "t10k-labels-idx1-ubyte.gz";
    c.data.train_limit = 2048;
    c.data.test_limit = 512;
    c.model.kind = kind;
    if (!module.empty()) {
        c.model.path = modules() / module;
    }
    c.schedule.epochs = 2;
    c.schedule.warmup_epochs = 0;
    c.schedule.milestones = {};
    c.hiding.strategy = "none";
    c.threads = 1;
    c.seed = 1; // make_modules.py's seed: cnn.pt starts from the built-in cnn's weights
    return c;
}

struct Record : Observer {
    void on_epoch(const EpochResult& r) override {
        train_loss.push_back(r.train_loss);
        test_accuracy.push_back(r.test_accuracy);
        hidden.push_back(r.hidden);
    }
    void on_checkpoint(const checkpoint::Snapshot& s) override {
        last = checkpoint::Resume{};
        last->name = s.loop.position.name();
        last->loop = s.loop;
        for (const checkpoint::File& f : s.files) {
            last->files[f.name] = f.bytes;
        }
        last->stats.assign(s.stats);
        last->hidden_ids.assign(s.hidden_ids.begin(), s.hidden_ids.end());
        if (stop_at_step > 0 && !s.loop.position.epoch_end && s.loop.position.epoch == 2 &&
            s.loop.position.step == stop_at_step) {
            stop.store(true);
        }
    }
    std::vector<double> train_loss, test_accuracy;
    std::vector<std::int64_t> hidden;
    std::optional<checkpoint::Resume> last;
    std::int64_t stop_at_step = 0;
    std::atomic<bool> stop{false};
};

Summary train_with(const Config& c, Record& record, const checkpoint::Resume* resume = nullptr) {
    util::MlLog none;
    return train(c, record, none, &record.stop, resume);
}

using kakuren::testing::error_of;

TEST(TorchScript, TheSameCnnExportedFromPythonTrainsToTheSameCurve) {
    Record builtin, scripted, traced;
    const Summary a = train_with(fashion_config("cnn"), builtin);
    const Summary b = train_with(fashion_config("torchscript", "cnn.pt"), scripted);
    const Summary c = train_with(fashion_config("torchscript", "cnn_traced.pt"), traced);
    // Same initial weights, same kernels for forward and backward: the training is the same to
    // the last bit (weights digest and every epoch's train loss).
    EXPECT_EQ(a.model_digest, b.model_digest);
    EXPECT_EQ(a.model_digest, c.model_digest);
    EXPECT_EQ(builtin.train_loss, scripted.train_loss);
    EXPECT_EQ(builtin.train_loss, traced.train_loss);
    // Evaluation of the built-in cnn runs on oneDNN's inference convolutions, the module's on
    // the generic ones: the logits differ in the last bits, so a near-tie may tip (1 of 512).
    ASSERT_EQ(builtin.test_accuracy.size(), scripted.test_accuracy.size());
    for (std::size_t e = 0; e < builtin.test_accuracy.size(); ++e) {
        EXPECT_NEAR(builtin.test_accuracy[e], scripted.test_accuracy[e], 2.0 / 512);
    }
    EXPECT_GT(scripted.test_accuracy.back(), 0.6);
}

/// A module trains with kakurenbo, is stopped at step 5 and resumed: bit-identical to the whole
/// run.
void expect_exact_resume(const std::string& module) {
    SCOPED_TRACE(module);
    Config c = fashion_config("torchscript", module);
    c.schedule.epochs = 3;
    c.hiding.strategy = "kakurenbo";
    c.hiding.fraction = 0.3;
    c.hiding.tau = 0.3;
    checkpoint::Config k;
    k.every_steps = 1;
    c.checkpoint = k;

    Record whole;
    const Summary full = train_with(c, whole);
    ASSERT_EQ(full.epochs_done, 3);
    EXPECT_GT(whole.hidden.back(), 0) << "kakurenbo hides samples of the module's easy ones";

    Record first;
    first.stop_at_step = 5;
    const Summary stopped = train_with(c, first);
    ASSERT_TRUE(stopped.interrupted);
    ASSERT_TRUE(first.last.has_value());
    const checkpoint::Resume from = *first.last;
    Record second;
    const Summary resumed = train_with(c, second, &from);
    EXPECT_FALSE(resumed.interrupted);
    // Weights, batch-norm buffers, optimizer state, dropout's generator: all carried over.
    EXPECT_EQ(resumed.model_digest, full.model_digest);
    ASSERT_TRUE(second.last && whole.last);
    EXPECT_TRUE(second.last->files == whole.last->files) << "checkpoint files differ";
    EXPECT_TRUE(std::ranges::equal(second.last->stats.loss(), whole.last->stats.loss()));
    EXPECT_EQ(second.last->hidden_ids, whole.last->hidden_ids);
    EXPECT_EQ(second.train_loss.back(), whole.train_loss.back());
}

// A scripted module (batch norm, dropout) and a traced one, each exported by the PyTorch of the
// LibTorch kakuren is built against (1.13 or 2.x: KAKUREN_TORCH_PYTHON).
TEST(TorchScript, ABatchNormResNetWithHidingStopsAndResumesBitIdentical) {
    expect_exact_resume("resnet.pt");
}

TEST(TorchScript, ATracedCnnWithHidingStopsAndResumesBitIdentical) {
    expect_exact_resume("cnn_traced.pt");
}

TEST(TorchScript, ModulesThatCannotBeTrainedAreRefusedClearly) {
    const auto check = [](const std::string& module) {
        return error_of([&] { check_model(fashion_config("torchscript", module)); });
    };
    const std::string dir = modules().string() + "/";
    EXPECT_EQ(check("no_forward.pt"),
              "model.path " + dir + "no_forward.pt: the module has no forward method");
    EXPECT_EQ(check("two_inputs.pt"),
              "model.path " + dir +
                  "two_inputs.pt: forward takes 2 inputs (x, y); kakuren calls it with one "
                  "tensor, the batch [B, C, H, W]");
    EXPECT_EQ(check("frozen.pt"),
              "model.path " + dir + "frozen.pt: the module has no trainable parameters");
    EXPECT_EQ(check("segment.pt"),
              "model.path " + dir +
                  "segment.pt: for a batch [2, 1, 28, 28] the module returns [2, 10, 28, 28]; "
                  "classification expects [2, 10] (batch, classes)");
    EXPECT_EQ(check("regress.pt"),
              "model.path " + dir +
                  "regress.pt: for a batch [2, 1, 28, 28] the module returns [2, 4]; "
                  "classification expects [2, 10] (batch, classes)");
    for (const std::string bad : {"newer.pt", "not_a_module.pt"}) {
        const std::string error = check(bad);
        EXPECT_EQ(error.rfind("model.path " + dir + bad +
                                  ": not a TorchScript archive that LibTorch " KAKUREN_TORCH_VERSION
                                  " can read (",
                              0),
                  0U)
            << error;
    }
    EXPECT_NE(check("newer.pt").find("version"), std::string::npos) << check("newer.pt");
    Config shaped = fashion_config("torchscript", "cnn.pt");
    shaped.model.inputs = {3, 32, 32};
    EXPECT_EQ(error_of([&] { check_model(shaped); }),
              "model.path " + dir +
                  "cnn.pt: model.inputs = [3, 32, 32] but the data's samples are "
                  "[1, 28, 28]");
    EXPECT_EQ(check("cnn.pt"), "(no error)");
}

} // namespace
} // namespace kakuren::trainer

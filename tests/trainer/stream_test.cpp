// The streaming sources (data.dataset npy, hdf5 and images) on Fashion-MNIST's first samples,
// written by the real numpy, h5py and Pillow (run as /usr/bin/python3 inside the test): the same
// training as the IDX files, bit for bit; only the trained and refreshed samples read; a sample
// file that goes missing mid-epoch is named and the run resumes exactly; augmentation drawn from
// (seed, epoch, sample). The other sources: stream_sources_test.cpp; bad files:
// stream_bad_data_test.cpp.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "stream_support.hpp"
#include "support/temp_dir.hpp"
#include "trainer/source.hpp"
#include "trainer/stream.hpp"
#include "trainer/trainer.hpp"
#include "util/error.hpp"
#include "util/mllog.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;
using kakuren::testing::TempDir;
using stream_support::error_of;
using stream_support::python;

const fs::path k_fashion = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's first n_train / n_test samples as IDX limits, npy arrays, per-sample npy
/// files and one HDF5 file per split (uint8 [N, 1, 28, 28] images, uint8 labels).
const std::string k_convert = R"py(
def idx(name, offset):
    with gzip.open('/usr/share/datasets/fashion-mnist/' + name, 'rb') as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)
splits = {'train': ('train', int(sys.argv[1]) if len(sys.argv) > 1 else N_TRAIN),
          'test': ('t10k', N_TEST)}
for split, (stem, n) in splits.items():
    x = idx(stem + '-images-idx3-ubyte.gz', 16).reshape(-1, 1, 28, 28)[:n]
    y = idx(stem + '-labels-idx1-ubyte.gz', 8)[:n]
    os.makedirs('npy/' + split)
    np.save('npy/%s/data.npy' % split, x)
    np.save('npy/%s/targets.npy' % split, y)
    os.makedirs('files/%s/samples' % split)
    for i in range(n):
        np.save('files/%s/samples/x%05d.npy' % (split, i), x[i])
        np.save('files/%s/samples/y%05d.npy' % (split, i), y[i])
    with open('files/%s/files_data.lst' % split, 'w') as f:
        f.writelines('samples/x%05d.npy\n' % i for i in range(n))
    with open('files/%s/files_label.lst' % split, 'w') as f:
        f.writelines('samples/y%05d.npy\n' % i for i in range(n))
    with h5py.File('%s.h5' % split, 'w') as f:
        f['images'] = x
        f['labels'] = y
)py";

/// The same samples as grey PNG files written by Pillow, one folder per class ("0" .. "9"), and
/// files.lst in the IDX file's order (without it the order is ImageFolder's, class by class).
const std::string k_convert_png = R"py(
from PIL import Image
for split, (stem, n) in splits.items():
    x = idx(stem + '-images-idx3-ubyte.gz', 16).reshape(-1, 28, 28)[:n]
    y = idx(stem + '-labels-idx1-ubyte.gz', 8)[:n]
    names = []
    for c in range(10):
        os.makedirs('images/%s/%d' % (split, c))
    for i in range(n):
        names.append('%d/%05d.png' % (y[i], i))
        Image.fromarray(x[i], mode='L').save('images/%s/%s' % (split, names[-1]))
    with open('images/%s/files.lst' % split, 'w') as f:
        f.writelines(name + '\n' for name in names)
)py";

constexpr int k_train = 1500, k_test = 500;

Config base_config() {
    Config c;
    c.data.batch_size = 100;
    c.data.eval_batch_size = 200;
    c.model.kind = "cnn";
    c.model.channels = {4, 8};
    c.model.fc = 16;
    c.schedule.epochs = 3;
    c.schedule.warmup_epochs = 1;
    c.schedule.milestones = {};
    c.hiding.strategy = "kakurenbo";
    c.hiding.fraction = 0.3;
    c.threads = 1;
    c.seed = 11;
    return c;
}

struct Outcome {
    Summary summary;
    std::vector<EpochResult> epochs;
};

class Keep : public Observer {
  public:
    void on_epoch(const EpochResult& r) override {
        EpochResult copy = r;
        copy.hidden_ids = {};
        copy.stats = {};
        epochs.push_back(copy);
    }
    std::vector<EpochResult> epochs;
};

Outcome train_with(const Config& config) {
    Keep keep;
    util::MlLog mllog;
    Outcome out;
    out.summary = train(config, keep, mllog);
    out.epochs = keep.epochs;
    return out;
}

class FashionFormats : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        s_dir = new TempDir("kakuren-stream");
        python(s_dir->path(), "N_TRAIN = " + std::to_string(k_train) + "\nN_TEST = " +
                                  std::to_string(k_test) + "\n" + k_convert + k_convert_png);
    }
    static void TearDownTestSuite() {
        delete s_dir;
        s_dir = nullptr;
    }
    static Config idx_config() {
        Config c = base_config();
        c.data.dataset = "fashion-mnist";
        c.data.train_images = (k_fashion / "train-images-idx3-ubyte.gz").string();
        c.data.train_labels = (k_fashion / "train-labels-idx1-ubyte.gz").string();
        c.data.test_images = (k_fashion / "t10k-images-idx3-ubyte.gz").string();
        c.data.test_labels = (k_fashion / "t10k-labels-idx1-ubyte.gz").string();
        c.data.train_limit = k_train;
        c.data.test_limit = k_test;
        return c;
    }
    static Config stream_config(const std::string& format, const std::string& train_path,
                                const std::string& test_path) {
        Config c = base_config();
        c.data.dataset = format;
        c.data.train_path = (s_dir->path() / train_path).string();
        c.data.test_path = (s_dir->path() / test_path).string();
        c.data.data_key = "images";
        c.data.target_key = "labels";
        return c;
    }
    static TempDir* s_dir;
};
TempDir* FashionFormats::s_dir = nullptr;

void expect_same_run(const Outcome& a, const Outcome& b) {
    EXPECT_EQ(a.summary.model_digest, b.summary.model_digest);
    ASSERT_EQ(a.epochs.size(), b.epochs.size());
    for (std::size_t e = 0; e < a.epochs.size(); ++e) {
        EXPECT_EQ(a.epochs[e].train_loss, b.epochs[e].train_loss) << "epoch " << e + 1;
        EXPECT_EQ(a.epochs[e].test_loss, b.epochs[e].test_loss) << "epoch " << e + 1;
        EXPECT_EQ(a.epochs[e].hidden, b.epochs[e].hidden) << "epoch " << e + 1;
    }
}

TEST_F(FashionFormats, EveryFormatTrainsBitIdenticalToIdx) {
    const Outcome idx = train_with(idx_config());
    ASSERT_EQ(idx.epochs.size(), 3U);
    EXPECT_FALSE(idx.epochs[0].bytes_read.has_value()); // held in memory
    EXPECT_GT(idx.epochs[2].hidden, 0);                 // hiding is on: fewer samples read

    Config npy = stream_config("npy", "npy/train", "npy/test");
    npy.data.reader_threads = 0; // read when the step asks
    Config files = stream_config("npy", "files/train", "files/test");
    files.data.reader_threads = 3;
    files.data.prefetch_batches = 2;
    Config h5 = stream_config("hdf5", "train.h5", "test.h5");
    h5.data.reader_threads = 2;
    Config png = stream_config("images", "images/train", "images/test");
    png.data.reader_threads = 2;
    for (const Config* c : {&npy, &files, &h5, &png}) {
        SCOPED_TRACE(c->data.dataset + " " + c->data.train_path);
        const Outcome run = train_with(*c);
        expect_same_run(idx, run);
        for (const EpochResult& e : run.epochs) {
            // Only the trained and the refreshed samples are read: 784 pixel bytes + 1 label.
            ASSERT_TRUE(e.bytes_read.has_value());
            const std::int64_t payload = (e.visible + e.refreshed) * (784 + 1);
            if (c == &png) {
                // The PNG files' bytes: more than nothing, less than the raw pixels.
                EXPECT_GT(*e.bytes_read, (e.visible + e.refreshed) * 100);
                EXPECT_LT(*e.bytes_read, payload);
            } else if (c == &files) {
                // Per-sample files: the .npy headers are read too (128 bytes each).
                EXPECT_EQ(*e.bytes_read, payload + (e.visible + e.refreshed) * 2 * 128);
            } else {
                EXPECT_EQ(*e.bytes_read, payload);
            }
        }
    }
}

TEST_F(FashionFormats, SourcesReportShapesAndClasses) {
    const Sources s = open_sources(stream_config("hdf5", "train.h5", "test.h5").data);
    EXPECT_EQ(s.train->size(), k_train);
    EXPECT_EQ(s.test->size(), k_test);
    EXPECT_EQ(s.info.num_classes, 10);
    EXPECT_EQ(s.info.sample_shape, (std::vector<std::int64_t>{1, 28, 28}));
    EXPECT_TRUE(s.info.target_shape.empty());
    BatchBuffer buffer;
    const Batch b = s.train->read(torch::tensor({5, 0, 5}, torch::kInt64), buffer);
    EXPECT_EQ(b.inputs.sizes(), (std::vector<std::int64_t>{3, 1, 28, 28}));
    EXPECT_EQ(b.targets.scalar_type(), torch::kInt64);
    EXPECT_TRUE(torch::equal(b.inputs[0], b.inputs[2]));
    EXPECT_EQ(s.train->bytes_read(), 3U * 785U);
}

TEST_F(FashionFormats, ImagesDecodeToTheIdxPixelsAndCountTheFileBytes) {
    const Sources png = open_sources(stream_config("images", "images/train", "images/test").data);
    const Sources h5 = open_sources(stream_config("hdf5", "train.h5", "test.h5").data);
    EXPECT_EQ(png.train->size(), k_train);
    EXPECT_EQ(png.test->size(), k_test);
    EXPECT_EQ(png.info.num_classes, 10);
    EXPECT_EQ(png.info.sample_shape, (std::vector<std::int64_t>{1, 28, 28}));
    EXPECT_TRUE(png.info.target_shape.empty());
    EXPECT_EQ(png.info.mean, h5.info.mean); // the same statistics, bit for bit
    EXPECT_EQ(png.info.std, h5.info.std);
    BatchBuffer buffer;
    const torch::Tensor ids = torch::tensor({5, 0, 5, 1499}, torch::kInt64);
    const Batch a = png.train->read(ids, buffer);
    const Batch b = h5.train->read(ids, buffer);
    EXPECT_TRUE(torch::equal(a.inputs, b.inputs));
    EXPECT_TRUE(torch::equal(a.targets, b.targets));
    const auto size_of = [&](int i, int label) {
        return fs::file_size(s_dir->path() / "images/train" / std::to_string(label) /
                             (std::string(i < 10 ? "0000" : "0") + std::to_string(i) + ".png"));
    };
    const auto label = [&](int k) { return static_cast<int>(a.targets[k].item<std::int64_t>()); };
    EXPECT_EQ(png.train->bytes_read(),
              2 * size_of(5, label(0)) + size_of(0, label(1)) + size_of(1499, label(3)));
}

TEST_F(FashionFormats, MissingSampleFileMidEpochNamesFileAndSample) {
    Config c = stream_config("npy", "files/train", "files/test");
    const fs::path gone = s_dir->path() / "files/train/samples/x00777.npy";
    const fs::path kept = s_dir->path() / "kept.npy";
    fs::rename(gone, kept);
    const std::string err = error_of([&] { train_with(c); });
    fs::rename(kept, gone);
    EXPECT_NE(err.find(gone.string()), std::string::npos) << err;
    EXPECT_NE(err.find("sample 777"), std::string::npos) << err;
}

/// Keeps every checkpoint as the manager would load it back; runs a hook after each epoch.
class Checkpoints : public Observer {
  public:
    void on_epoch(const EpochResult& r) override {
        if (after_epoch) {
            after_epoch(r.epoch);
        }
    }
    void on_checkpoint(const checkpoint::Snapshot& s) override {
        checkpoint::Resume r;
        r.name = s.loop.position.name();
        r.loop = s.loop;
        r.test_accuracy = s.test_accuracy;
        for (const checkpoint::File& f : s.files) {
            r.files[f.name] = f.bytes;
        }
        r.stats.assign(s.stats);
        r.hidden_ids.assign(s.hidden_ids.begin(), s.hidden_ids.end());
        saved.push_back(std::move(r));
    }
    std::function<void(int)> after_epoch;
    std::vector<checkpoint::Resume> saved;
};

TEST_F(FashionFormats, UnreadableFileMidEpochStopsResumablyAndResumeIsExact) {
    Config c = stream_config("npy", "files/train", "files/test");
    c.data.reader_threads = 2;
    c.checkpoint = checkpoint::Config{1, 1}; // every epoch and every batch
    const Outcome reference = train_with(c);

    // The file of sample 333 disappears after epoch 1: epoch 2 fails when it reaches it.
    const fs::path file = s_dir->path() / "files/train/samples/x00333.npy";
    const fs::path aside = s_dir->path() / "aside.npy";
    Checkpoints broken;
    broken.after_epoch = [&](int epoch) {
        if (epoch == 1) {
            fs::rename(file, aside);
        }
    };
    util::MlLog none;
    const std::string err = error_of([&] { train(c, broken, none); });
    fs::rename(aside, file);
    EXPECT_NE(err.find(file.string() + " (sample 333)"), std::string::npos) << err;
    ASSERT_FALSE(broken.saved.empty());
    const checkpoint::Resume& last = broken.saved.back();
    EXPECT_EQ(last.loop.position.epoch, 2) << "stopped inside epoch 2: " << last.name;
    EXPECT_FALSE(last.loop.position.epoch_end) << last.name;

    // Resumed from the last checkpoint once the file is back: the same run to the bit.
    Checkpoints resumed;
    const Summary s = train(c, resumed, none, nullptr, &last);
    EXPECT_EQ(s.model_digest, reference.summary.model_digest);
}

TEST_F(FashionFormats, ImagesAugmentationResumesExactly) {
    Config c = stream_config("images", "images/train", "images/test");
    c.data.reader_threads = 2;
    c.data.random_crop = 2;
    c.data.hflip = true;
    c.data.augment_seed = 11;
    c.checkpoint = checkpoint::Config{1, 1}; // every epoch and every batch
    Checkpoints all;
    util::MlLog none;
    const Summary reference = train(c, all, none);
    Config plain = c;
    plain.data.random_crop = 0;
    plain.data.hflip = false;
    Checkpoints ignored;
    EXPECT_NE(train(plain, ignored, none).model_digest, reference.model_digest)
        << "the augmentation changes the training";
    // A checkpoint inside epoch 2, resumed: the same run to the bit (the draws depend on the
    // epoch and the sample only).
    const auto mid = std::find_if(all.saved.begin(), all.saved.end(), [](const auto& r) {
        return r.loop.position.epoch == 2 && !r.loop.position.epoch_end && r.loop.position.step > 3;
    });
    ASSERT_NE(mid, all.saved.end());
    Checkpoints resumed;
    EXPECT_EQ(train(c, resumed, none, nullptr, &*mid).model_digest, reference.model_digest);
}

TEST_F(FashionFormats, AugmentationIsDrawnFromSeedEpochAndSample) {
    Config c = stream_config("images", "images/train", "images/test");
    c.data.normalize = false;
    const Sources plain = open_sources(c.data);
    c.data.random_crop = 3;
    c.data.hflip = true;
    c.data.augment_seed = 5;
    const Sources augmented = open_sources(c.data);
    const torch::Tensor ids = torch::arange(0, 64, torch::kInt64);
    BatchBuffer buffer;
    const torch::Tensor x = plain.train->read(ids, buffer).inputs;
    const torch::Tensor a1 = augmented.train->read_for_training(ids, buffer, 1).inputs;
    const torch::Tensor again = augmented.train->read_for_training(ids, buffer, 1).inputs;
    const torch::Tensor a2 = augmented.train->read_for_training(ids, buffer, 2).inputs;
    EXPECT_TRUE(torch::equal(a1, again)) << "the same (seed, epoch, id): the same pixels";
    EXPECT_FALSE(torch::equal(a1, a2)) << "another epoch draws again";
    // Evaluation and refresh reads are never augmented.
    EXPECT_TRUE(torch::equal(augmented.train->read(ids, buffer).inputs, x));
    EXPECT_TRUE(torch::equal(augmented.test->read_for_training(ids, buffer, 1).inputs,
                             plain.test->read(ids, buffer).inputs));
    // Each sample is torchvision's RandomCrop(28, padding=3) then the flip, with the draws.
    Augmentation aug;
    aug.pad = 3;
    aug.hflip = true;
    aug.seed = 5;
    int flips = 0;
    for (std::int64_t i = 0; i < 64; ++i) {
        const AugmentDraw d = augment_draw(aug, 1, i);
        flips += d.flip ? 1 : 0;
        torch::Tensor want =
            torch::constant_pad_nd(x[i], {3, 3, 3, 3}, 0.0).narrow(1, d.dy, 28).narrow(2, d.dx, 28);
        if (d.flip) {
            want = want.flip({2});
        }
        EXPECT_TRUE(torch::equal(a1[i], want)) << "sample " << i;
    }
    EXPECT_GT(flips, 16); // about half of 64
    EXPECT_LT(flips, 48);
}

} // namespace
} // namespace kakuren::trainer

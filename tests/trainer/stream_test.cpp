// The streaming sources (data.dataset npy and hdf5) against files written by the real numpy
// and h5py (run as /usr/bin/python3 inside each test): the same training as the IDX files, bit
// for bit; only the trained and refreshed samples read; the DeepCAM layout and log1p decoded as
// the references do; bad files rejected with the file and the sample named.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/process.hpp"
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

const fs::path k_fashion = "/usr/share/datasets/fashion-mnist";

/// Runs a Python script with numpy / h5py in `dir` (the script's working folder).
void python(const fs::path& dir, const std::string& script) {
    {
        std::ofstream out(dir / "make.py");
        out << "import numpy as np\nimport h5py, gzip, os, sys\n" << script;
    }
    const auto r = kakuren::testing::run(
        {{KAKUREN_PYTHON_WITH_NUMPY, (dir / "make.py").string()}, {}, dir}, dir);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
}

template <class F> std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

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
        copy.loss = {};
        copy.confidence = {};
        copy.correct = {};
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
        r.loss.assign(s.loss.begin(), s.loss.end());
        r.correct.assign(s.correct.begin(), s.correct.end());
        r.confidence.assign(s.confidence.begin(), s.confidence.end());
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

TEST(StreamSources, ImageFolderOrderResizeAndColourAsTorchvision) {
    const TempDir dir("kakuren-images");
    python(dir.path(), R"py(
from PIL import Image
import torch, torch.nn.functional as F
rng = np.random.default_rng(3)
for d in ('train/cat', 'train/dog', 'test/dog'): os.makedirs(d)
Image.fromarray(rng.integers(0, 256, (20, 30, 3), np.uint8)).save('train/cat/b.png')
Image.fromarray(rng.integers(0, 256, (16, 16, 3), np.uint8)).save('train/cat/a.jpg', quality=90)
Image.fromarray(rng.integers(0, 256, (12, 10), np.uint8)).save('train/dog/c.PNG')
open('train/dog/notes.txt', 'w').write('not an image: ignored, as ImageFolder does')
Image.fromarray(rng.integers(0, 256, (8, 8, 3), np.uint8)).save('test/dog/x.png')
def resized(path):  # torchvision's Resize((8, 8)) on the decoded tensor, rounded to uint8
    x = torch.from_numpy(np.asarray(Image.open(path).convert('RGB')).copy()).permute(2, 0, 1)
    y = F.interpolate(x[None].float(), size=(8, 8), mode='bilinear', align_corners=False,
                      antialias=True)
    return y.round().clamp(0, 255).to(torch.uint8)[0].numpy()
files = ['train/cat/a.jpg', 'train/cat/b.png', 'train/dog/c.PNG']
open('resized.bin', 'wb').write(np.stack([resized(f) for f in files]).tobytes())
open('grey.bin', 'wb').write(np.asarray(Image.open('train/cat/b.png').convert('L')).tobytes())
)py");
    const auto bytes_of = [&](const char* name) {
        std::ifstream in(dir / name, std::ios::binary);
        return std::vector<char>(std::istreambuf_iterator<char>(in), {});
    };
    const auto as_bytes = [](const torch::Tensor& x) {
        return x.mul(255.0).round().to(torch::kUInt8).contiguous();
    };
    DataConfig c;
    c.dataset = "images";
    c.train_path = (dir / "train").string();
    c.test_path = (dir / "test").string();
    c.normalize = false;
    c.image_size = {8, 8};
    c.image_channels = 3;
    const Sources s = open_sources(c);
    EXPECT_EQ(s.train->size(), 3);
    EXPECT_EQ(s.info.num_classes, 2);
    EXPECT_EQ(s.info.sample_shape, (std::vector<std::int64_t>{3, 8, 8}));
    const Batch b = s.train->read_range(0, 3);
    EXPECT_TRUE(torch::equal(b.targets, torch::tensor({0, 0, 1}, torch::kInt64)))
        << "ImageFolder's order: class folders sorted, then their files";
    std::vector<char> want = bytes_of("resized.bin");
    const torch::Tensor got = as_bytes(b.inputs);
    ASSERT_EQ(static_cast<std::size_t>(got.numel()), want.size());
    EXPECT_EQ(std::memcmp(got.data_ptr(), want.data(), want.size()), 0);
    EXPECT_EQ(s.test->read_range(0, 1).targets.item<std::int64_t>(), 1) << "dog: train's id";

    // Colour to grey as Pillow's convert("L") (b.png at its own size: no resize).
    c.image_size = {20, 30};
    c.image_channels = 1;
    const Sources g = open_sources(c);
    EXPECT_EQ(g.info.sample_shape, (std::vector<std::int64_t>{1, 20, 30}));
    want = bytes_of("grey.bin");
    const torch::Tensor grey = as_bytes(g.train->read_range(1, 1).inputs);
    ASSERT_EQ(static_cast<std::size_t>(grey.numel()), want.size());
    EXPECT_EQ(std::memcmp(grey.data_ptr(), want.data(), want.size()), 0);
}

TEST(StreamSources, DeepCamLayoutIsTransposedAndNormalisedPerChannel) {
    const TempDir dir("kakuren-deepcam");
    python(dir.path(), R"py(
rng = np.random.default_rng(3)
os.makedirs('train'); os.makedirs('test')
lo = np.array([-1.0, 0.0, 10.0]); hi = np.array([1.0, 4.0, 20.0])
with h5py.File('stats.h5', 'w') as f:
    f['climate/minval'] = lo
    f['climate/maxval'] = hi
    f['climate/mean'] = (lo + hi) / 2
    f['climate/std'] = hi - lo
expected = []
for split, n in (('train', 4), ('test', 2)):
    for i in range(n):
        x = rng.normal(size=(6, 5, 3)).astype(np.float32)
        y = rng.integers(0, 3, size=(6, 5)).astype(np.int32)
        with h5py.File('%s/data-%03d.h5' % (split, i), 'w') as f:
            f['climate/data'] = x
            f['climate/labels_0'] = y
        if split == 'train':
            norm = ((x - lo.astype(np.float32)) * (1.0 / (hi - lo)).astype(np.float32))
            expected.append(norm.transpose(2, 0, 1))
            np.save('y%d.npy' % i, y.astype(np.int64))
np.save('expected.npy', np.stack(expected).astype(np.float32))
)py");
    DataConfig c;
    c.dataset = "hdf5";
    c.train_path = (dir / "train").string();
    c.test_path = (dir / "test").string();
    const Sources s = open_sources(c);
    EXPECT_EQ(s.train->size(), 4);
    EXPECT_EQ(s.test->size(), 2);
    EXPECT_EQ(s.info.sample_shape, (std::vector<std::int64_t>{3, 6, 5}));
    EXPECT_EQ(s.info.target_shape, (std::vector<std::int64_t>{6, 5}));
    EXPECT_EQ(s.info.num_classes, 3);
    const Batch b = s.train->read_range(0, 4);
    std::ifstream in(dir / "expected.npy", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    const util::NpyHeader h = util::parse_npy_header(bytes, "expected.npy");
    const torch::Tensor expected =
        torch::from_blob(bytes.data() + h.data_offset, h.shape, torch::kFloat32);
    EXPECT_TRUE(torch::allclose(b.inputs, expected, 1e-6, 1e-6))
        << (b.inputs - expected).abs().max().item<float>();
    EXPECT_EQ(b.targets.scalar_type(), torch::kInt64);
    EXPECT_EQ(b.targets.sizes(), (std::vector<std::int64_t>{4, 6, 5}));
}

TEST(StreamSources, Log1pAndFloatTargetsAsCosmoFlowReadsThem) {
    const TempDir dir("kakuren-cosmo");
    python(dir.path(), R"py(
rng = np.random.default_rng(5)
for split, n in (('train', 6), ('test', 3)):
    os.makedirs(split)
    for i in range(n):
        np.save('%s/x%d.npy' % (split, i), rng.integers(0, 300, size=(2, 4, 4, 4)).astype(np.int16))
        np.save('%s/y%d.npy' % (split, i), rng.normal(size=(4,)).astype(np.float32))
    with open(split + '/files_data.lst', 'w') as f:
        f.writelines('x%d.npy\n' % i for i in range(n))
    with open(split + '/files_label.lst', 'w') as f:
        f.writelines('y%d.npy\n' % i for i in range(n))
x = np.stack([np.load('train/x%d.npy' % i) for i in range(6)]).astype(np.float32)
np.save('expected.npy', np.log1p(x))
np.save('targets.npy', np.stack([np.load('train/y%d.npy' % i) for i in range(6)]))
)py");
    DataConfig c;
    c.dataset = "npy";
    c.train_path = (dir / "train").string();
    c.test_path = (dir / "test").string();
    c.transform = "log1p";
    c.normalize = false;
    const Sources s = open_sources(c);
    EXPECT_EQ(s.info.num_classes, 0); // float targets: regression
    EXPECT_EQ(s.info.sample_shape, (std::vector<std::int64_t>{2, 4, 4, 4}));
    const Batch b = s.train->read_range(0, 6);
    const auto load = [&](const char* name) {
        std::ifstream in(dir / name, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), {});
        const util::NpyHeader h = util::parse_npy_header(bytes, name);
        return torch::from_blob(bytes.data() + h.data_offset, h.shape, torch::kFloat32).clone();
    };
    EXPECT_TRUE(torch::allclose(b.inputs, load("expected.npy"), 1e-6, 1e-6));
    EXPECT_EQ(b.targets.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(b.targets, load("targets.npy")));
}

TEST(StreamSources, ChunkedAndContiguousHdf5ReadTheSameShuffledBatches) {
    // Contiguous datasets are read with pread at their offset, chunked (here gzip-compressed)
    // ones by one HDF5 selection per batch: the same samples either way, in the batch's order,
    // repeats included, and the bytes counted per sample.
    const TempDir dir("kakuren-h5-layouts");
    python(dir.path(), R"py(
rng = np.random.default_rng(11)
x = rng.integers(0, 256, size=(50, 1, 4, 4)).astype(np.uint8)
y = rng.integers(0, 5, size=50).astype(np.int64)
for name, chunked in (('flat', False), ('chunked', True)):
    for split, n in (('train', 50), ('test', 7)):
        with h5py.File('%s_%s.h5' % (name, split), 'w') as f:
            opts = lambda c: {'chunks': c, 'compression': 'gzip'} if chunked else {}
            f.create_dataset('data', data=x[:n], **opts((7, 1, 4, 4)))
            f.create_dataset('targets', data=y[:n], **opts((7,)))
np.save('x.npy', x)
np.save('y.npy', y)
)py");
    const std::vector<std::int64_t> order = {31, 2, 49, 2, 0, 17, 18, 19, 44, 5, 31};
    const torch::Tensor ids = torch::tensor(order, torch::kInt64);
    std::vector<Batch> batches;
    std::vector<Sources> opened;
    for (const char* name : {"flat", "chunked"}) {
        DataConfig c;
        c.dataset = "hdf5";
        c.train_path = (dir / (std::string(name) + "_train.h5")).string();
        c.test_path = (dir / (std::string(name) + "_test.h5")).string();
        c.normalize = false;
        opened.push_back(open_sources(c));
        BatchBuffer buffer;
        batches.push_back(opened.back().train->read(ids, buffer));
        EXPECT_EQ(opened.back().train->bytes_read(), order.size() * (16U + 8U)) << name;
    }
    EXPECT_TRUE(torch::equal(batches[0].inputs, batches[1].inputs));
    EXPECT_TRUE(torch::equal(batches[0].targets, batches[1].targets));
    // And they are numpy's rows, in the batch's order.
    const auto load = [&](const char* name, torch::ScalarType type) {
        std::ifstream in(dir / name, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), {});
        const util::NpyHeader h = util::parse_npy_header(bytes, name);
        return torch::from_blob(bytes.data() + h.data_offset, h.shape, type).clone();
    };
    const torch::Tensor x = load("x.npy", torch::kUInt8).index_select(0, ids);
    const torch::Tensor y = load("y.npy", torch::kInt64).index_select(0, ids);
    EXPECT_TRUE(torch::equal(batches[1].inputs, x.to(torch::kFloat32).div_(255.0)));
    EXPECT_TRUE(torch::equal(batches[1].targets, y));
}

TEST(StreamSources, ReadsNumpyFormatVersionsOneTwoThreeAndEveryDtype) {
    const TempDir dir("kakuren-npyver");
    python(dir.path(), R"py(
from numpy.lib import format as fmt
types = ['int8', 'uint8', 'int16', 'float16', 'float32', 'int64']
for v, t in zip([(1, 0), (2, 0), (3, 0), (1, 0), (2, 0), (3, 0)], types):
    d = '%s_%d' % (t, v[0])
    os.makedirs(d)
    x = (np.arange(5 * 6).reshape(5, 2, 3) % 50).astype(t)
    with open(d + '/data.npy', 'wb') as f: fmt.write_array(f, x, version=v)
    with open(d + '/targets.npy', 'wb') as f:
        fmt.write_array(f, np.arange(5, dtype=np.int64) % 3, version=v)
)py");
    const std::vector<std::pair<std::string, int>> kinds = {
        {"int8", 1}, {"uint8", 2}, {"int16", 3}, {"float16", 1}, {"float32", 2}, {"int64", 3}};
    for (const auto& [type, version] : kinds) {
        SCOPED_TRACE(type);
        DataConfig c;
        c.dataset = "npy";
        c.train_path = c.test_path = (dir / (type + "_" + std::to_string(version))).string();
        c.normalize = false;
        const Sources s = open_sources(c);
        const Batch b = s.train->read_range(0, 5);
        torch::Tensor expected = torch::arange(30, torch::kFloat32)
                                     .remainder(50)
                                     .reshape({5, 1, 2, 3}); // 2-D: a channel
        if (type == "uint8") {
            expected.div_(255.0);
        }
        EXPECT_TRUE(torch::equal(b.inputs, expected));
        EXPECT_TRUE(torch::equal(b.targets, torch::arange(5, torch::kInt64).remainder(3)));
        EXPECT_EQ(s.info.num_classes, 3);
    }
}

// Probe finding #6: class ids are bounded (k_max_classes); the largest allowed one opens.
TEST(StreamSources, TheLargestAllowedClassIdOpens) {
    const TempDir dir("kakuren-classes");
    python(dir.path(), R"py(
for split in ('train', 'test'):
    os.makedirs(split)
    np.save(split + '/data.npy', np.zeros((4, 1, 2, 2), np.uint8))
    np.save(split + '/targets.npy', np.array([0, 99999, 1, 2], np.int64))
)py");
    DataConfig c;
    c.dataset = "npy";
    c.train_path = (dir / "train").string();
    c.test_path = (dir / "test").string();
    const Sources s = open_sources(c);
    EXPECT_EQ(s.info.num_classes, k_max_classes);
}

/// Each bad file, written by numpy / h5py, and a piece of the message it must produce.
struct BadCase {
    const char* name;
    const char* format;
    const char* script; ///< writes train/ and test/ (or train.h5 / test.h5)
    const char* train;
    const char* message;
};

const char* const k_good_test = R"py(
os.makedirs('test', exist_ok=True)
np.save('test/data.npy', np.zeros((3, 1, 4, 4), np.uint8))
np.save('test/targets.npy', np.array([0, 1, 1], np.uint8))
)py";

class BadData : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadData, IsRefusedNamingTheFile) {
    const BadCase& bad = GetParam();
    const TempDir dir("kakuren-bad");
    python(dir.path(), std::string(k_good_test) + bad.script);
    DataConfig c;
    c.dataset = bad.format;
    c.train_path = (dir / bad.train).string();
    c.test_path = (dir / (std::string(bad.format) == "hdf5" ? "test.h5" : "test")).string();
    const std::string err = error_of([&] {
        const Sources s = open_sources(c);
        s.train->read_range(0, s.train->size());
        s.test->read_range(0, s.test->size());
    });
    EXPECT_NE(err.find(bad.message), std::string::npos) << err;
    EXPECT_NE(err.find(dir.path().string()), std::string::npos) << err; // the file is named
}

const BadCase k_bad_cases[] = {
    {"truncated", "npy", R"py(
os.makedirs('train')
np.save('train/data.npy', np.zeros((10, 1, 4, 4), np.uint8))
np.save('train/targets.npy', np.zeros(10, np.uint8))
with open('train/data.npy', 'r+b') as f: f.truncate(os.path.getsize('train/data.npy') - 20)
)py",
     "train", "file ends early"},
    {"header_lies", "npy", R"py(
os.makedirs('train')
np.save('train/data.npy', np.zeros((10, 1, 4, 4), np.uint8))
np.save('train/targets.npy', np.zeros(10, np.uint8))
b = open('train/data.npy', 'rb').read().replace(b'(10, 1, 4, 4)', b'(90, 1, 4, 4)')
open('train/data.npy', 'wb').write(b)
)py",
     "train", "the header describes uint8 [90, 1, 4, 4]"},
    {"different_n", "npy", R"py(
os.makedirs('train')
np.save('train/data.npy', np.zeros((10, 1, 4, 4), np.uint8))
np.save('train/targets.npy', np.zeros(9, np.uint8))
)py",
     "train", "holds 10 samples but"},
    {"big_endian", "npy", R"py(
os.makedirs('train')
np.save('train/data.npy', np.zeros((10, 1, 4, 4), '>f4'))
np.save('train/targets.npy', np.zeros(10, np.uint8))
)py",
     "train", "is big-endian"},
    {"fortran_order", "npy", R"py(
os.makedirs('train')
np.save('train/data.npy', np.asfortranarray(np.zeros((10, 3, 4, 4), np.float32)))
np.save('train/targets.npy', np.zeros(10, np.uint8))
)py",
     "train", "Fortran order"},
    {"unsupported_dtype", "npy", R"py(
os.makedirs('train')
np.save('train/data.npy', np.zeros((10, 1, 4, 4), np.complex64))
np.save('train/targets.npy', np.zeros(10, np.uint8))
)py",
     "train", "unsupported dtype '<c8'"},
    {"not_npy", "npy", R"py(
os.makedirs('train')
open('train/data.npy', 'wb').write(b'hello, not numpy' * 10)
np.save('train/targets.npy', np.zeros(10, np.uint8))
)py",
     "train", "not a .npy file"},
    {"shape_against_test", "npy", R"py(
os.makedirs('train')
np.save('train/data.npy', np.zeros((10, 1, 5, 5), np.uint8))
np.save('train/targets.npy', np.zeros(10, np.uint8))
)py",
     "train", "samples are [1, 4, 4]"},
    {"negative_class", "npy", R"py(
os.makedirs('train')
np.save('train/data.npy', np.zeros((10, 1, 4, 4), np.uint8))
np.save('train/targets.npy', np.array([0, 1, 2, 3, -4, 0, 0, 0, 0, 0], np.int64))
)py",
     "train", "sample 4 has the negative class id -4"},
    {"class_id_too_large", "npy", R"py(
os.makedirs('train')
np.save('train/data.npy', np.zeros((10, 1, 4, 4), np.uint8))
np.save('train/targets.npy', np.array([0, 1, 10**12, 3, 0, 0, 0, 0, 0, 0], np.int64))
)py",
     "train",
     "train/targets.npy: sample 2 has the class id 1000000000000, beyond kakuren's limit of 100000 "
     "classes (ids 0 to 99999)"},
    {"class_id_at_the_limit", "npy", R"py(
os.makedirs('train')
np.save('train/data.npy', np.zeros((10, 1, 4, 4), np.uint8))
np.save('train/targets.npy', np.array([0, 1, 2, 3, 0, 0, 0, 0, 0, 100000], np.int32))
)py",
     "train", "targets.npy: sample 9 has the class id 100000, beyond kakuren's limit"},
    {"negative_class_in_sample_file", "npy", R"py(
os.makedirs('train')
np.save('train/x0.npy', np.zeros((1, 4, 4), np.uint8))
np.save('train/y0.npy', np.int64(1))
np.save('train/y1.npy', np.int64(-1))
open('train/files_data.lst', 'w').write('x0.npy\nx0.npy\n')
open('train/files_label.lst', 'w').write('y0.npy\ny1.npy\n')
)py",
     "train", "train/y1.npy: sample 1 has the negative class id -1"},
    {"list_lengths", "npy", R"py(
os.makedirs('train')
np.save('train/x0.npy', np.zeros((1, 4, 4), np.uint8))
np.save('train/y0.npy', np.uint8(1))
open('train/files_data.lst', 'w').write('x0.npy\nx0.npy\n')
open('train/files_label.lst', 'w').write('y0.npy\n')
)py",
     "train", "lists 2 files but"},
    {"sample_shape_differs", "npy", R"py(
os.makedirs('train')
np.save('train/x0.npy', np.zeros((1, 4, 4), np.uint8))
np.save('train/x1.npy', np.zeros((1, 4, 5), np.uint8))
np.save('train/y0.npy', np.uint8(1))
open('train/files_data.lst', 'w').write('x0.npy\nx1.npy\n')
open('train/files_label.lst', 'w').write('y0.npy\ny0.npy\n')
)py",
     "train", "x1.npy (sample 1): holds uint8 [1, 4, 5] but the first sample is uint8 [1, 4, 4]"},
    {"missing_in_list", "npy", R"py(
os.makedirs('train')
np.save('train/x0.npy', np.zeros((1, 4, 4), np.uint8))
np.save('train/y0.npy', np.uint8(1))
open('train/files_data.lst', 'w').write('x0.npy\nx0.npy\nnothere.npy\n')
open('train/files_label.lst', 'w').write('y0.npy\ny0.npy\ny0.npy\n')
)py",
     "train", "nothere.npy (sample 2): No such file or directory"},
    {"fifo_in_list", "npy", R"py(
os.makedirs('train')
np.save('train/x0.npy', np.zeros((1, 4, 4), np.uint8))
np.save('train/y0.npy', np.uint8(1))
os.mkfifo('train/x1.npy')  # no writer: opening it without O_NONBLOCK would wait forever
open('train/files_data.lst', 'w').write('x0.npy\nx1.npy\n')
open('train/files_label.lst', 'w').write('y0.npy\ny0.npy\n')
)py",
     "train", "x1.npy (sample 1): it is a FIFO, not a regular file"},
    {"fifo_first_in_list", "npy", R"py(
os.makedirs('train')
np.save('train/y0.npy', np.uint8(1))
os.mkfifo('train/x0.npy')
open('train/files_data.lst', 'w').write('x0.npy\n')
open('train/files_label.lst', 'w').write('y0.npy\n')
)py",
     "train", "x0.npy: it is a FIFO, not a regular file"},
    {"hdf5_no_dataset", "hdf5", R"py(
with h5py.File('test.h5', 'w') as f:
    f['data'] = np.zeros((3, 1, 4, 4), np.uint8); f['targets'] = np.zeros(3, np.uint8)
with h5py.File('train.h5', 'w') as f:
    f['pixels'] = np.zeros((3, 1, 4, 4), np.uint8); f['targets'] = np.zeros(3, np.uint8)
)py",
     "train.h5", "has no dataset \"data\" (data.data_key)"},
    {"hdf5_different_n", "hdf5", R"py(
with h5py.File('test.h5', 'w') as f:
    f['data'] = np.zeros((3, 1, 4, 4), np.uint8); f['targets'] = np.zeros(3, np.uint8)
with h5py.File('train.h5', 'w') as f:
    f['data'] = np.zeros((5, 1, 4, 4), np.uint8); f['targets'] = np.zeros(4, np.uint8)
)py",
     "train.h5", "holds 5 samples but"},
    {"hdf5_corrupt", "hdf5", R"py(
with h5py.File('test.h5', 'w') as f:
    f['data'] = np.zeros((3, 1, 4, 4), np.uint8); f['targets'] = np.zeros(3, np.uint8)
with h5py.File('train.h5', 'w') as f:
    f['data'] = np.zeros((50, 1, 40, 40), np.uint8); f['targets'] = np.zeros(50, np.uint8)
with open('train.h5', 'r+b') as f: f.truncate(os.path.getsize('train.h5') // 2)
)py",
     "train.h5", "cannot read"},
    {"hdf5_negative_class", "hdf5", R"py(
with h5py.File('test.h5', 'w') as f:
    f['data'] = np.zeros((3, 1, 4, 4), np.uint8); f['targets'] = np.zeros(3, np.uint8)
with h5py.File('train.h5', 'w') as f:
    f['data'] = np.zeros((5, 1, 4, 4), np.uint8); f['targets'] = np.array([0, 1, 0, -1, 1], np.int16)
)py",
     "train.h5", "train.h5:/targets: sample 3 has the negative class id -1"},
    {"hdf5_class_id_too_large_chunked", "hdf5", R"py(
with h5py.File('test.h5', 'w') as f:
    f['data'] = np.zeros((3, 1, 4, 4), np.uint8); f['targets'] = np.zeros(3, np.uint8)
with h5py.File('train.h5', 'w') as f:
    f['data'] = np.zeros((5, 1, 4, 4), np.uint8)
    f.create_dataset('targets', data=np.array([0, 1, 0, 10**12, 1], np.int64), chunks=(2,))
)py",
     "train.h5", "train.h5:/targets: sample 3 has the class id 1000000000000, beyond"},
    {"images_corrupt_jpeg", "images", R"py(
from PIL import Image
os.makedirs('train/0'); os.makedirs('test/0')
for f in ('train/0/a.png', 'test/0/t.png'): Image.fromarray(np.zeros((4, 4), np.uint8)).save(f)
rng = np.random.default_rng(0)
open('train/0/b.jpg', 'wb').write(b'\xff\xd8\xff' + rng.integers(0, 256, 500, np.uint8).tobytes())
)py",
     "train", "b.jpg (sample 1): corrupt JPEG"},
    {"images_truncated_jpeg", "images", R"py(
from PIL import Image
os.makedirs('train/0'); os.makedirs('test/0')
for f in ('train/0/a.jpg', 'test/0/t.png'): Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(f)
rng = np.random.default_rng(0)
Image.fromarray(rng.integers(0, 256, (64, 64, 3), np.uint8)).save('train/0/b.jpg')
with open('train/0/b.jpg', 'r+b') as f: f.truncate(os.path.getsize('train/0/b.jpg') * 6 // 10)
)py",
     "train", "b.jpg (sample 1): corrupt JPEG"},
    {"images_truncated_png", "images", R"py(
from PIL import Image
os.makedirs('train/0'); os.makedirs('test/0')
for f in ('train/0/a.png', 'test/0/t.png'): Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(f)
rng = np.random.default_rng(0)
Image.fromarray(rng.integers(0, 256, (64, 64, 3), np.uint8)).save('train/0/b.png')
with open('train/0/b.png', 'r+b') as f: f.truncate(os.path.getsize('train/0/b.png') // 2)
)py",
     "train", "b.png (sample 1): corrupt PNG"},
    {"images_fifo_in_list", "images", R"py(
from PIL import Image
os.makedirs('train/0'); os.makedirs('test/0')
for f in ('train/0/a.png', 'test/0/t.png'): Image.fromarray(np.zeros((4, 4), np.uint8)).save(f)
os.mkfifo('train/0/b.png')  # no writer
open('train/files.lst', 'w').write('0/a.png\n0/b.png\n')
)py",
     "train", "b.png (sample 1): it is a FIFO, not a regular file"},
    // Probe finding #2: decompression bombs. 10000x9000 claimed by a few hundred bytes: over
    // k_max_image_pixels, yet small enough (90 MB) not to hurt the machine if the check is lost.
    {"images_png_bomb", "images", R"py(
import struct, zlib
from PIL import Image
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
os.makedirs('train/0'); os.makedirs('test/0')
Image.fromarray(np.zeros((4, 4), np.uint8)).save('test/0/t.png')
ihdr = struct.pack('>IIBBBBB', 9000, 10000, 8, 0, 0, 0, 0)  # width, height, 8-bit grey
open('train/0/a.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) +
                                  chunk(b'IDAT', zlib.compress(b'\0' * 9001)) + chunk(b'IEND', b''))
)py",
     "train",
     "a.png (sample 0): the header says 10000x9000 (HxW), 90000000 pixels, more than the limit of "
     "89478485 per image"},
    {"images_jpeg_bomb", "images", R"py(
import struct
from PIL import Image
os.makedirs('train/0'); os.makedirs('test/0')
for f in ('train/0/a.png', 'test/0/t.png'): Image.fromarray(np.zeros((8, 8), np.uint8)).save(f)
Image.fromarray(np.zeros((8, 8), np.uint8)).save('train/0/b.jpg')
b = bytearray(open('train/0/b.jpg', 'rb').read())
sof = b.index(b'\xff\xc0')  # baseline frame header: length, precision, height, width
b[sof + 5:sof + 9] = struct.pack('>HH', 10000, 9000)
open('train/0/b.jpg', 'wb').write(bytes(b))
)py",
     "train", "b.jpg (sample 1): the header says 10000x9000 (HxW), 90000000 pixels"},
    {"images_not_an_image", "images", R"py(
from PIL import Image
os.makedirs('train/0'); os.makedirs('test/0')
for f in ('train/0/a.png', 'test/0/t.png'): Image.fromarray(np.zeros((4, 4), np.uint8)).save(f)
open('train/0/b.jpg', 'w').write('a text file named like a JPEG')
)py",
     "train", "b.jpg (sample 1): not a JPEG or PNG file"},
    {"images_empty_class", "images", R"py(
from PIL import Image
os.makedirs('train/0'); os.makedirs('train/1'); os.makedirs('test/0')
for f in ('train/0/a.png', 'test/0/t.png'): Image.fromarray(np.zeros((4, 4), np.uint8)).save(f)
open('train/1/readme.txt', 'w').write('no images here')
)py",
     "train", "train/1 holds no .jpg, .jpeg or .png file"},
    {"images_missing_folder", "images", R"py(
from PIL import Image
os.makedirs('test/0')
Image.fromarray(np.zeros((4, 4), np.uint8)).save('test/0/t.png')
)py",
     "train", "train does not exist"},
    {"images_unknown_test_class", "images", R"py(
from PIL import Image
os.makedirs('train/0'); os.makedirs('test/0'); os.makedirs('test/zebra')
for f in ('train/0/a.png', 'test/0/t.png', 'test/zebra/u.png'):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(f)
)py",
     "train", "test/zebra: no class folder of that name in the training split"},
    {"images_test_size_differs", "images", R"py(
from PIL import Image
os.makedirs('train/0'); os.makedirs('test/0')
Image.fromarray(np.zeros((4, 4), np.uint8)).save('train/0/a.png')
Image.fromarray(np.zeros((4, 4), np.uint8)).save('test/0/t.png')
Image.fromarray(np.zeros((4, 6), np.uint8)).save('test/0/u.png')
)py",
     "train", "u.png (sample 1): the image is 4x6 (HxW) but the first is 4x4"},
    {"images_size_differs", "images", R"py(
from PIL import Image
os.makedirs('train/0'); os.makedirs('test/0')
for f in ('train/0/a.png', 'test/0/t.png'): Image.fromarray(np.zeros((4, 4), np.uint8)).save(f)
Image.fromarray(np.zeros((5, 4), np.uint8)).save('train/0/b.png')
)py",
     "train", "b.png (sample 1): the image is 5x4 (HxW) but the first is 4x4"},
};

INSTANTIATE_TEST_SUITE_P(Cases, BadData, ::testing::ValuesIn(k_bad_cases),
                         [](const auto& info) { return std::string(info.param.name); });

} // namespace
} // namespace kakuren::trainer

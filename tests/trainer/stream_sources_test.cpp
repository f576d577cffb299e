// The streaming sources against small files written by the real numpy, h5py, Pillow and PyTorch
// (run as /usr/bin/python3 inside each test): ImageFolder's order, resize and colour as
// torchvision; the DeepCAM layout and CosmoFlow's log1p decoded as the references do; chunked
// and contiguous HDF5 alike; every numpy format version and dtype; the largest class id.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "stream_support.hpp"
#include "support/temp_dir.hpp"
#include "trainer/source.hpp"
#include "trainer/stream.hpp"
#include "util/npy.hpp"

namespace kakuren::trainer {
namespace {

using kakuren::testing::TempDir;
using stream_support::python;

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

} // namespace
} // namespace kakuren::trainer

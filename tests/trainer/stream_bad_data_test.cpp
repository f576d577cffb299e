// Bad files for the streaming sources (npy, per-sample npy lists, hdf5, images), each written by
// the real numpy / h5py / Pillow (run as /usr/bin/python3 inside the test): refused with the file,
// and where it matters the sample, named.
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "stream_support.hpp"
#include "support/temp_dir.hpp"
#include "trainer/source.hpp"
#include "trainer/stream.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

using kakuren::testing::TempDir;
using stream_support::error_of;
using stream_support::python;

/// Each bad file, written by numpy / h5py, and a piece of the message it must produce.
struct BadCase {
    const char* name;
    const char* format;
    const char* script; ///< writes train/ and test/ (or train.h5 / test.h5)
    const char* train;
    const char* message;
};

// Names the case in ctest's listing (not its bytes, which change with every build).
void PrintTo(const BadCase& c, std::ostream* os) {
    *os << c.name;
}

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

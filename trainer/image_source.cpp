// data.dataset = "images": a folder per class of JPEG / PNG files (torchvision's ImageFolder,
// the ImageNet layout), decoded with libjpeg-turbo and libpng as the samples are read. Samples
// are stored as uint8 [H, W, C] (channels last): the cast, the normalisation and the
// augmentation of StreamSource then treat them like any other raw image.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>

#include "trainer/image_decode.hpp"
#include "trainer/stream.hpp"
#include "util/error.hpp"
#include "util/list_file.hpp"
#include "util/strings.hpp"
#include "util/system.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;

bool is_image_file(const fs::path& p) {
    const std::string ext = util::lower(p.extension().string());
    return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::string where(const fs::path& file, std::int64_t id) {
    return file.string() + " (sample " + std::to_string(id) + ")";
}

/// The whole file; throws naming it and the sample.
std::vector<unsigned char> read_file(const fs::path& file, std::int64_t id) {
    // A FIFO or a device named in files.lst is refused, never waited on.
    const util::Fd owned = util::open_regular_file(file, where(file, id));
    const int fd = owned.get();
    std::vector<unsigned char> bytes;
    struct stat st {};
    std::string failure;
    if (::fstat(fd, &st) != 0) {
        failure = std::strerror(errno);
    } else {
        bytes.resize(static_cast<std::size_t>(st.st_size));
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t got =
                ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
            if (got < 0 && errno == EINTR) {
                continue;
            }
            if (got <= 0) {
                failure = got < 0 ? std::strerror(errno) : "file shrank while it was read";
                break;
            }
            done += static_cast<std::size_t>(got);
        }
    }
    if (!failure.empty()) {
        throw RuntimeFailure("cannot read " + where(file, id) + ": " + failure);
    }
    return bytes;
}

/// Grey to RGB repeats the value; RGB to grey is Pillow's convert("L") (ITU-R 601-2 luma).
void convert_channels(Pixels& p, int channels) {
    if (p.channels == channels) {
        return;
    }
    const std::size_t n = static_cast<std::size_t>(p.height) * static_cast<std::size_t>(p.width);
    std::vector<std::uint8_t> out(n * static_cast<std::size_t>(channels));
    for (std::size_t i = 0; i < n; ++i) {
        if (channels == 3) {
            out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = p.data[i];
        } else {
            const std::uint32_t r = p.data[3 * i], g = p.data[3 * i + 1], b = p.data[3 * i + 2];
            out[i] = static_cast<std::uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
        }
    }
    p.data = std::move(out);
    p.channels = channels;
}

/// Bilinear, antialiased when shrinking (as torchvision's Resize on tensors), rounded back to
/// uint8.
void resize(Pixels& p, std::int64_t height, std::int64_t width) {
    const torch::Tensor in =
        torch::from_blob(p.data.data(), {1, p.height, p.width, p.channels}, torch::kUInt8)
            .permute({0, 3, 1, 2})
            .to(torch::kFloat32);
    namespace F = torch::nn::functional;
    const torch::Tensor out = F::interpolate(in, F::InterpolateFuncOptions()
                                                     .size(std::vector<std::int64_t>{height, width})
                                                     .mode(torch::kBilinear)
                                                     .align_corners(false)
                                                     .antialias(true))
                                  .round_()
                                  .clamp_(0, 255)
                                  .to(torch::kUInt8)
                                  .permute({0, 2, 3, 1})
                                  .contiguous();
    p.height = static_cast<int>(height);
    p.width = static_cast<int>(width);
    p.data.assign(out.data_ptr<std::uint8_t>(), out.data_ptr<std::uint8_t>() + out.numel());
}

std::vector<fs::path> list_lines(const fs::path& list) {
    const std::vector<std::string> lines = util::read_list_file(list);
    return {lines.begin(), lines.end()};
}

class ImagesReader final : public RawReader {
  public:
    ImagesReader(const fs::path& folder, const std::string& key,
                 const std::vector<std::string>& classes, const ImageOptions& options)
        : m_folder(folder), m_num_classes(static_cast<std::int64_t>(classes.size())) {
        std::map<std::string, std::int64_t> class_of;
        for (std::size_t i = 0; i < classes.size(); ++i) {
            class_of[classes[i]] = static_cast<std::int64_t>(i);
        }
        const auto unknown_class = [&](const std::string& name) {
            return RuntimeFailure(key + ": " + (folder / name).string() +
                                  ": no class folder of that name in the training split");
        };
        std::error_code ec;
        if (fs::exists(folder / k_image_list, ec)) {
            // The order of the list (kakuren data convert writes the IDX file's order).
            for (const fs::path& rel : list_lines(folder / k_image_list)) {
                const std::string cls = rel.begin() == rel.end() ? "" : rel.begin()->string();
                const auto it = class_of.find(cls);
                if (it == class_of.end() || std::distance(rel.begin(), rel.end()) < 2) {
                    throw RuntimeFailure((folder / k_image_list).string() + ": " + rel.string() +
                                         " is not CLASS/FILE with CLASS a class folder");
                }
                m_files.push_back(folder / rel);
                m_targets.push_back(it->second);
            }
        } else {
            // ImageFolder's order: the class folders sorted, then the files of each, sorted.
            for (const std::string& name : image_class_folders(folder.string(), key)) {
                const auto it = class_of.find(name);
                if (it == class_of.end()) {
                    throw unknown_class(name);
                }
                std::vector<fs::path> files;
                for (auto e = fs::recursive_directory_iterator(folder / name, ec);
                     !ec && e != fs::end(e); e.increment(ec)) {
                    if (e->is_regular_file(ec) && is_image_file(e->path())) {
                        files.push_back(e->path());
                    }
                }
                if (ec) {
                    throw RuntimeFailure("cannot list " + (folder / name).string() + ": " +
                                         ec.message());
                }
                if (files.empty()) {
                    throw RuntimeFailure(key + ": the class folder " + (folder / name).string() +
                                         " holds no .jpg, .jpeg or .png file");
                }
                std::sort(files.begin(), files.end());
                for (auto& f : files) {
                    m_files.push_back(std::move(f));
                    m_targets.push_back(it->second);
                }
            }
        }
        if (m_files.empty()) {
            throw RuntimeFailure(key + ": " + folder.string() + " holds no images");
        }
        // The first image sets the size (unless data.image_size does) and the channels (unless
        // data.image_channels does).
        m_height = options.height;
        m_width = options.width;
        m_channels = options.channels;
        if (m_height == 0 || m_channels == 0) {
            const Pixels first = decode_image(read_file(m_files[0], 0), where(m_files[0], 0));
            if (m_height == 0) {
                m_height = first.height;
                m_width = first.width;
            }
            if (m_channels == 0) {
                m_channels = first.channels;
            }
        }
        m_layout.input_type = util::NpyType::u8;
        m_layout.input_shape = {m_height, m_width, m_channels};
        m_layout.channels_last = true;
        m_layout.target_type = util::NpyType::i64;
        m_layout.target_shape = {};
        m_resize = options.height > 0;
    }
    [[nodiscard]] std::int64_t size() const override {
        return static_cast<std::int64_t>(m_files.size());
    }
    [[nodiscard]] const RawLayout& layout() const override { return m_layout; }
    [[nodiscard]] std::string name() const override { return m_folder.string(); }
    [[nodiscard]] std::int64_t num_classes() const override { return m_num_classes; }
    [[nodiscard]] std::string sample_file(std::int64_t id) const override {
        return m_files[static_cast<std::size_t>(id)].string();
    }
    [[nodiscard]] StoredImage stored(std::int64_t id) const {
        const fs::path& file = m_files[static_cast<std::size_t>(id)];
        const Pixels p = decode_image(read_file(file, id), where(file, id));
        return {p.height, p.width, p.channels};
    }
    std::uint64_t read(std::int64_t id, std::byte* input, std::byte* target) const override {
        const fs::path& file = m_files[static_cast<std::size_t>(id)];
        const std::vector<unsigned char> bytes = read_file(file, id);
        Pixels p = decode_image(bytes, where(file, id));
        if (p.height != m_height || p.width != m_width) {
            if (!m_resize) {
                throw RuntimeFailure(where(file, id) + ": the image is " +
                                     std::to_string(p.height) + "x" + std::to_string(p.width) +
                                     " (HxW) but the first is " + std::to_string(m_height) + "x" +
                                     std::to_string(m_width) +
                                     "; set data.image_size to resize every image");
            }
            resize(p, m_height, m_width);
        }
        convert_channels(p, static_cast<int>(m_channels));
        std::memcpy(input, p.data.data(), p.data.size());
        const std::int64_t t = m_targets[static_cast<std::size_t>(id)];
        std::memcpy(target, &t, sizeof t);
        return bytes.size();
    }

  private:
    fs::path m_folder;
    std::int64_t m_num_classes;
    std::vector<fs::path> m_files;
    std::vector<std::int64_t> m_targets;
    std::int64_t m_height = 0, m_width = 0, m_channels = 0;
    bool m_resize = false;
    RawLayout m_layout;
};

} // namespace

std::vector<std::string> image_class_folders(const std::string& folder, const std::string& key) {
    const fs::path dir(folder);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        throw RuntimeFailure(key + ": " + folder +
                             (fs::exists(dir, ec) ? " is not a folder" : " does not exist") +
                             "; expected a folder with one sub-folder of images per class");
    }
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.is_directory(ec)) {
            out.push_back(e.path().filename().string());
        }
    }
    if (out.empty()) {
        throw RuntimeFailure(key + ": " + folder +
                             " has no class folders; expected one sub-folder of images per class");
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::unique_ptr<RawReader> open_images_split(const std::string& folder, const std::string& key,
                                             const std::vector<std::string>& classes,
                                             const ImageOptions& options) {
    image_class_folders(folder, key); // the folder's own checks
    return std::make_unique<ImagesReader>(fs::path(folder), key, classes, options);
}

StoredImage stored_image(const RawReader& reader, std::int64_t id) {
    const auto* images = dynamic_cast<const ImagesReader*>(&reader);
    if (images == nullptr) {
        throw RuntimeFailure(reader.name() + ": not an images split");
    }
    return images->stored(id);
}

} // namespace kakuren::trainer

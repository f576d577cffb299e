// data.dataset = "npy": one array per split (data.npy + targets.npy) or one .npy per sample
// (files_data.lst + files_label.lst, NVIDIA's MLPerf HPC CosmoFlow layout). Samples are read
// with pread at their offset: the page cache does the caching, the process holds only the
// batches in flight (a mapped file would count its touched pages in the resident set, and a
// file truncated under a mapping kills the process with SIGBUS instead of an error).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "trainer/stream.hpp"
#include "util/error.hpp"
#include "util/list_file.hpp"
#include "util/stop.hpp"
#include "util/system.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;

std::string sample_text(std::int64_t id) {
    return "sample " + std::to_string(id);
}

/// Reads exactly n bytes at offset; throws naming the file and the sample.
void read_at(int fd, const fs::path& file, std::int64_t id, std::byte* out, std::size_t n,
             std::uint64_t offset) {
    std::size_t done = 0;
    while (done < n) {
        const ssize_t got = ::pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw RuntimeFailure("cannot read " + file.string() + " (" + sample_text(id) +
                                 "): " + std::strerror(errno));
        }
        if (got == 0) {
            throw RuntimeFailure("cannot read " + file.string() + " (" + sample_text(id) +
                                 "): file ends early (" + std::to_string(offset + done) +
                                 " bytes; the header describes " + std::to_string(offset + n) +
                                 ")");
        }
        done += static_cast<std::size_t>(got);
    }
}

std::vector<std::int64_t> tail(const std::vector<std::int64_t>& shape) {
    return {shape.begin() + (shape.empty() ? 0 : 1), shape.end()};
}

/// data.npy + targets.npy: [N, ...] each.
class NpyArrayReader final : public RawReader {
  public:
    NpyArrayReader(fs::path data, fs::path targets)
        : m_data_file(std::move(data)), m_target_file(std::move(targets)),
          m_data_header(util::read_npy_header(m_data_file)),
          m_target_header(util::read_npy_header(m_target_file)),
          m_data(util::open_regular_file(m_data_file)),
          m_targets(util::open_regular_file(m_target_file)) {
        if (m_data_header.shape.empty()) {
            throw RuntimeFailure(m_data_file.string() + ": holds a scalar; expected [N, ...]");
        }
        if (m_target_header.shape.empty()) {
            throw RuntimeFailure(m_target_file.string() + ": holds a scalar; expected [N] or "
                                                          "[N, ...]");
        }
        if (m_data_header.shape[0] != m_target_header.shape[0]) {
            throw RuntimeFailure(m_data_file.string() + " holds " +
                                 std::to_string(m_data_header.shape[0]) + " samples but " +
                                 m_target_file.string() + " holds " +
                                 std::to_string(m_target_header.shape[0]) + " targets");
        }
        m_layout.input_type = m_data_header.type;
        m_layout.target_type = m_target_header.type;
        m_layout.input_shape = tail(m_data_header.shape);
        m_layout.target_shape = tail(m_target_header.shape);
    }
    [[nodiscard]] std::int64_t size() const override { return m_data_header.shape[0]; }
    [[nodiscard]] const RawLayout& layout() const override { return m_layout; }
    [[nodiscard]] std::string name() const override { return m_data_file.string(); }
    [[nodiscard]] std::string target_name(std::int64_t /*id*/) const override {
        return m_target_file.string();
    }
    void read_targets(std::int64_t begin, std::int64_t count, std::byte* targets) const override {
        const std::size_t tg = m_layout.target_bytes();
        read_at(m_targets.get(), m_target_file, begin, targets,
                tg * static_cast<std::size_t>(count),
                m_target_header.data_offset + static_cast<std::uint64_t>(begin) * tg);
    }
    std::uint64_t read(std::int64_t id, std::byte* input, std::byte* target) const override {
        const std::size_t in = m_layout.input_bytes(), tg = m_layout.target_bytes();
        read_at(m_data.get(), m_data_file, id, input, in,
                m_data_header.data_offset + static_cast<std::uint64_t>(id) * in);
        read_at(m_targets.get(), m_target_file, id, target, tg,
                m_target_header.data_offset + static_cast<std::uint64_t>(id) * tg);
        return in + tg;
    }

  private:
    fs::path m_data_file, m_target_file;
    util::NpyHeader m_data_header, m_target_header;
    util::Fd m_data, m_targets;
    RawLayout m_layout;
};

std::vector<fs::path> read_list(const fs::path& list) {
    std::vector<fs::path> out;
    for (const std::string& line : util::read_list_file(list)) {
        const fs::path p(line);
        out.push_back(p.is_absolute() ? p : list.parent_path() / p);
    }
    return out;
}

/// One .npy per sample for the input and one for the target, listed one path a line.
class NpyFilesReader final : public RawReader {
  public:
    explicit NpyFilesReader(const fs::path& folder)
        : m_data_list(folder / "files_data.lst"), m_label_list(folder / "files_label.lst"),
          m_data(read_list(m_data_list)), m_labels(read_list(m_label_list)) {
        if (m_data.size() != m_labels.size()) {
            throw RuntimeFailure(m_data_list.string() + " lists " + std::to_string(m_data.size()) +
                                 " files but " + m_label_list.string() + " lists " +
                                 std::to_string(m_labels.size()));
        }
        if (m_data.empty()) {
            throw RuntimeFailure(m_data_list.string() + ": lists no files");
        }
        // The first sample sets the layout every other one must have.
        const util::NpyHeader x = header_of(m_data[0], 0);
        const util::NpyHeader y = header_of(m_labels[0], 0);
        m_layout.input_type = x.type;
        m_layout.input_shape = x.shape;
        m_layout.target_type = y.type;
        m_layout.target_shape = y.shape;
    }
    [[nodiscard]] std::int64_t size() const override {
        return static_cast<std::int64_t>(m_data.size());
    }
    [[nodiscard]] const RawLayout& layout() const override { return m_layout; }
    [[nodiscard]] std::string name() const override { return m_data_list.string(); }
    [[nodiscard]] std::string target_name(std::int64_t id) const override {
        return m_labels[static_cast<std::size_t>(id)].string();
    }
    [[nodiscard]] std::string sample_file(std::int64_t id) const override {
        return m_data[static_cast<std::size_t>(id)].string();
    }
    void read_targets(std::int64_t begin, std::int64_t count, std::byte* targets) const override {
        const std::size_t tg = m_layout.target_bytes();
        for (std::int64_t id = begin; id < begin + count; ++id) {
            util::throw_if_stop_requested(); // a sample a file: thousands of opens
            util::pause_point("open");
            read_one(m_labels[static_cast<std::size_t>(id)], id, m_layout.target_type,
                     m_layout.target_shape, targets + static_cast<std::size_t>(id - begin) * tg);
        }
    }
    std::uint64_t read(std::int64_t id, std::byte* input, std::byte* target) const override {
        const auto i = static_cast<std::size_t>(id);
        return read_one(m_data[i], id, m_layout.input_type, m_layout.input_shape, input) +
               read_one(m_labels[i], id, m_layout.target_type, m_layout.target_shape, target);
    }

  private:
    static util::NpyHeader header_of(const fs::path& file, std::int64_t id) {
        if (!fs::exists(file)) {
            throw RuntimeFailure("cannot read " + file.string() + " (" + sample_text(id) +
                                 "): No such file or directory");
        }
        return util::read_npy_header(file);
    }

    /// Reads a whole per-sample file: its header (checked against the layout) and its data.
    static std::uint64_t read_one(const fs::path& file, std::int64_t id, util::NpyType type,
                                  const std::vector<std::int64_t>& shape, std::byte* out) {
        // Refuses a FIFO or a device in the list without waiting on it.
        const util::Fd fd =
            util::open_regular_file(file, file.string() + " (" + sample_text(id) + ")");
        const std::size_t bytes =
            static_cast<std::size_t>(util::NpyHeader{1, 0, type, shape, 0}.data_bytes());
        // One read for the header and (for small samples) the data; the header is < 4 KiB.
        std::string head(std::min<std::size_t>(4096 + bytes, 1 << 16), '\0');
        std::size_t got = 0;
        while (got < head.size()) {
            const ssize_t n =
                ::pread(fd.get(), head.data() + got, head.size() - got, static_cast<off_t>(got));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                throw RuntimeFailure("cannot read " + file.string() + " (" + sample_text(id) +
                                     "): " + std::strerror(errno));
            }
            if (n == 0) {
                break;
            }
            got += static_cast<std::size_t>(n);
        }
        head.resize(got);
        util::NpyHeader h;
        try {
            h = util::parse_npy_header(head, file.string());
        } catch (const RuntimeFailure& e) {
            throw RuntimeFailure(std::string(e.what()) + " (" + sample_text(id) + ")");
        }
        if (h.type != type || h.shape != shape) {
            throw RuntimeFailure(file.string() + " (" + sample_text(id) + "): holds " +
                                 std::string(util::npy_type_name(h.type)) + " " +
                                 util::shape_text(h.shape) + " but the first sample is " +
                                 std::string(util::npy_type_name(type)) + " " +
                                 util::shape_text(shape));
        }
        const std::uint64_t end = h.data_offset + bytes;
        if (end <= got) {
            std::memcpy(out, head.data() + h.data_offset, bytes);
        } else {
            const std::size_t have = got - static_cast<std::size_t>(h.data_offset);
            std::memcpy(out, head.data() + h.data_offset, have);
            read_at(fd.get(), file, id, out + have, bytes - have, h.data_offset + have);
        }
        return end;
    }

    fs::path m_data_list, m_label_list;
    std::vector<fs::path> m_data, m_labels;
    RawLayout m_layout;
};

} // namespace

std::unique_ptr<RawReader> open_npy_split(const std::string& folder, const std::string& key,
                                          const std::string& targets) {
    const fs::path dir(folder);
    std::error_code ec;
    if (!targets.empty()) { // an array file and its targets file, any names
        return std::make_unique<NpyArrayReader>(dir, fs::path(targets));
    }
    if (fs::is_regular_file(dir, ec)) {
        throw RuntimeFailure(key + ": " + folder + " is an array file; name its targets file in " +
                             key + "_targets");
    }
    if (!fs::is_directory(dir, ec)) {
        throw RuntimeFailure(key + ": " + folder +
                             (fs::exists(dir, ec) ? " is not a folder" : " does not exist") +
                             "; expected a folder with data.npy + targets.npy or "
                             "files_data.lst + files_label.lst");
    }
    if (fs::exists(dir / "data.npy", ec)) {
        return std::make_unique<NpyArrayReader>(dir / "data.npy", dir / "targets.npy");
    }
    if (fs::exists(dir / "files_data.lst", ec)) {
        return std::make_unique<NpyFilesReader>(dir);
    }
    throw RuntimeFailure(key + ": " + folder +
                         " holds neither data.npy + targets.npy nor files_data.lst + "
                         "files_label.lst");
}

} // namespace kakuren::trainer

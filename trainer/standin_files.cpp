// `kakuren data synth`: the stand-ins of standins.hpp written in the layouts the MLPerf HPC
// references read (NVIDIA's CosmoFlow numpy files with file lists; DeepCAM's HDF5 per sample and
// stats.h5). The only file-writing code of the stand-ins: a minimal .npy writer and the libhdf5 C
// API, each identifier in an H5Handle (trainer/hdf5.hpp).
#include <hdf5.h>
#include <sys/statvfs.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "trainer/hdf5.hpp"
#include "trainer/standins.hpp"
#include "trainer/trainer.hpp"
#include "util/error.hpp"
#include "util/npy.hpp"

namespace kakuren::trainer {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail_write(const fs::path& file, const std::string& why) {
    throw RuntimeFailure("cannot write " + file.string() + ": " + why);
}

/// A .npy file (format 1.0) of `tensor` as numpy.save writes it; returns the bytes written.
std::int64_t write_npy(const fs::path& file, const torch::Tensor& tensor, const char* descr) {
    const torch::Tensor t = tensor.contiguous();
    const std::string header = util::npy_file_header(descr, t.sizes().vec());
    std::ofstream out(file, std::ios::binary);
    out << header;
    const auto bytes = static_cast<std::streamsize>(t.numel() * t.element_size());
    out.write(static_cast<const char*>(t.data_ptr()), bytes);
    out.close();
    if (!out) {
        fail_write(file, "write failed (disk full?)");
    }
    return static_cast<std::int64_t>(header.size()) + bytes;
}

/// Owns `id`, or throws naming the file when the call that made it failed.
template <herr_t (*Close)(hid_t)> H5Handle h5(hid_t id, const fs::path& file, const char* what) {
    if (id < 0) {
        fail_write(file, std::string("HDF5 could not create ") + what);
    }
    return {id, Close};
}

/// One dataset `name` in `group` holding `tensor` (contiguous) as `type`.
void h5_dataset(hid_t group, const fs::path& file, const char* name, const torch::Tensor& tensor,
                hid_t type) {
    const torch::Tensor t = tensor.contiguous();
    std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
    const H5Handle space = h5<H5Sclose>(
        H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), file, "a dataspace");
    const H5Handle set = h5<H5Dclose>(
        H5Dcreate2(group, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), file,
        name);
    if (H5Dwrite(set.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()) < 0) {
        fail_write(file, std::string("HDF5 could not write ") + name);
    }
}

/// A file with group "climate" holding the named float32 / uint8 datasets.
std::int64_t write_h5(const fs::path& file,
                      const std::vector<std::pair<const char*, torch::Tensor>>& datasets) {
    {
        const H5Handle f = h5<H5Fclose>(
            H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), file, "the file");
        const H5Handle group = h5<H5Gclose>(
            H5Gcreate2(f.get(), "climate", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), file, "climate");
        for (const auto& [name, tensor] : datasets) {
            h5_dataset(group.get(), file, name, tensor,
                       tensor.scalar_type() == torch::kUInt8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT);
        }
    }
    std::error_code ec;
    return static_cast<std::int64_t>(fs::file_size(file, ec));
}

void make_dir(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        fail_write(dir, ec.message());
    }
}

/// Writes a file list (one name per line) and returns its bytes.
std::int64_t write_list(const fs::path& file, const std::vector<std::string>& names) {
    std::ofstream out(file);
    std::int64_t bytes = 0;
    for (const std::string& name : names) {
        out << name << '\n';
        bytes += static_cast<std::int64_t>(name.size() + 1);
    }
    out.close();
    if (!out) {
        fail_write(file, "write failed");
    }
    return bytes;
}

std::string numbered(const char* stem, std::int64_t i, const char* ext) {
    std::array<char, 32> digits{};
    std::snprintf(digits.data(), digits.size(), "%06lld", static_cast<long long>(i));
    return std::string(stem) + "_" + digits.data() + ext;
}

void write_cosmoflow(const SynthConfig& c, SynthResult& result) {
    const std::array<std::pair<const char*, std::int64_t>, 2> splits = {
        {{"train", c.train}, {"validation", c.validation}}};
    // One sample in memory at a time: 400 samples of 64^3 took 1 GB when the split was built
    // first (issue 23, #10). The bytes are make_cosmoflow's rows, as before.
    const torch::Tensor counts =
        torch::empty({k_cosmoflow_channels, c.size, c.size, c.size}, torch::kInt16);
    const torch::Tensor targets = torch::empty({k_cosmoflow_targets}, torch::kFloat32);
    for (std::size_t s = 0; s < splits.size(); ++s) {
        const auto [name, n] = splits.at(s);
        const fs::path dir = fs::path(c.out) / name;
        make_dir(dir);
        const CosmoflowGenerator generator(c.size, c.seed, s + 1);
        std::vector<std::string> data_names, label_names;
        for (std::int64_t i = 0; i < n; ++i) {
            generator.sample(i, counts, targets);
            data_names.push_back(numbered("data", i, ".npy"));
            label_names.push_back(numbered("label", i, ".npy"));
            result.bytes += write_npy(dir / data_names.back(), counts, "<i2");
            result.bytes += write_npy(dir / label_names.back(), targets, "<f4");
        }
        result.bytes += write_list(dir / "files_data.lst", data_names);
        result.bytes += write_list(dir / "files_label.lst", label_names);
        result.files += 2 * n + 2;
    }
}

void write_deepcam(const SynthConfig& c, SynthResult& result) {
    const std::array<std::pair<const char*, std::int64_t>, 2> splits = {
        {{"train", c.train}, {"validation", c.validation}}};
    for (std::size_t s = 0; s < splits.size(); ++s) {
        const auto [name, n] = splits.at(s);
        const fs::path dir = fs::path(c.out) / name;
        make_dir(dir);
        const DeepcamSamples samples =
            make_deepcam(n, c.height, c.width, c.seed, s + 1, deepcam_difficulty(c.difficulty));
        for (std::int64_t i = 0; i < n; ++i) {
            result.bytes += write_h5(
                dir / numbered("data", i, ".h5"),
                {{"data", samples.data[i]}, {"labels_0", samples.labels[i].to(torch::kUInt8)}});
        }
        result.files += n;
        if (s == 0) {
            // Per-channel statistics of the training split (the reference normalises with them).
            const torch::Tensor x = samples.data.flatten(0, 2); // [N*H*W, 16]
            result.bytes +=
                write_h5(fs::path(c.out) / "stats.h5", {{"minval", std::get<0>(x.min(0))},
                                                        {"maxval", std::get<0>(x.max(0))},
                                                        {"mean", x.mean(0)},
                                                        {"std", x.std(0)}});
            result.files += 1;
        }
    }
}

/// Refuses, before anything is written, a stand-in larger than the free space where it goes
/// (the sizes are within their limits, so the product fits in 64 bits).
void check_free_space(const SynthConfig& c) {
    const std::uint64_t samples = static_cast<std::uint64_t>(c.train + c.validation);
    const auto side = static_cast<std::uint64_t>(c.size);
    const auto pixels = static_cast<std::uint64_t>(c.height * c.width);
    // npy: 128-byte headers; HDF5: about 2 kB of metadata per file.
    const std::uint64_t per_sample =
        c.kind == "cosmoflow"
            ? 128 + k_cosmoflow_channels * side * side * side * 2 + 128 + k_cosmoflow_targets * 4
            : pixels * (k_deepcam_channels * 4 + 1) + 2048;
    const std::uint64_t needed = samples * per_sample;
    fs::path existing = fs::absolute(c.out);
    std::error_code ec;
    while (!fs::exists(existing, ec) && existing.has_parent_path() &&
           existing != existing.parent_path()) {
        existing = existing.parent_path();
    }
    struct statvfs st {};
    if (::statvfs(existing.c_str(), &st) != 0 || st.f_blocks == 0) {
        // No figure to compare with (a pseudo file system such as /proc reports no blocks at
        // all): writing reports a full disk or an unwritable folder by file.
        return;
    }
    const std::uint64_t free = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
    if (needed > free) {
        const auto gib = [](std::uint64_t b) {
            return std::to_string(b / (1ULL << 30)) + "." +
                   std::to_string(b % (1ULL << 30) * 10 / (1ULL << 30)) + " GiB";
        };
        throw RuntimeFailure("data synth: " + std::to_string(samples) + " samples need about " +
                             gib(needed) + ", but " + existing.string() + " has " + gib(free) +
                             " free; nothing was written");
    }
}

} // namespace

SynthResult write_standin(const SynthConfig& config) {
    if (config.kind != "cosmoflow" && config.kind != "deepcam") {
        throw UsageError("unknown stand-in \"" + config.kind + "\"; expected cosmoflow or deepcam");
    }
    const DeepcamDifficulty difficulty = deepcam_difficulty(config.difficulty); // names checked
    if (config.kind == "cosmoflow" && difficulty != DeepcamDifficulty::uniform) {
        throw UsageError("data synth: --difficulty " + config.difficulty +
                         " is for deepcam; cosmoflow has one difficulty");
    }
    for (const auto& [option, n] : {std::pair<const char*, std::int64_t>{"--samples", config.train},
                                    {"--validation-samples", config.validation}}) {
        if (n < 1 || n > k_max_synth_samples) {
            throw UsageError(std::string("data synth ") + option + " " + std::to_string(n) +
                             " is out of range; expected 1 to " +
                             std::to_string(k_max_synth_samples) + " samples per split");
        }
    }
    if (config.kind == "cosmoflow" ? config.size < 4 || config.size > 512
                                   : config.height < 8 || config.width < 8 ||
                                         config.height > 8192 || config.width > 8192) {
        throw UsageError("data synth: cosmoflow needs 4 <= --size <= 512; deepcam needs "
                         "8 <= --height, --width <= 8192");
    }
    check_free_space(config);
    torch::NoGradGuard no_grad;
    const auto start = std::chrono::steady_clock::now();
    SynthResult result;
    make_dir(config.out);
    if (config.kind == "cosmoflow") {
        write_cosmoflow(config, result);
    } else {
        write_deepcam(config, result);
    }
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

} // namespace kakuren::trainer

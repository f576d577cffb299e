// check_model_fit (trainer/data_tools.hpp): the data's shapes from its headers, one forward
// pass, a one-line problem.
#include "trainer/data_tools.hpp"

#include <zlib.h>

#include <array>
#include <memory>

#include "trainer/model_fit.hpp"
#include "trainer/script_output.hpp"
#include "trainer/standins.hpp"
#include "trainer/stream.hpp"
#include "util/error.hpp"

namespace kakuren::trainer {
namespace {

/// A data set's shapes as make_model sees them; classes_exact false when the headers give only
/// a lower bound of the class count (the run counts them over every target).
struct HeaderShapes {
    DataInfo info;
    bool classes_exact = true;
};

std::int64_t big_endian(const unsigned char* p) {
    return (std::int64_t{p[0]} << 24) | (std::int64_t{p[1]} << 16) | (std::int64_t{p[2]} << 8) |
           std::int64_t{p[3]};
}

/// fashion-mnist / idx: the training images' IDX header (16 bytes, through gzip).
HeaderShapes idx_shapes(const DataConfig& config) {
    const std::string& file = config.train_images;
    const std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(file.c_str(), "rb"), gzclose);
    if (!f) {
        throw RuntimeFailure("cannot read " + file + ": no such file or not readable");
    }
    std::array<unsigned char, 16> header{};
    if (gzread(f.get(), header.data(), header.size()) != static_cast<int>(header.size())) {
        throw RuntimeFailure(file + ": shorter than an IDX image header (16 bytes)");
    }
    constexpr std::int64_t k_image_magic = 0x803;
    if (big_endian(header.data()) != k_image_magic) {
        throw RuntimeFailure(file + ": not an IDX image file (magic number " +
                             std::to_string(big_endian(header.data())) + ", expected 2051)");
    }
    HeaderShapes out;
    const std::int64_t rows = big_endian(header.data() + 8), cols = big_endian(header.data() + 12);
    out.info.channels = 1;
    out.info.height = rows;
    out.info.width = cols;
    out.info.sample_shape = {1, rows, cols};
    // fashion-mnist has 10; an idx data set's count is its largest label + 1, at least 2.
    out.classes_exact = config.dataset == "fashion-mnist";
    out.info.num_classes = out.classes_exact ? 10 : 2;
    return out;
}

/// data.dataset = "synthetic": the shapes the generator is configured for.
HeaderShapes synthetic_shapes(const DataConfig& config) {
    HeaderShapes out;
    DataInfo& info = out.info;
    const std::int64_t side = config.synthetic_size;
    info.height = side;
    info.width = side;
    if (config.synthetic_kind == "cosmoflow") {
        info.channels = k_cosmoflow_channels;
        info.sample_shape = {k_cosmoflow_channels, side, side, side};
        info.target_shape = {k_cosmoflow_targets};
    } else if (config.synthetic_kind == "deepcam") {
        info.num_classes = 3;
        info.channels = k_deepcam_channels;
        info.sample_shape = {k_deepcam_channels, side, side};
        info.target_shape = {side, side};
    } else {
        info.num_classes = config.synthetic_classes;
        info.channels = config.synthetic_channels;
        info.sample_shape = {info.channels, side, side};
    }
    return out;
}

/// npy / hdf5 / images: the training split's headers (its first image for images).
HeaderShapes stream_header_shapes(const DataConfig& config) {
    std::unique_ptr<RawReader> reader =
        open_stream_split(config, config.train_path, "data.train", image_options(config));
    const bool deepcam =
        config.dataset == "hdf5" && hdf5_split_normalisation(config.train_path).has_value();
    const StreamSource source(std::move(reader), config.train_limit, {}, 0, 1);
    HeaderShapes out;
    out.info = stream_shapes(source, deepcam);
    out.classes_exact = deepcam || source.reader().num_classes() > 0 || out.info.num_classes == 0;
    return out;
}

HeaderShapes header_shapes(const DataConfig& config) {
    if (config.dataset == "npy" || config.dataset == "hdf5" || config.dataset == "images") {
        return stream_header_shapes(config);
    }
    if (config.dataset == "synthetic") {
        return synthetic_shapes(config);
    }
    return idx_shapes(config);
}

/// A message's line breaks as "; ": a problem is one line.
std::string one_line(std::string text) {
    while (!text.empty() && text.back() == '\n') {
        text.pop_back();
    }
    for (std::size_t at = 0; (at = text.find('\n', at)) != std::string::npos;) {
        text.replace(at, 1, "; ");
    }
    return text;
}

std::string shape_text(std::vector<std::int64_t> sample) {
    sample.insert(sample.begin(), 2);
    return c10::str(c10::IntArrayRef(sample));
}

} // namespace

std::string root_cause(const std::exception& e) {
    const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
    std::string text = c10_error != nullptr ? c10_error->what_without_backtrace() : e.what();
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    const std::size_t newline = text.rfind('\n');
    std::string last = newline == std::string::npos ? text : text.substr(newline + 1);
    // "RuntimeError: why" / "builtins.ValueError: why": the Python exception's type is noise.
    const std::size_t colon = last.find(": ");
    if (colon != std::string::npos && last.find(' ') > colon) {
        const std::string type = last.substr(0, colon);
        if (type.ends_with("Error") || type.ends_with("Exception")) {
            last = last.substr(colon + 2);
        }
    }
    return last;
}

std::optional<DataProblem> check_model_fit(const Config& config) {
    const HeaderShapes data = header_shapes(config.data);
    const bool script = config.model.kind == "torchscript";
    const std::string key = script ? "model.path" : "model.kind";
    if (!script && (!config.model.output_key.empty() || config.model.output_index >= 0)) {
        return DataProblem{"model.output",
                           "model.output picks one entry of what a TorchScript module returns; "
                           "model.kind = \"" +
                               config.model.kind + "\" returns one tensor: remove model.output"};
    }
    ModelShape shape;
    try {
        const std::unique_ptr<Task> task = make_task(config.task, config.stats);
        shape = model_shape(data.info, *task, config.model, config.task.kind);
    } catch (const Error& e) {
        return DataProblem{script || config.model.inputs.empty() ? "task.kind" : "model.inputs",
                           one_line(e.what())};
    }
    shape.classes_at_least = !data.classes_exact;
    try {
        make_model(config.model, shape);
    } catch (const OutputChoiceError& e) {
        const bool chosen = !config.model.output_key.empty() || config.model.output_index >= 0;
        return DataProblem{chosen ? "model.output" : key, one_line(e.what())};
    } catch (const Error& e) {
        return DataProblem{key, one_line(e.what())};
    } catch (const std::exception& e) {
        const std::string subject = script ? "model.path " + config.model.path
                                           : "model.kind = \"" + config.model.kind + "\"";
        return DataProblem{key, subject +
                                    ": forward fails on a zero batch of the data's sample "
                                    "shape " +
                                    shape_text(shape.input_shape()) + ": " + root_cause(e)};
    }
    return std::nullopt;
}

} // namespace kakuren::trainer

#include "report/mlflow_export.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <system_error>

#include "report/recipe_summary.hpp"
#include "util/error.hpp"
#include "util/system.hpp"

namespace kakuren::report {
namespace {

namespace fs = std::filesystem;

/// MLflow's SourceType.LOCAL, written as source_type in a run's meta.yaml.
constexpr int k_source_local = 4;

std::optional<double> some(double v) {
    return v;
}

/// A YAML single-quoted scalar: every character stands for itself except '' (one quote).
std::string yaml_quote(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        out += c == '\'' ? std::string("''") : std::string(1, c);
    }
    return out + "'";
}

/// The scalar of a `key: value` line as MLflow's yaml.safe_dump writes it: plain, 'single' or
/// "double" quoted (the escapes an experiment name can need).
std::string yaml_scalar(std::string v) {
    while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) {
        v.pop_back();
    }
    if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') {
        std::string out;
        for (std::size_t i = 1; i + 1 < v.size(); ++i) {
            out += v[i];
            if (v[i] == '\'' && v[i + 1] == '\'') {
                ++i;
            }
        }
        return out;
    }
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        std::string out;
        for (std::size_t i = 1; i + 1 < v.size(); ++i) {
            if (v[i] == '\\' && i + 2 < v.size()) {
                ++i;
            }
            out += v[i];
        }
        return out;
    }
    return v;
}

/// The top-level `key: value` pairs of a meta.yaml (nested values are not needed here).
std::map<std::string, std::string> read_meta(const fs::path& file) {
    std::map<std::string, std::string> out;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        const std::size_t colon = line.find(": ");
        if (line.empty() || line.front() == ' ' || colon == std::string::npos) {
            continue;
        }
        out[line.substr(0, colon)] = yaml_scalar(line.substr(colon + 2));
    }
    return out;
}

/// file:// URI of an absolute path, percent-encoding what a URI may not hold (as pathlib does).
std::string file_uri(const fs::path& path) {
    std::string out = "file://";
    for (unsigned char c : path.string()) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '/' || c == '-' || c == '_' || c == '.' ||
                           c == '~';
        if (plain) {
            out += static_cast<char>(c);
        } else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

/// Shortest text that reads back as the same double (Python's float() reads it).
std::string number_text(double v) {
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

void append_utf8(std::string& out, unsigned long cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

/// A parameter's value: a TOML basic string unquoted and unescaped, anything else (numbers,
/// booleans, arrays) as its TOML text.
std::string param_value(const std::string& toml) {
    if (toml.size() < 2 || toml.front() != '"' || toml.back() != '"') {
        return toml;
    }
    std::string out;
    for (std::size_t i = 1; i + 1 < toml.size(); ++i) {
        const char c = toml[i];
        if (c != '\\' || i + 2 >= toml.size()) {
            out += c;
            continue;
        }
        const char e = toml[++i];
        switch (e) {
        case 'n':
            out += '\n';
            break;
        case 't':
            out += '\t';
            break;
        case 'r':
            out += '\r';
            break;
        case 'b':
            out += '\b';
            break;
        case 'f':
            out += '\f';
            break;
        case 'u':
        case 'U': {
            const std::size_t len = e == 'u' ? 4 : 8;
            const std::string hex = toml.substr(i + 1, len);
            append_utf8(out, std::strtoul(hex.c_str(), nullptr, 16));
            i += len;
            break;
        }
        default:
            out += e; // a quote or a backslash
        }
    }
    return out;
}

/// Replaces file with text unless it holds that text already. Written beside the run's folders
/// (tmp, in the run folder, where MLflow lists nothing) and renamed into place, so that a reader
/// such as `mlflow ui` sees the old or the new file, never a half one or a stray name. No fsync:
/// unlike kakuren's own records, an export is rerun at will, and it keeps an export of hundreds
/// of runs (about 140 files each) fast.
void replace_file(const fs::path& file, const std::string& text, const fs::path& tmp) {
    {
        std::ifstream in(file, std::ios::binary);
        if (in) {
            const std::string old((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
            if (old == text) {
                return;
            }
        }
    }
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        out.close();
        if (!out) {
            throw RuntimeFailure("cannot write " + tmp.string() + " (disk full or read-only?)");
        }
    }
    fs::rename(tmp, file);
}

/// Writes the files of one folder (name -> content); remove_others: also removes the other
/// files there, so that the folder holds exactly this export.
void write_folder(const fs::path& dir, const std::map<std::string, std::string>& files,
                  bool remove_others, const fs::path& tmp) {
    fs::create_directories(dir);
    if (remove_others) {
        for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
            if (e.is_regular_file() && files.count(e.path().filename().string()) == 0) {
                fs::remove(e.path());
            }
        }
    }
    for (const auto& [name, text] : files) {
        replace_file(dir / name, text, tmp);
    }
}

/// The recipe's keys with their values, as MLflow parameters.
std::map<std::string, std::string> run_params(const db::RunRow& run) {
    std::map<std::string, std::string> params;
    for (const auto& [key, value] : flat_toml(run.recipe_text)) {
        params[key] = param_value(value);
    }
    return params;
}

/// One metric file per epoch_metrics() entry recorded in any epoch: "timestamp value step".
std::map<std::string, std::string> run_metrics(const db::RunRow& run,
                                               const std::vector<db::EpochRow>& epochs) {
    const std::int64_t fallback_ms =
        iso8601_to_ms(run.started_at).value_or(iso8601_to_ms(run.created_at).value_or(0));
    std::map<std::string, std::string> metrics;
    for (const EpochMetric& m : epoch_metrics()) {
        std::string lines;
        for (const db::EpochRow& e : epochs) {
            if (const std::optional<double> v = m.value(e, run.num_samples)) {
                lines += std::to_string(iso8601_to_ms(e.ended_at).value_or(fallback_ms)) + " " +
                         number_text(*v) + " " + std::to_string(e.epoch) + "\n";
            }
        }
        if (!lines.empty()) {
            metrics[m.key] = lines;
        }
    }
    return metrics;
}

std::map<std::string, std::string> run_tags(const db::RunRow& run, const fs::path& workspace) {
    std::map<std::string, std::string> tags{
        {"mlflow.runName", run.id},
        {"mlflow.source.name", run.recipe_path},
        {"mlflow.source.type", "LOCAL"},
        {"strategy", run.strategy},
        {"hiding", hiding_label(flat_toml(run.recipe_text))},
        {"seed", std::to_string(run.seed)},
        {"status", db::to_string(run.status)},
        {"metric", run.metric},
        {"kakuren.run_id", run.id},
        {"kakuren.name", run.name},
        {"kakuren.workspace", workspace.string()},
        {"kakuren.run_dir", run.run_dir},
        {"kakuren.recipe_hash", run.recipe_hash},
    };
    if (!run.reason.empty()) {
        tags["kakuren.reason"] = run.reason;
    }
    if (!run.sweep.empty()) {
        tags["sweep"] = run.sweep;
    }
    return tags;
}

std::string run_meta(const db::RunRow& run, const std::string& uuid,
                     const std::string& experiment_id, const fs::path& run_dir) {
    const std::string start = run.started_at.empty() ? run.created_at : run.started_at;
    const std::optional<std::int64_t> end_ms = iso8601_to_ms(run.ended_at);
    const char* user = std::getenv("USER");
    // The fields MLflow's FileStore.create_run writes (run_uuid too, for MLflow 1.x readers).
    return "artifact_uri: " + yaml_quote(file_uri(run_dir / "artifacts")) + "\n" +
           "deleted_time: null\n" +
           "end_time: " + (end_ms ? std::to_string(*end_ms) : std::string("null")) + "\n" +
           "entry_point_name: ''\n" + "experiment_id: " + yaml_quote(experiment_id) + "\n" +
           "lifecycle_stage: active\n" + "run_id: " + uuid + "\n" +
           "run_name: " + yaml_quote(run.id) + "\n" + "run_uuid: " + uuid + "\n" +
           "source_name: ''\n" + "source_type: " + std::to_string(k_source_local) + "\n" +
           "source_version: ''\n" +
           "start_time: " + std::to_string(iso8601_to_ms(start).value_or(0)) + "\n" +
           "status: " + std::to_string(mlflow_status(run.status)) + "\n" + "tags: []\n" +
           "user_id: " + yaml_quote(user != nullptr && *user != '\0' ? user : "unknown") + "\n";
}

std::string experiment_meta(const std::string& name, const std::string& id, const fs::path& dir) {
    const std::string now = std::to_string(util::now_ms());
    return "artifact_location: " + yaml_quote(file_uri(dir)) + "\n" + "creation_time: " + now +
           "\n" + "experiment_id: " + yaml_quote(id) + "\n" + "last_update_time: " + now + "\n" +
           "lifecycle_stage: active\n" + "name: " + yaml_quote(name) + "\n";
}

} // namespace

const std::vector<EpochMetric>& epoch_metrics() {
    using R = const db::EpochRow&;
    using N = std::int64_t;
    static const std::vector<EpochMetric> metrics = {
        {"train_loss", "mean training loss over the trained samples",
         [](R e, N) { return some(e.train_loss); }},
        {"train_accuracy", "fraction of trained samples right",
         [](R e, N) { return some(e.train_accuracy); }},
        {"test_loss", "mean loss on the test split", [](R e, N) { return some(e.test_loss); }},
        {"test_accuracy", "the run's evaluation metric (tag metric: accuracy, IoU or MAE)",
         [](R e, N) { return some(e.test_accuracy); }},
        {"lr", "scheduled learning rate", [](R e, N) { return some(e.lr); }},
        {"lr_scale", "hiding's compensation factor on it", [](R e, N) { return some(e.lr_scale); }},
        {"requested_fraction", "hidden fraction allowed this epoch (F_e)",
         [](R e, N) { return some(e.max_fraction); }},
        {"realised_fraction", "samples hidden / training samples",
         [](R e, N n) {
             return some(n > 0 ? static_cast<double>(e.hidden) / static_cast<double>(n) : 0.0);
         }},
        {"visible", "samples trained with a backward pass",
         [](R e, N) { return some(static_cast<double>(e.visible)); }},
        {"hidden", "samples hidden", [](R e, N) { return some(static_cast<double>(e.hidden)); }},
        {"moved_back", "hiding candidates moved back to training",
         [](R e, N) { return some(static_cast<double>(e.moved_back)); }},
        {"candidates", "samples eligible for hiding",
         [](R e, N) { return some(static_cast<double>(e.candidates)); }},
        {"refreshed", "hidden samples given a forward-only refresh",
         [](R e, N) { return some(static_cast<double>(e.refreshed)); }},
        {"train_s", "seconds in the training pass (compute, data, communication)",
         [](R e, N) { return some(e.train_s); }},
        {"hidden_pass_s", "seconds refreshing hidden samples (forward only)",
         [](R e, N) { return some(e.hidden_pass_s); }},
        {"eval_s", "seconds in evaluation", [](R e, N) { return some(e.eval_s); }},
        {"total_s", "seconds for the whole epoch", [](R e, N) { return some(e.total_s); }},
        {"samples_per_s", "trained samples per second of train_s",
         [](R e, N) { return some(e.samples_per_s); }},
        {"comm_s", "seconds waited on other ranks, not hidden behind compute (multi-rank runs)",
         [](R e, N) { return e.comm_s; }},
        {"bytes_read", "bytes read from the training files (streamed data sets)",
         [](R e, N) {
             return e.bytes_read ? some(static_cast<double>(*e.bytes_read)) : std::nullopt;
         }},
    };
    return metrics;
}

std::string mlflow_run_uuid(const std::string& kakuren_run_id) {
    return util::sha256_hex("kakuren:" + kakuren_run_id).substr(0, 32);
}

int mlflow_status(db::RunStatus status) {
    switch (status) {
    case db::RunStatus::created:
        return 2;
    case db::RunStatus::running:
        return 1;
    case db::RunStatus::succeeded:
    case db::RunStatus::finished:
        return 3;
    case db::RunStatus::failed:
    case db::RunStatus::crashed:
        return 4;
    case db::RunStatus::interrupted:
        return 5;
    }
    return 4;
}

std::optional<std::int64_t> iso8601_to_ms(const std::string& text) {
    std::tm tm{};
    int ms = 0;
    int used = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6) {
        return std::nullopt;
    }
    const std::string rest = text.substr(static_cast<std::size_t>(used));
    if (rest.size() == 5 && rest[0] == '.' && rest[4] == 'Z') {
        ms = std::atoi(rest.substr(1, 3).c_str());
    } else if (rest != "Z") {
        return std::nullopt;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

MlflowStore::MlflowStore(const fs::path& root) : m_root(fs::absolute(root).lexically_normal()) {
    std::error_code ec;
    if (fs::exists(m_root, ec) && !fs::is_directory(m_root, ec)) {
        throw RuntimeFailure(m_root.string() +
                             " is not a folder; --mlflow takes the folder of an MLflow file "
                             "store (created when missing), e.g. ./mlruns");
    }
    fs::create_directories(m_root, ec);
    if (ec) {
        throw RuntimeFailure("cannot create " + m_root.string() + ": " + ec.message());
    }
    try {
        read_experiments();
    } catch (const fs::filesystem_error& e) {
        throw RuntimeFailure("cannot use " + m_root.string() + " as an MLflow store: " +
                             e.code().message() + " (" + e.path1().string() + ")");
    }
}

void MlflowStore::read_experiments() {
    for (const fs::directory_entry& e : fs::directory_iterator(m_root)) {
        const fs::path meta = e.path() / "meta.yaml";
        if (!e.is_directory() || !fs::is_regular_file(meta)) {
            continue;
        }
        std::map<std::string, std::string> m = read_meta(meta);
        m_names[e.path().filename().string()] = m["name"];
        if (m["lifecycle_stage"] != "deleted") {
            m_experiments.emplace(m["name"], e.path().filename().string());
        }
    }
    if (m_names.count("0") == 0) {
        fs::create_directories(m_root / "0");
        util::atomic_write(m_root / "0" / "meta.yaml",
                           experiment_meta("Default", "0", m_root / "0"));
        m_names["0"] = "Default";
        m_experiments.emplace("Default", "0");
    }
    fs::create_directories(m_root / ".trash");
}

std::string MlflowStore::experiment_id(const std::string& name) {
    if (const auto it = m_experiments.find(name); it != m_experiments.end()) {
        return it->second;
    }
    // A stable id from the name (MLflow's own ids are random 18-digit numbers): exporting into a
    // fresh folder twice gives the same ids. A folder taken by another name tries the next salt.
    std::string id;
    for (int salt = 0; id.empty() || m_names.count(id) > 0 || fs::exists(m_root / id); ++salt) {
        const std::string hex =
            util::sha256_hex("kakuren-experiment:" + name + "#" + std::to_string(salt))
                .substr(0, 15);
        id = std::to_string(std::strtoull(hex.c_str(), nullptr, 16));
    }
    fs::create_directories(m_root / id);
    util::atomic_write(m_root / id / "meta.yaml", experiment_meta(name, id, m_root / id));
    m_experiments.emplace(name, id);
    m_names[id] = name;
    return id;
}

MlflowRun MlflowStore::write_run(const db::RunRow& run, const std::vector<db::EpochRow>& epochs,
                                 const std::string& experiment, const fs::path& workspace) {
    MlflowRun out;
    out.kakuren_run_id = run.id;
    out.experiment_name = experiment;
    out.mlflow_run_id = mlflow_run_uuid(run.id);
    const std::map<std::string, std::string> params = run_params(run);
    const std::map<std::string, std::string> metrics = run_metrics(run, epochs);
    const std::map<std::string, std::string> tags = run_tags(run, workspace);
    try {
        out.experiment_id = experiment_id(experiment);
        out.dir = m_root / out.experiment_id / out.mlflow_run_id;
        // Exported before into another experiment: moved, MLflow finds a run in one place only.
        for (const auto& [id, name] : m_names) {
            const fs::path old = m_root / id / out.mlflow_run_id;
            if (id != out.experiment_id && fs::is_directory(old)) {
                fs::rename(old, out.dir);
            }
        }
        fs::create_directories(out.dir / "artifacts");
        const fs::path tmp = out.dir / ".kakuren-export.tmp";
        write_folder(out.dir / "params", params, true, tmp);
        write_folder(out.dir / "metrics", metrics, true, tmp);
        // Tags a user added in MLflow (a note, a label) stay.
        write_folder(out.dir / "tags", tags, false, tmp);
        replace_file(out.dir / "meta.yaml",
                     run_meta(run, out.mlflow_run_id, out.experiment_id, out.dir), tmp);
    } catch (const fs::filesystem_error& e) {
        throw RuntimeFailure("cannot write run " + run.id + " into " + m_root.string() + ": " +
                             e.code().message() + " (" + e.path1().string() + ")");
    }
    out.num_params = static_cast<int>(params.size());
    out.num_metrics = static_cast<int>(metrics.size());
    out.num_tags = static_cast<int>(tags.size());
    out.num_epochs = static_cast<int>(epochs.size());
    return out;
}

} // namespace kakuren::report

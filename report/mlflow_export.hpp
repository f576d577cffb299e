#pragma once
// `kakuren export --mlflow DIR`: runs written in MLflow's file-store layout, so that `mlflow ui`
// and mlflow.tracking.MlflowClient("file://DIR") list them beside the user's other experiments.
//
// The layout (mlflow/store/tracking/file_store.py, which reads it):
//   DIR/<experiment id>/meta.yaml                  name, experiment_id, artifact_location, ...
//   DIR/<experiment id>/<run uuid>/meta.yaml       run_id, run_name, status, start/end time, ...
//   DIR/<experiment id>/<run uuid>/params/<key>    the value, as the file's whole text
//   DIR/<experiment id>/<run uuid>/metrics/<key>   one "timestamp_ms value step" line per epoch
//   DIR/<experiment id>/<run uuid>/tags/<key>      the value
// plus DIR/0 (MLflow's Default experiment) and DIR/.trash, which MLflow itself creates.
//
// Idempotent: the run uuid is derived from the kakuren run id and every file is replaced whole
// (left alone when its text is unchanged), so exporting again updates a run instead of adding a
// second one, and costs little for runs that did not change.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "db/store.hpp"

namespace kakuren::report {

/// One per-epoch metric: its MLflow key (the field name of `kakuren show --format json`), what it
/// means, and how it is read from an epoch row (nullopt: not recorded for this epoch).
struct EpochMetric {
    const char* key;
    const char* meaning;
    std::optional<double> (*value)(const db::EpochRow& row, std::int64_t num_samples);
};
/// Every metric the export writes, in this order (docs/notes-h24export.md lists the same table).
const std::vector<EpochMetric>& epoch_metrics();

/// The MLflow run id of a kakuren run: 32 lowercase hex digits of sha256("kakuren:" + id).
std::string mlflow_run_uuid(const std::string& kakuren_run_id);

/// MLflow's RunStatus number for a kakuren run status (RUNNING 1, SCHEDULED 2, FINISHED 3,
/// FAILED 4, KILLED 5): created -> SCHEDULED, succeeded and finished -> FINISHED, failed and
/// crashed -> FAILED, interrupted -> KILLED.
int mlflow_status(db::RunStatus status);

/// "2026-11-26T15:07:22.123Z" as milliseconds since the Unix epoch; nullopt for other text.
std::optional<std::int64_t> iso8601_to_ms(const std::string& text);

/// What one run became in the MLflow store.
struct MlflowRun {
    std::string kakuren_run_id;
    std::string experiment_id, experiment_name;
    std::string mlflow_run_id;
    std::filesystem::path dir; ///< DIR/<experiment id>/<run uuid>
    int num_params = 0, num_metrics = 0, num_tags = 0, num_epochs = 0;
};

/// An MLflow file store root that runs are written into.
class MlflowStore {
  public:
    /// Opens root (made absolute; created with its parents when missing) and reads the
    /// experiments already there. Creates the Default experiment (id 0) and .trash when absent,
    /// as MLflow does. Throws RuntimeFailure when root is not a folder or cannot be written.
    explicit MlflowStore(const std::filesystem::path& root);

    /// Writes (or rewrites) one run: into the experiment named experiment (created with a
    /// stable numeric id derived from the name when no experiment of that name exists; a
    /// deleted one in .trash is not reused). params = the resolved recipe's keys (strings
    /// unquoted, other values as their TOML text), metrics = epoch_metrics() per epoch with
    /// step = epoch and timestamp = the epoch's end, tags = strategy, hiding, seed, status,
    /// metric, sweep, kakuren.* provenance, mlflow.runName = the run id. A run exported before
    /// into another experiment is moved. Throws RuntimeFailure naming the file that failed.
    MlflowRun write_run(const db::RunRow& run, const std::vector<db::EpochRow>& epochs,
                        const std::string& experiment, const std::filesystem::path& workspace);

    [[nodiscard]] const std::filesystem::path& root() const { return m_root; }

  private:
    /// Reads the experiments of m_root; adds the Default experiment and .trash when absent.
    void read_experiments();
    /// The id of the experiment of that name, creating it when absent.
    std::string experiment_id(const std::string& name);
    std::filesystem::path m_root;
    std::map<std::string, std::string> m_experiments; ///< active experiments: name -> id
    std::map<std::string, std::string> m_names;       ///< every experiment folder: id -> name
};

} // namespace kakuren::report

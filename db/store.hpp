#pragma once
// The workspace's SQLite store: schema (PRAGMA user_version + migrations), typed queries.
// One writer (the training process); readers wait on a busy timeout instead of failing.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/sample_stats.hpp"

struct sqlite3;

namespace kakuren::db {

/// Database failure; the message says what failed and what to do.
class DbError : public RuntimeFailure {
  public:
    using RuntimeFailure::RuntimeFailure;
};

/// A run id prefix matches several runs (a command-line error: exit code 2, like no match).
class AmbiguousRun : public DbError {
  public:
    using DbError::DbError;
};

/// The database file this process opened was deleted or replaced by another file: nothing more
/// can be recorded in it.
class DbReplaced : public DbError {
  public:
    using DbError::DbError;
};

/// Run lifecycle: created -> running -> (succeeded | finished | failed | interrupted | crashed).
/// succeeded = target accuracy reached; finished = all epochs done without a target (or not
/// reached); interrupted = stopped by a signal; crashed = its process vanished (noticed by a later
/// command).
enum class RunStatus { created, running, succeeded, finished, failed, interrupted, crashed };
std::string to_string(RunStatus s);
RunStatus run_status_from_string(const std::string& s); ///< throws DbError on an unknown name
/// True for the statuses that end a run: all but created and running.
bool is_final_status(RunStatus s);

struct RunRow {
    std::string id;
    std::string name;
    std::string recipe_path; ///< absolute
    std::string recipe_text; ///< resolved recipe (canonical TOML)
    std::string recipe_hash; ///< sha256 hex of recipe_text
    std::string strategy;    ///< hiding strategy, for listing
    double fraction = 0;     ///< requested F
    std::int64_t seed = 0;
    std::int64_t num_samples = 0;
    int num_epochs = 0;
    RunStatus status = RunStatus::created;
    std::string created_at;           ///< ISO 8601 UTC
    std::string started_at, ended_at; ///< empty when unset
    std::string run_dir;          ///< absolute path of runs/<id> (stored relative: run_paths.hpp)
    std::string reason;           ///< why it ended (failures), empty otherwise
    std::int64_t epochs_done = 0; ///< derived: count of epoch rows
    std::optional<double> final_accuracy, best_accuracy; ///< derived from epoch rows
    double mean_realised_fraction = 0;                   ///< derived: hidden / (N * epochs)
    std::string sweep; ///< kakuren submit --sweep group, empty otherwise
    /// The evaluation metric test_accuracy holds: accuracy | IoU | MAE (MAE: lower is better,
    /// best_accuracy is the minimum). "accuracy" for runs of older versions.
    std::string metric = "accuracy";
};

struct AttemptRow {
    std::string run_id;
    int attempt = 1;
    std::string host;
    std::int64_t pid = 0;
    std::int64_t pid_start_ticks = 0; ///< /proc/<pid>/stat field 22, guards against pid reuse
    std::string started_at, ended_at;
    std::string status; ///< running | succeeded | finished | failed | interrupted | crashed
    std::string reason;
    std::string job_id;            ///< scheduler job that ran it; empty for kakuren run
    int world_size = 1;            ///< ranks
    std::string nodes;             ///< host names of the ranks, comma-separated
    std::int64_t heartbeat_ms = 0; ///< owner's latest heartbeat (ms since the epoch), 0 = none
};

/// What decides whether a running attempt's owner still lives (Store::reap_dead_runs).
struct OwnerProbe {
    std::string run_id;
    std::string run_dir; ///< the run's folder (holds the owner's lock)
    int attempt = 0;
    std::string host;
    std::int64_t pid = 0, pid_start_ticks = 0;
    std::int64_t heartbeat_ms = 0; ///< 0 = none recorded
};

/// Where an attempt runs when a scheduler started it (Store::begin_attempt).
struct AttemptPlace {
    std::string job_id; ///< "1234", "1234_2", or a local pid
    int world_size = 1;
    std::string nodes; ///< comma-separated
};

/// One job submitted for a run (table jobs).
struct JobRow {
    std::string run_id;
    int submission = 0;  ///< 1 = kakuren submit, 2.. = resumes (0 in insert_job = next)
    std::string backend; ///< slurm | local
    std::string job_id;  ///< "1234", "1234_2" (array task), or the local pid
    std::string host;    ///< submitted from
    std::string state;   ///< pending | running | requeued | completed | failed | cancelled
    std::string reason;  ///< why it failed or was cancelled
    int requeues = 0;
    std::string submitted_at, ended_at; ///< ISO 8601 UTC; ended_at empty until final
    std::string script;                 ///< batch script path
};

/// True for the job states that never change again (completed, failed, cancelled).
bool is_final_job_state(const std::string& state);

struct EpochRow {
    std::string run_id;
    int epoch = 0; ///< 1-based, as in the MLPerf log
    double train_loss = 0, train_accuracy = 0;
    double test_loss = 0, test_accuracy = 0;
    double lr = 0, lr_scale = 1; ///< scheduled LR, and the compensation factor applied
    double max_fraction = 0;     ///< F_e requested
    std::int64_t visible = 0, hidden = 0, moved_back = 0, candidates = 0, refreshed = 0;
    double train_s = 0, hidden_pass_s = 0, eval_s = 0, total_s = 0;
    double samples_per_s = 0; ///< trained samples per second of train_s
    std::string ended_at;
    /// Seconds waited on collectives not hidden behind computation (schema v5; 0 with one
    /// rank; nullopt for epochs recorded before v5).
    std::optional<double> comm_s;
    /// Bytes all ranks read from the training split's files (streaming sources); nullopt for a
    /// data set held in memory.
    std::optional<std::int64_t> bytes_read;
};

/// One committed checkpoint (table checkpoints, without its per-sample blobs).
struct CheckpointRow {
    std::string run_id;
    std::string name;       ///< folder name under runs/<id>/checkpoints/
    int epoch = 0;          ///< 1-based: in progress, or just completed when epoch_end
    std::int64_t step = 0;  ///< batches done in that epoch
    bool epoch_end = false; ///< the epoch is complete
    int attempt = 0;        ///< the attempt that wrote it
    std::string reason;     ///< epoch | steps | seconds | signal | final
    std::string created_at; ///< ISO 8601 UTC; empty = now when recording
    std::int64_t size_bytes = 0;
    std::optional<double> test_accuracy; ///< at an epoch end
    std::int64_t mllog_bytes = 0;
    std::string manifest; ///< "<sha256>  <file>" lines
    std::int64_t num_samples = 0, num_hidden = 0;
};

/// A checkpoint's per-sample statistics and hidden set.
struct CheckpointState {
    util::SampleStats stats;              ///< length N
    std::vector<std::int64_t> hidden_ids; ///< ascending
};

class Store {
  public:
    /// Opens (creating and migrating if needed) the database file in an existing folder. Sets
    /// WAL, a busy timeout, foreign keys. Throws DbError naming the file and the cause; also for a
    /// file without write permission bits (refused even for root) and for a schema newer than this
    /// build knows. create = false: a missing file is an error (DbError), never created.
    static Store open(const std::filesystem::path& file, bool create = true);
    Store(Store&&) noexcept;
    Store& operator=(Store&&) noexcept;
    ~Store();

    int schema_version() const;
    static int latest_schema_version();

    /// Inserts a new run (the derived fields are ignored; an empty created_at means now).
    /// Throws DbError if the id exists.
    void insert_run(const RunRow& run);
    /// Records the training-set size once the data is loaded (the run row exists before).
    void set_run_num_samples(const std::string& run_id, std::int64_t num_samples);
    /// Sets status and reason (empty = none); a final status also sets ended_at to now, running
    /// sets started_at if unset. Throws DbError for an unknown run.
    void set_run_status(const std::string& run_id, RunStatus status,
                        const std::string& reason = {});
    /// The run with this exact id, else the one run whose id starts with it; nullopt if none
    /// (or empty). Throws AmbiguousRun listing up to 5 candidates when the prefix is ambiguous.
    std::optional<RunRow> find_run(const std::string& id_or_prefix) const;
    std::vector<RunRow> list_runs() const; ///< newest first (created_at)

    /// Starts attempt max+1 for the run (this process), marks the run running; returns its number.
    /// Clears the run's ended_at and reason; started_at keeps the first attempt's start.
    int begin_attempt(const std::string& run_id, const std::string& host, std::int64_t pid,
                      std::int64_t pid_start_ticks);
    /// Ends an attempt and its run with status (succeeded | finished | failed | interrupted |
    /// crashed) and reason (empty = none), ended_at now. Throws DbError for another status or an
    /// unknown attempt.
    void end_attempt(const std::string& run_id, int attempt, const std::string& status,
                     const std::string& reason = {});
    /// Same, for an attempt a scheduler started: records its job, ranks and nodes.
    int begin_attempt(const std::string& run_id, const std::string& host, std::int64_t pid,
                      std::int64_t pid_start_ticks, const AttemptPlace& place);
    std::vector<AttemptRow> attempts(const std::string& run_id) const; ///< by attempt number

    /// Records a submitted job as the run's next submission (pending); returns its number.
    int insert_job(const JobRow& job);
    /// Replaces a job's job_id (known only after submitting; the row exists before so that a
    /// job starting at once finds it).
    void set_job_id(const std::string& run_id, int submission, const std::string& job_id);
    /// Sets a job's state and reason (empty = keep; completed clears it); a final state also
    /// sets ended_at. A job
    /// already final keeps its state (a late report cannot undo a cancel). Returns whether the
    /// row changed.
    bool set_job_state(const std::string& run_id, int submission, const std::string& state,
                       const std::string& reason = {});
    /// Marks the job running again when its script starts (after a requeue), unless it was
    /// cancelled; clears ended_at. Returns false for a cancelled job.
    bool restart_job(const std::string& run_id, int submission);
    /// Counts one more requeue of the job and marks it requeued.
    void count_requeue(const std::string& run_id, int submission, const std::string& reason);
    std::vector<JobRow> jobs(const std::string& run_id) const; ///< by submission
    /// The newest submission of every run that has one, by run id (one query).
    std::vector<JobRow> latest_jobs() const;
    /// Sets the sweep group of runs.
    void set_run_sweep(const std::string& run_id, const std::string& sweep);

    /// Writes an epoch row, the latest per-sample state and the epoch's hidden set in one
    /// transaction (replacing an earlier record of the same epoch). hidden_ids ascending, each in
    /// [0, N); state of length N, recorded as the state after row.epoch. Throws DbError
    /// otherwise, and then writes nothing.
    void record_epoch(const EpochRow& row, const util::SampleStatsView& state,
                      std::span<const std::int64_t> hidden_ids, std::int64_t num_samples);
    std::vector<EpochRow> epochs(const std::string& run_id) const;
    /// The run's latest per-sample statistics; nullopt if none is recorded. When found and epoch
    /// is not null, *epoch is the epoch (1-based) after which they were recorded. Throws DbError
    /// when the stored arrays do not match the sample count.
    std::optional<util::SampleStats> sample_state(const std::string& run_id,
                                                  int* epoch = nullptr) const;
    /// Hidden ids of one epoch (1-based), ascending; nullopt if the epoch is not recorded.
    std::optional<std::vector<std::int64_t>> hidden_set(const std::string& run_id, int epoch) const;
    /// For each recorded epoch (1-based, ascending): whether sample_id was hidden. Throws
    /// DbError if sample_id is not in [0, N).
    std::vector<std::pair<int, bool>> sample_history(const std::string& run_id,
                                                     std::int64_t sample_id) const;

    /// Marks runs whose attempt is "running" on this host but whose process is gone as crashed.
    /// is_alive(pid, start_ticks) decides (nullptr: util::process_alive); returns the ids
    /// marked. A stale attempt older than the run's latest is marked crashed, its run is not.
    std::vector<std::string> reap_dead_runs(const std::string& host,
                                            bool (*is_alive)(std::int64_t, std::int64_t));
    /// Same for running attempts on any host: is_alive(probe) decides for each (false = its
    /// owner is provably gone); reason(probe) says why for the record.
    std::vector<std::string>
    reap_dead_runs(const std::function<bool(const OwnerProbe&)>& is_alive,
                   const std::function<std::string(const OwnerProbe&)>& reason);

    /// Records the owner's heartbeat (now) on a running attempt.
    void heartbeat(const std::string& run_id, int attempt);

    /// Throws DbReplaced when the file at this store's path is no longer the one it opened
    /// (deleted, or another file moved there); the message says what to do.
    void check_same_file() const;
    /// PRAGMA quick_check: throws DbError with SQLite's findings and what to do when the file is
    /// damaged.
    void check_integrity() const;
    [[nodiscard]] const std::filesystem::path& file() const { return m_file; }

    /// Records a committed checkpoint: its row, per-sample statistics (length N = row.num_samples)
    /// and hidden set (ascending ids in [0, N)) in one transaction; row.num_hidden is computed.
    /// Throws DbError (and writes nothing) for a duplicate name, bad lengths or ids.
    void record_checkpoint(const CheckpointRow& row, const util::SampleStatsView& state,
                           std::span<const std::int64_t> hidden_ids);
    /// The run's checkpoints, oldest first (by epoch, epoch_end, step).
    std::vector<CheckpointRow> checkpoints(const std::string& run_id) const;
    /// A checkpoint's per-sample state; nullopt if there is no such checkpoint. Throws DbError
    /// when its blobs do not match its sample count.
    std::optional<CheckpointState> checkpoint_state(const std::string& run_id,
                                                    const std::string& name) const;
    /// Deletes these checkpoints' rows in one transaction (unknown names are ignored).
    void delete_checkpoints(const std::string& run_id, const std::vector<std::string>& names);
    /// Forgets what a run recorded after its first epochs_done epochs (a resume continues from
    /// there): epoch rows and hidden sets of later epochs, and the latest per-sample state if it
    /// is from a later epoch. One transaction.
    void rewind_run(const std::string& run_id, int epochs_done);
    /// Replaces a run's resolved recipe (a resume with a changed recipe) and its planned epochs.
    void update_run_recipe(const std::string& run_id, const std::string& recipe_text,
                           const std::string& recipe_hash, int num_epochs);

    sqlite3* handle() const { return m_db.get(); }

  private:
    struct Closer {
        void operator()(sqlite3* db) const;
    };
    explicit Store(std::unique_ptr<sqlite3, Closer> db, std::filesystem::path file);
    /// row with its run_dir made absolute (db/run_paths.hpp).
    [[nodiscard]] RunRow with_run_dir(RunRow row) const;
    std::unique_ptr<sqlite3, Closer> m_db;
    std::filesystem::path m_file;
    std::uint64_t m_dev = 0, m_ino = 0; ///< identity of the file opened
};

} // namespace kakuren::db

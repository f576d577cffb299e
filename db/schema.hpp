#pragma once
// The store's migrations: step i takes a database from PRAGMA user_version i to i + 1.
// Append new steps; never edit a step that has shipped.
#include <array>
#include <string_view>

namespace kakuren::db {

// Version 1: the first schema. Every column is documented; docs/database.md copies this.
inline constexpr std::string_view k_schema_v1 = R"sql(
-- One row per training run (kakuren run / submit).
CREATE TABLE runs (
    id           TEXT PRIMARY KEY,   -- run id (also the folder name under runs/)
    name         TEXT NOT NULL,      -- [run] name from the recipe
    recipe_path  TEXT NOT NULL,      -- absolute path of the recipe file used
    recipe_text  TEXT NOT NULL,      -- the resolved recipe (canonical TOML)
    recipe_hash  TEXT NOT NULL,      -- sha256 hex of recipe_text
    strategy     TEXT NOT NULL,      -- hiding strategy (none | kakurenbo)
    fraction     REAL NOT NULL,      -- requested maximum hidden fraction F
    seed         INTEGER NOT NULL,   -- run seed
    num_samples  INTEGER NOT NULL,   -- N, training samples
    num_epochs   INTEGER NOT NULL,   -- epochs planned
    status       TEXT NOT NULL DEFAULT 'created'
                 CHECK (status IN ('created', 'running', 'succeeded', 'finished', 'failed',
                                   'interrupted', 'crashed')),
                                     -- succeeded: target accuracy reached; finished: all epochs
                                     -- done without reaching a target; interrupted: stopped by a
                                     -- signal; crashed: its process vanished
    created_at   TEXT NOT NULL,      -- ISO 8601 UTC, e.g. 2026-11-26T15:07:22.123Z
    started_at   TEXT,               -- first attempt's start (ISO 8601 UTC), NULL before
    ended_at     TEXT,               -- end of the latest attempt (ISO 8601 UTC), NULL while running
    run_dir      TEXT NOT NULL,      -- absolute path of the run's folder
    reason       TEXT                -- why it ended (failures, crashes), NULL otherwise
);

-- One row per process that worked on a run (a requeued or resumed run has several).
CREATE TABLE attempts (
    run_id          TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL CHECK (attempt >= 1), -- 1, 2, ... per run
    host            TEXT NOT NULL,      -- short host name the process ran on
    pid             INTEGER NOT NULL,   -- its process id
    pid_start_ticks INTEGER NOT NULL DEFAULT 0, -- /proc/<pid>/stat field 22 (guards pid reuse)
    started_at      TEXT NOT NULL,      -- ISO 8601 UTC
    ended_at        TEXT,               -- ISO 8601 UTC, NULL while running
    status          TEXT NOT NULL
                    CHECK (status IN ('running', 'succeeded', 'finished', 'failed',
                                      'interrupted', 'crashed')),
    reason          TEXT,               -- why it ended, NULL if it ended normally
    PRIMARY KEY (run_id, attempt)
);

-- One row per finished epoch (1-based, as in the MLPerf log).
CREATE TABLE epochs (
    run_id         TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch          INTEGER NOT NULL CHECK (epoch >= 1),
    train_loss     REAL,      -- mean training loss over the trained samples
    train_accuracy REAL,      -- fraction of trained samples classified correctly
    test_loss      REAL,      -- mean loss on the test set
    test_accuracy  REAL,      -- accuracy on the test set, 0..1
    lr             REAL,      -- scheduled learning rate
    lr_scale       REAL,      -- compensation factor applied to it (1 = none)
    max_fraction   REAL,      -- F_e, the hidden fraction allowed this epoch
    visible        INTEGER,   -- samples trained with backward
    hidden         INTEGER,   -- samples hidden (not trained)
    moved_back     INTEGER,   -- hidden candidates moved back to training
    candidates     INTEGER,   -- samples eligible for hiding before moving back
    refreshed      INTEGER,   -- hidden samples given a forward-only refresh
    train_s        REAL,      -- seconds in the training pass
    hidden_pass_s  REAL,      -- seconds in the forward-only refresh of hidden samples
    eval_s         REAL,      -- seconds in evaluation
    total_s        REAL,      -- seconds for the whole epoch
    samples_per_s  REAL,      -- trained samples per second of train_s
    ended_at       TEXT,      -- ISO 8601 UTC
    PRIMARY KEY (run_id, epoch)
);

-- The latest per-sample statistics of a run, replaced after each epoch (resume reads it).
CREATE TABLE sample_state (
    run_id      TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    epoch       INTEGER NOT NULL,  -- the epoch after which it was recorded (1-based)
    num_samples INTEGER NOT NULL,  -- N
    loss        BLOB NOT NULL,     -- N float32, little-endian: last loss of each sample
    correct     BLOB NOT NULL,     -- N uint8: 1 if the last prediction was right
    confidence  BLOB NOT NULL      -- N float32, little-endian: last prediction confidence
);

-- Which samples each epoch hid.
CREATE TABLE hidden_sets (
    run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch       INTEGER NOT NULL,  -- 1-based
    num_samples INTEGER NOT NULL,  -- N
    num_hidden  INTEGER NOT NULL,  -- bits set in bitmap
    bitmap      BLOB NOT NULL,     -- ceil(N/8) bytes; bit (i % 8) of byte (i / 8) set = sample i hidden
    PRIMARY KEY (run_id, epoch)
);

-- Runs with figures derived from their epochs (kakuren list / show).
CREATE VIEW run_summary AS
SELECT r.id, r.name, r.recipe_path, r.recipe_text, r.recipe_hash, r.strategy, r.fraction,
       r.seed, r.num_samples, r.num_epochs, r.status, r.created_at, r.started_at, r.ended_at,
       r.run_dir, r.reason,
       -- epochs recorded
       (SELECT COUNT(*) FROM epochs e WHERE e.run_id = r.id) AS epochs_done,
       -- test accuracy of the last recorded epoch, NULL without epochs
       (SELECT e.test_accuracy FROM epochs e WHERE e.run_id = r.id
        ORDER BY e.epoch DESC LIMIT 1) AS final_accuracy,
       -- best test accuracy, NULL without epochs
       (SELECT MAX(e.test_accuracy) FROM epochs e WHERE e.run_id = r.id) AS best_accuracy,
       -- sum(hidden) / (N * epochs recorded), 0 without epochs
       COALESCE((SELECT CAST(SUM(e.hidden) AS REAL) / (r.num_samples * COUNT(*))
                 FROM epochs e WHERE e.run_id = r.id), 0.0) AS mean_realised_fraction
FROM runs r;
)sql";

// Version 2: checkpoints (kakuren resume, kakuren checkpoints).
inline constexpr std::string_view k_schema_v2 = R"sql(
-- One row per committed checkpoint of a run; its files are in runs/<id>/checkpoints/<name>/,
-- listed with their sha256 in manifest.sha256 (sha256sum -c format). A folder without a row
-- was never committed and is not used.
CREATE TABLE checkpoints (
    run_id        TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,     -- folder name: 0003-000120 inside epoch 3, 0003-end at its end
    epoch         INTEGER NOT NULL CHECK (epoch >= 1), -- 1-based: the epoch in progress, or the
                                     -- one just completed when epoch_end = 1
    step          INTEGER NOT NULL CHECK (step >= 0),  -- batches done in that epoch: training
                                     -- steps, then refresh batches of hidden samples; 0 at its end
    epoch_end     INTEGER NOT NULL CHECK (epoch_end IN (0, 1)), -- 1: the epoch is complete
    attempt       INTEGER NOT NULL,  -- the attempt (attempts.attempt) that wrote it
    reason        TEXT NOT NULL
                  CHECK (reason IN ('epoch', 'steps', 'seconds', 'signal', 'final')),
                                     -- epoch: checkpoint.every_epochs; steps / seconds: the
                                     -- mid-epoch intervals; signal: stopped by a signal; final:
                                     -- the run's last epoch
    created_at    TEXT NOT NULL,     -- ISO 8601 UTC
    size_bytes    INTEGER NOT NULL,  -- total size of its files
    test_accuracy REAL,              -- at an epoch end: that epoch's test accuracy; NULL inside
    mllog_bytes   INTEGER NOT NULL,  -- length of mllog.txt at this point (resume cuts it there)
    manifest      TEXT NOT NULL,     -- manifest.sha256: "<sha256 hex>  <file>" per file
    num_samples   INTEGER NOT NULL,  -- N
    num_hidden    INTEGER NOT NULL,  -- bits set in hidden
    -- The blobs come last: listing checkpoints never reads past them.
    loss          BLOB NOT NULL,     -- N float32, little-endian: each sample's last loss
    correct       BLOB NOT NULL,     -- N uint8: 1 if its last prediction was right
    confidence    BLOB NOT NULL,     -- N float32, little-endian: its last prediction confidence
    hidden        BLOB NOT NULL,     -- ceil(N/8) bytes: the hidden set of the epoch (bit i % 8 of
                                     -- byte i / 8 set = sample i hidden)
    PRIMARY KEY (run_id, name)
);
)sql";

// Version 3: scheduler jobs (kakuren submit), sweeps, and where each attempt ran.
inline constexpr std::string_view k_schema_v3 = R"sql(
-- One row per job submitted for a run (kakuren submit, and kakuren resume of a submitted run).
-- A requeued Slurm job keeps its row (requeues counts them); its restarts are new attempts.
CREATE TABLE jobs (
    run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    submission   INTEGER NOT NULL CHECK (submission >= 1), -- 1 = kakuren submit, 2.. = resumes
    backend      TEXT NOT NULL CHECK (backend IN ('slurm', 'local')),
    job_id       TEXT NOT NULL,     -- slurm: "1234", or "1234_2" for task 2 of array 1234;
                                    -- local: pid of the detached job on host
    host         TEXT NOT NULL,     -- short host name it was submitted from
    state        TEXT NOT NULL
                 CHECK (state IN ('pending', 'running', 'requeued', 'completed', 'failed',
                                  'cancelled')),
                                    -- requeued: checkpointed and requeued (time limit warning,
                                    -- preemption); it runs again as the same run
    reason       TEXT,              -- why it failed or was cancelled; Slurm's end state
    requeues     INTEGER NOT NULL DEFAULT 0, -- times the job was requeued
    submitted_at TEXT NOT NULL,     -- ISO 8601 UTC
    ended_at     TEXT,              -- ISO 8601 UTC once final (completed, failed, cancelled)
    script       TEXT NOT NULL,     -- path of the batch script
    PRIMARY KEY (run_id, submission)
);
CREATE INDEX jobs_by_job_id ON jobs(job_id);

-- Runs submitted together with kakuren submit --sweep share a sweep id; NULL otherwise.
ALTER TABLE runs ADD COLUMN sweep TEXT;
-- The scheduler job that ran an attempt ("1234", "1234_2", local pid); NULL for kakuren run.
ALTER TABLE attempts ADD COLUMN job_id TEXT;
-- Ranks of the attempt, and the nodes they ran on (host names, comma-separated).
ALTER TABLE attempts ADD COLUMN world_size INTEGER NOT NULL DEFAULT 1;
ALTER TABLE attempts ADD COLUMN nodes TEXT;

DROP VIEW run_summary;
CREATE VIEW run_summary AS
SELECT r.id, r.name, r.recipe_path, r.recipe_text, r.recipe_hash, r.strategy, r.fraction,
       r.seed, r.num_samples, r.num_epochs, r.status, r.created_at, r.started_at, r.ended_at,
       r.run_dir, r.reason,
       (SELECT COUNT(*) FROM epochs e WHERE e.run_id = r.id) AS epochs_done,
       (SELECT e.test_accuracy FROM epochs e WHERE e.run_id = r.id
        ORDER BY e.epoch DESC LIMIT 1) AS final_accuracy,
       (SELECT MAX(e.test_accuracy) FROM epochs e WHERE e.run_id = r.id) AS best_accuracy,
       COALESCE((SELECT CAST(SUM(e.hidden) AS REAL) / (r.num_samples * COUNT(*))
                 FROM epochs e WHERE e.run_id = r.id), 0.0) AS mean_realised_fraction,
       r.sweep
FROM runs r;
)sql";

// Version 4: one owner per run. The owner of a running attempt holds a lock on
// runs/<id>/.owner.lock for its whole life (same host: that lock decides whether it lives) and
// beats a heartbeat here for other hosts.
inline constexpr std::string_view k_schema_v4 = R"sql(
-- ms since the Unix epoch of the attempt's owner's latest heartbeat (every 30 s while it
-- trains); NULL before the first and for attempts of older kakuren versions.
ALTER TABLE attempts ADD COLUMN heartbeat_ms INTEGER;
)sql";

// Version 5: communication time of multi-rank runs; bytes read by streaming data sources; the
// name of the run's evaluation metric (epochs.test_accuracy, checkpoints.test_accuracy and the
// run_summary view's final/best hold that metric; for MAE, lower is better, the store reads
// "best" as the minimum).
inline constexpr std::string_view k_schema_v5 = R"sql(
-- accuracy | IoU | MAE (recipes/kinds.hpp task_metric); NULL for older runs = accuracy
ALTER TABLE runs ADD COLUMN metric TEXT;
-- Seconds rank 0 waited in the epoch on collectives (gradient buckets, per-sample statistics,
-- evaluation sums, stop checks) that were not hidden behind computation; 0 with one rank, NULL
-- for epochs recorded by older kakuren versions.
ALTER TABLE epochs ADD COLUMN comm_s REAL;
-- Bytes all ranks together read from the training split's files in the epoch (trained and
-- refreshed samples; the hidden ones are not read); NULL for data sets held in memory.
ALTER TABLE epochs ADD COLUMN bytes_read INTEGER;
)sql";

// Version 6: non-finite values. A run whose loss diverged has NaN (or infinite) losses; SQLite
// stores a bound NaN as NULL, which every reader took for 0. From this version on, a REAL column
// (epochs.*, checkpoints.test_accuracy) holds the text 'nan', 'inf' or '-inf' where the value
// was not finite (db/sql.hpp bind/real), so older kakuren versions, which would read that text as
// 0, refuse the database (a newer schema version). best_accuracy skips them: in SQLite a text
// value compares above every number, so MAX() would pick 'nan' over any finite accuracy.
inline constexpr std::string_view k_schema_v6 = R"sql(
DROP VIEW run_summary;
CREATE VIEW run_summary AS
SELECT r.id, r.name, r.recipe_path, r.recipe_text, r.recipe_hash, r.strategy, r.fraction,
       r.seed, r.num_samples, r.num_epochs, r.status, r.created_at, r.started_at, r.ended_at,
       r.run_dir, r.reason,
       (SELECT COUNT(*) FROM epochs e WHERE e.run_id = r.id) AS epochs_done,
       -- the last epoch's metric: 'nan' (text) when it was not finite
       (SELECT e.test_accuracy FROM epochs e WHERE e.run_id = r.id
        ORDER BY e.epoch DESC LIMIT 1) AS final_accuracy,
       -- the highest finite metric; NULL when none was finite
       (SELECT MAX(e.test_accuracy) FROM epochs e
        WHERE e.run_id = r.id AND typeof(e.test_accuracy) <> 'text') AS best_accuracy,
       COALESCE((SELECT CAST(SUM(e.hidden) AS REAL) / (r.num_samples * COUNT(*))
                 FROM epochs e WHERE e.run_id = r.id), 0.0) AS mean_realised_fraction,
       r.sweep
FROM runs r;
)sql";

// Version 7: kakuren tune. A tune is one row of tunes; its trials are runs (runs.sweep = the
// tune id) listed in tune_trials with the candidate each trains; tune_rounds holds the rounds of
// successive halving, each with the epochs its survivors train to.
inline constexpr std::string_view k_schema_v7 = R"sql(
CREATE TABLE tunes (
    id            TEXT PRIMARY KEY,  -- tune id, e.g. tune-synthetic_tiny-20261206-193012-ab12
    recipe_path   TEXT NOT NULL,     -- absolute path of the recipe tuned
    recipe_text   TEXT NOT NULL,     -- its resolved text (with --set applied), canonical TOML
    budget        TEXT NOT NULL,     -- as given: "24" (epochs) or "2h" (a duration)
    budget_epochs INTEGER NOT NULL,  -- epochs all trials may train together; 0 for a duration
    budget_s      REAL NOT NULL,     -- seconds of training for a duration budget; 0 for epochs
    eta           INTEGER NOT NULL,  -- halving factor: 1 / eta of the candidates survive a round
    rank_by       TEXT NOT NULL CHECK (rank_by IN ('time', 'work')),
    status        TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    created_at    TEXT NOT NULL,     -- ISO 8601 UTC
    ended_at      TEXT               -- when it was done (ISO 8601 UTC), NULL before
);

-- One row per candidate of a tune: the hiding it tries and the run that trains it.
CREATE TABLE tune_trials (
    tune_id    TEXT NOT NULL REFERENCES tunes(id) ON DELETE CASCADE,
    candidate  INTEGER NOT NULL,     -- 0, 1, ... in the tune's order (0 = none, the baseline)
    label      TEXT NOT NULL,        -- e.g. "rotate r=0.65 F=0.30"
    overrides  TEXT NOT NULL,        -- the recipe overrides, one "hiding.key=value" per line
    run_id     TEXT REFERENCES runs(id), -- NULL until its run is created
    PRIMARY KEY (tune_id, candidate)
);

-- One row per round of successive halving, written when the round is decided.
CREATE TABLE tune_rounds (
    tune_id    TEXT NOT NULL REFERENCES tunes(id) ON DELETE CASCADE,
    round      INTEGER NOT NULL,     -- 1, 2, ...
    epochs     INTEGER NOT NULL,     -- each survivor trains to this epoch (counted from 1)
    survivors  TEXT NOT NULL,        -- candidate numbers, comma-separated, best first
    PRIMARY KEY (tune_id, round)
);
)sql";

inline constexpr std::array<std::string_view, 7> k_migrations = {
    k_schema_v1, k_schema_v2, k_schema_v3, k_schema_v4, k_schema_v5, k_schema_v6, k_schema_v7};

} // namespace kakuren::db

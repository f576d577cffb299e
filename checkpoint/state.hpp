#pragma once
// What a checkpoint holds, torch-free: its place in the run, the training loop's state, the
// opaque files the trainer serialises (model, optimizer, RNG), and the per-sample state.
// trainer/ fills a Snapshot and reads a Resume; checkpoint/manager.hpp writes and loads them.
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hiding/policy.hpp"
#include "util/error.hpp"
#include "util/sample_stats.hpp"

namespace kakuren::checkpoint {

/// A checkpoint that cannot be written, read or trusted; the message names the checkpoint, the
/// file and the cause, and says what to do.
class CheckpointError : public RuntimeFailure {
  public:
    using RuntimeFailure::RuntimeFailure;
};

/// When to write checkpoints and which to keep (recipe section [checkpoint]).
struct Config {
    int every_epochs = 1; ///< at the end of every k-th epoch and of the last; 0 = the last only
    std::int64_t every_steps = 0; ///< also every n batches inside an epoch; 0 = off
    double every_seconds = 0;     ///< also once this many seconds passed since the last; 0 = off
    int keep_last = 2;            ///< newest checkpoints kept (>= 1)
    bool keep_best = true; ///< also keep the epoch-end checkpoint with the best test accuracy
};

/// Decides when the training loop writes a checkpoint. Pure: the caller passes the counters.
class Schedule {
  public:
    explicit Schedule(Config config) : m_config(config) {}
    /// At the end of 1-based `epoch` of `num_epochs`: every_epochs divides epoch, or it is the
    /// last epoch (last = also when the run stops early at its target accuracy).
    [[nodiscard]] bool due_at_epoch_end(int epoch, bool last) const;
    /// Inside an epoch, before the next batch: `batches` batches (training steps and refresh
    /// batches) and `seconds` seconds since the last checkpoint (or the attempt's start).
    [[nodiscard]] bool due_within_epoch(std::int64_t batches, double seconds) const;
    [[nodiscard]] const Config& config() const { return m_config; }

  private:
    Config m_config;
};

/// Where in a run a checkpoint was taken. Ordered: later positions compare greater.
struct Position {
    /// 1-based. At an epoch end: the epoch just completed; else the epoch in progress.
    int epoch = 0;
    /// Batches done in that epoch: its training steps first, then its refresh batches; 0 at an
    /// epoch end.
    std::int64_t step = 0;
    /// The epoch is complete: trained, refreshed, evaluated and recorded.
    bool epoch_end = false;

    [[nodiscard]] int epochs_done() const { return epoch_end ? epoch : epoch - 1; }
    /// Folder name: "0003-000120" inside an epoch, "0003-end" at its end (sorts by position).
    [[nodiscard]] std::string name() const;
    /// "epoch 3, step 120" or "end of epoch 3".
    [[nodiscard]] std::string describe() const;

    friend auto operator<=>(const Position& a, const Position& b) {
        if (a.epoch != b.epoch) {
            return a.epoch <=> b.epoch;
        }
        if (a.epoch_end != b.epoch_end) {
            return a.epoch_end <=> b.epoch_end;
        }
        return a.step <=> b.step;
    }
    friend bool operator==(const Position&, const Position&) = default;
};

/// Parses a folder name written by Position::name(); nullopt for anything else.
std::optional<Position> parse_position_name(std::string_view name);

/// Why a checkpoint was written.
enum class Reason { epoch, steps, seconds, signal, final };
std::string to_string(Reason reason);
/// Throws CheckpointError for an unknown name.
Reason reason_from_string(std::string_view text);

/// The training loop's own state at a position: everything besides the model, the optimizer,
/// the RNG and the per-sample statistics that a resumed loop needs to continue exactly. Stored
/// as loop.bin (encode / decode below).
struct LoopState {
    Position position;
    std::int64_t num_samples = 0;   ///< N
    std::int64_t train_steps = 0;   ///< training steps of the epoch in progress (mid-epoch)
    std::int64_t refresh_steps = 0; ///< refresh batches of the epoch in progress (mid-epoch)
    /// The plan of the epoch in progress (mid-epoch only): its visiting order, hidden set,
    /// refresh order, weights and LR scale, as planned from the statistics of its start.
    hiding::EpochPlan plan;
    // The epoch in progress so far (mid-epoch only).
    double train_loss_sum = 0;                 ///< sum of the per-sample losses trained so far
    std::int64_t train_correct = 0;            ///< of those, classified correctly
    std::int64_t train_count = 0;              ///< samples trained so far
    double train_loss = 0, train_accuracy = 0; ///< once the training steps are done
    double lr = 0;                         ///< scheduled LR of the last step, once they are done
    double samples_per_s = 0;              ///< once they are done
    double train_s = 0, hidden_pass_s = 0; ///< seconds spent so far in the two phases
    // The run so far.
    double final_accuracy = 0, best_accuracy = 0; ///< over the completed epochs
    std::int64_t mllog_bytes = 0; ///< length of the MLPerf log at this position (0 = no log)
    // What exactness depends on, for the checks of a resume.
    std::uint64_t seed = 0;
    int world_size = 1;
    int threads = 1;
};

/// loop.bin: "KKNLOOP1", a format version, then (name, length, bytes) fields. Readers skip
/// fields they do not know and use the defaults above for fields a file lacks, so every field
/// records the format version it appeared in (all: version 1).
std::string encode(const LoopState& state);
/// Throws CheckpointError("loop.bin: ...") for a file that is not one, or is cut short.
LoopState decode_loop_state(std::string_view bytes);

/// A file the trainer serialised (model.pt, optimizer.pt, rng.pt): stored as is.
struct File {
    std::string name;
    std::string bytes;
};

/// Everything one checkpoint holds, as the trainer hands it over; spans are valid during the
/// call that receives it.
struct Snapshot {
    LoopState loop;
    Reason reason = Reason::epoch;
    std::optional<double> test_accuracy; ///< at an epoch end: that epoch's test accuracy
    std::vector<File> files;
    util::SampleStatsView stats; ///< per-sample statistics at this position (length N)
    /// The hidden set of the epoch in progress (of the completed epoch at an epoch end),
    /// ascending.
    std::span<const std::int64_t> hidden_ids;
    double serialize_s = 0; ///< seconds the trainer took to serialise `files` (logs, benchmarks)
};

/// A loaded, validated checkpoint: what the trainer continues from.
struct Resume {
    std::string name;
    LoopState loop;
    std::optional<double> test_accuracy;
    std::map<std::string, std::string> files; ///< file name -> bytes (model.pt, ...)
    std::string recipe_text;                  ///< the resolved recipe it was written under
    util::SampleStats stats;                  ///< per-sample statistics at its position (length N)
    std::vector<std::int64_t> hidden_ids;     ///< ascending
};

} // namespace kakuren::checkpoint

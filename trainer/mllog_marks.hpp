#pragma once
// MlLogMarks: where the MLPerf log and the epoch's byte and communication counters stood at the
// marks a checkpoint or an epoch's figures count from. Torch-free.
#include <cstdint>

#include "checkpoint/state.hpp"

namespace kakuren::trainer {

/// Owns the log's length where the epoch began and where its training and refresh phases
/// begin (a checkpoint records the one of its position, and a resume cuts the log there), and
/// the training split's bytes read and the replicator's wait seconds where the epoch (or the
/// resume) began.
class MlLogMarks {
  public:
    /// At the run's (or the resume's) start: every mark at `log_size`, bytes at `bytes_read`.
    void reset(std::int64_t log_size, std::uint64_t bytes_read) {
        m_at_epoch = m_at_train = m_at_refresh = log_size;
        m_bytes_at_epoch = bytes_read;
    }
    /// Before the epoch's first record (epoch_start).
    void begin_epoch(std::int64_t log_size, std::uint64_t bytes_read) {
        m_at_epoch = log_size;
        m_bytes_at_epoch = bytes_read;
    }
    /// After the epoch's planning records: the training phase's records follow.
    void begin_train(std::int64_t log_size) { m_at_train = log_size; }
    /// After the training phase's records: the refresh phase's follow.
    void begin_refresh(std::int64_t log_size) { m_at_refresh = log_size; }
    /// After the epoch's last record: a checkpoint at its end keeps all of it.
    void end_epoch(std::int64_t log_size) { m_at_epoch = log_size; }
    /// When an epoch (or a resumed one) starts timing its communication.
    void begin_comm(double wait_s) { m_comm_at_epoch_s = wait_s; }

    /// Bytes read in the epoch (since the resume, for a resumed one).
    [[nodiscard]] std::uint64_t bytes_since(std::uint64_t bytes_read) const {
        return bytes_read - m_bytes_at_epoch;
    }
    /// Seconds waited in the epoch (since the resume, for a resumed one).
    [[nodiscard]] double comm_since(double wait_s) const { return wait_s - m_comm_at_epoch_s; }

    /// loop.mllog_bytes: the log's length at loop.position (set before), whose training steps
    /// are not all done when `in_training`.
    void state(checkpoint::LoopState& loop, bool in_training) const {
        loop.mllog_bytes = loop.position.epoch_end ? m_at_epoch
                           : in_training           ? m_at_train
                                                   : m_at_refresh;
    }

  private:
    std::int64_t m_at_epoch = 0, m_at_train = 0, m_at_refresh = 0;
    std::uint64_t m_bytes_at_epoch = 0;
    double m_comm_at_epoch_s = 0;
};

} // namespace kakuren::trainer

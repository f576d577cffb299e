#pragma once
// PhaseBuffers: the host memory the phases read their batches into. Private to trainer/ (torch).
#include "trainer/source.hpp"

namespace kakuren::trainer {

/// Owns the two reading sites' buffers, reused across steps and epochs: the training steps',
/// and the forward-only passes' (refresh, full refresh). Pinned on a GPU run.
struct PhaseBuffers {
    BatchBuffer train, forward;

    static PhaseBuffers pinned() { return {BatchBuffer::pinned(), BatchBuffer::pinned()}; }
};

} // namespace kakuren::trainer

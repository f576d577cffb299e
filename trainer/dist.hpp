#pragma once
// The collectives of a data-parallel run: c10d TCPStore rendezvous plus a Gloo process group (CPU
// runs) or an NCCL one (GPU runs, on a LibTorch built with CUDA). Private to trainer/ (torch); the
// c10d headers stay in dist.cpp so that loop.cpp compiles without them.
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <torch/torch.h>

#include "trainer/trainer.hpp"

namespace kakuren::trainer {

/// This process's membership in the process group of a run with world > 1. Every call is a
/// collective: every rank must make the same calls in the same order with tensors of the same
/// shapes. Failures (a peer died, a link went down, the timeout passed) throw RuntimeFailure
/// "rank R of W: communication with the other ranks failed after S s (...): <what>".
class Comm {
  public:
    /// Meets the other ranks at config.master_addr:master_port (rank 0 serves the TCPStore) and
    /// connects the process group: NCCL when `device` is a GPU (the run's device), else Gloo;
    /// blocks until all world ranks are there or timeout_s passed. Throws RuntimeFailure
    /// (timeout, address, a build without c10d Gloo or NCCL), UsageError for a rank outside
    /// [0, world).
    Comm(const DistConfig& config, torch::Device device);
    ~Comm();
    Comm(const Comm&) = delete;
    Comm& operator=(const Comm&) = delete;

    [[nodiscard]] int rank() const { return m_rank; }
    [[nodiscard]] int world() const { return m_world; }
    /// Seconds the rendezvous took (TCPStore and Gloo's full mesh).
    [[nodiscard]] double rendezvous_s() const { return m_rendezvous_s; }

    /// Sums each tensor over all ranks, in place (contiguous tensors of float32, float64 or
    /// int64, on the CPU or on the group's GPU; a host tensor goes through a copy with NCCL). The
    /// tensors are reduced as separate collectives that are all in flight at once; every rank
    /// receives identical bits.
    void sum(std::span<const torch::Tensor> tensors);
    void sum(const torch::Tensor& tensor) { sum(std::span<const torch::Tensor>(&tensor, 1)); }
    /// Element-wise maximum over all ranks, in place.
    void max(const torch::Tensor& tensor);
    /// Replaces tensor with rank `root`'s, in place.
    void broadcast(const torch::Tensor& tensor, int root);

    /// Starts summing `tensor` over all ranks, in place, and returns at once (the all-reduce runs
    /// on the process group's threads while the caller computes on). `tensor` must stay alive
    /// and untouched until wait_all() returns. Every rank must start the same collectives in the
    /// same order. Never throws: a failure to start is reported by wait_all().
    void start_sum(const torch::Tensor& tensor);
    struct Waited {
        double blocked_s = 0;   ///< seconds wait_all() blocked the caller
        double in_flight_s = 0; ///< seconds at least one of the collectives was under way
    };
    /// Waits for every collective start_sum() started. in_flight_s - blocked_s is the
    /// communication that ran while the caller computed. Throws RuntimeFailure as sum() does
    /// (after every started collective has ended).
    Waited wait_all();

    /// Whether this build can run with world > 1 (it was compiled with the c10d Gloo headers).
    static bool available();

  private:
    struct Impl;
    [[noreturn]] void fail(const std::exception& e, std::chrono::steady_clock::time_point since,
                           const char* what) const;

    int m_rank = 0, m_world = 1;
    double m_timeout_s = 0;
    double m_rendezvous_s = 0;
    std::unique_ptr<Impl> m_impl;
};

} // namespace kakuren::trainer

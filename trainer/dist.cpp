// Comm: c10d's TCPStore + ProcessGroupGloo (NCCL where LibTorch has CUDA), with every c10d or
// Gloo error turned into a RuntimeFailure that says which rank failed and after how long.
#include "trainer/dist.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"

#include <torch/version.h>

#if defined(KAKUREN_HAVE_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#if defined(USE_C10D_NCCL)
// A LibTorch built with CUDA and NCCL (the pypi flavour): runs whose device is a GPU.
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace kakuren::trainer {
namespace {

using Clock = std::chrono::steady_clock;

std::string rank_text(int rank, int world) {
    return "rank " + std::to_string(rank) + " of " + std::to_string(world);
}

/// c10::Error appends a C++ backtrace to what(): keep the first line, which says what happened.
std::string first_line(const std::exception& e) {
    std::string message = e.what();
    if (const auto newline = message.find('\n'); newline != std::string::npos) {
        message.resize(newline);
    }
    return message;
}

std::string seconds_text(double s) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.3g", s);
    return buffer;
}

#if defined(KAKUREN_HAVE_GLOO)
/// The local address this host uses to reach `host` (the interface that faces rank 0), found by
/// "connecting" a UDP socket, which sends nothing. nullopt when the name does not resolve.
/// 127.0.0.1 for a master on this host's loopback; a node's own address across namespaces or a
/// real network, where the hostname alone may resolve to a loopback address (Debian's 127.0.1.1)
/// that the other nodes cannot reach.
std::optional<std::string> address_facing(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 ||
        found == nullptr) {
        return std::nullopt;
    }
    const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, &freeaddrinfo);
    const int fd = ::socket(found->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) {
        return std::nullopt;
    }
    std::optional<std::string> result;
    sockaddr_in local{};
    socklen_t length = sizeof local;
    if (::connect(fd, found->ai_addr, found->ai_addrlen) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
        char text[INET_ADDRSTRLEN] = {};
        if (inet_ntop(AF_INET, &local.sin_addr, text, sizeof text) != nullptr) {
            result = text;
        }
    }
    ::close(fd);
    return result;
}
#endif

} // namespace

#if defined(KAKUREN_HAVE_GLOO)
// LibTorch 2.x split the process group into a front (ProcessGroup) and per-device backends
// (Backend: ProcessGroupGloo, ProcessGroupNCCL); 1.13's ProcessGroupGloo is the group itself.
// The collectives used here have the same signatures on both.
#if TORCH_VERSION_MAJOR >= 2
using Group = c10d::Backend;
#else
using Group = c10d::ProcessGroup;
#endif

namespace {

/// Opens (rank 0) or connects to the TCPStore at the master address, connecting again when a
/// signal interrupted the connect, until the timeout.
c10::intrusive_ptr<c10d::Store> connect_store(const DistConfig& config,
                                              std::chrono::milliseconds timeout,
                                              Clock::time_point start) {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(config.master_port);
    options.isServer = config.rank == 0;
    options.numWorkers = static_cast<std::size_t>(config.world);
    // Gloo's full-mesh connect below waits for every rank anyway: waiting here as well
    // would double the time a missing rank takes to be reported.
    options.waitWorkers = false;
    options.timeout = timeout;
    // A signal that lands during the TCPStore's connect (a requeued job's first seconds)
    // fails it with "Interrupted system call": connect again until the timeout. A stop
    // request that came that way is honoured at the first step.
    while (true) {
        try {
            return c10::make_intrusive<c10d::TCPStore>(config.master_addr, options);
        } catch (const std::exception& e) {
            const bool interrupted =
                std::string(e.what()).find("Interrupted system call") != std::string::npos;
            if (!interrupted || Clock::now() - start > timeout) {
                throw;
            }
        }
    }
}

/// The process group over the store: NCCL on a CUDA device, Gloo on the interface that faces
/// rank 0 (or GLOO_SOCKET_IFNAME's) otherwise.
c10::intrusive_ptr<Group> make_group(const c10::intrusive_ptr<c10d::Store>& store,
                                     const DistConfig& config, torch::Device device,
                                     std::chrono::milliseconds timeout) {
    if (device.is_cuda()) {
#if defined(USE_C10D_NCCL)
        // The run computes on this GPU: NCCL reduces the buckets where backward wrote them,
        // on its own stream after waiting for the stream that wrote them (c10d's NCCL
        // backend records an event on the caller's current stream and waits on it).
        auto nccl = c10d::ProcessGroupNCCL::Options::create();
        nccl->timeout = timeout;
        return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, config.rank, config.world, nccl);
#else
        throw RuntimeFailure("this kakuren was built against a LibTorch without NCCL, so "
                             "it cannot run multi-rank on a GPU");
#endif
    }
    auto gloo = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* name = std::getenv("GLOO_SOCKET_IFNAME"); name && *name) {
        gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
    } else if (const auto address = address_facing(config.master_addr, config.master_port)) {
        gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(*address));
    } else {
        gloo->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, config.rank, config.world, gloo);
}

} // namespace
#endif

struct Comm::Impl {
#if defined(KAKUREN_HAVE_GLOO)
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<Group> group;
#endif
    /// Where the collectives run: CPU for Gloo; a CUDA device for NCCL, through staging copies.
    torch::Device device = torch::kCPU;

    /// The collectives start_sum() started and wait_all() has not waited for yet.
    struct Pending {
#if defined(KAKUREN_HAVE_GLOO)
        c10::intrusive_ptr<c10d::Work> work;
#endif
        std::vector<at::Tensor> input; ///< what the process group reduces (a device copy)
        torch::Tensor target;          ///< the caller's tensor
        Clock::time_point started;
        /// steady_clock ticks when it completed (set on the process group's thread).
        std::shared_ptr<std::atomic<Clock::rep>> done =
            std::make_shared<std::atomic<Clock::rep>>(0);
    };
    std::vector<Pending> pending;
    std::exception_ptr start_failure; ///< a start_sum() that threw, rethrown by wait_all()
    Clock::time_point first_start;    ///< of the pending collectives
};

bool Comm::available() {
#if defined(KAKUREN_HAVE_GLOO)
    return true;
#else
    return false;
#endif
}

Comm::Comm(const DistConfig& config, torch::Device device)
    : m_rank(config.rank), m_world(config.world), m_timeout_s(config.timeout_s),
      m_impl(std::make_unique<Impl>()) {
    if (config.world < 1 || config.rank < 0 || config.rank >= config.world) {
        throw UsageError("invalid rank " + std::to_string(config.rank) + " for world size " +
                         std::to_string(config.world) + "; expected 0 <= rank < world");
    }
    if (config.master_port < 1 || config.master_port > 65535) {
        throw UsageError("invalid master port " + std::to_string(config.master_port));
    }
    if (!(config.timeout_s > 0)) {
        throw UsageError("dist.timeout_s must be > 0");
    }
#if !defined(KAKUREN_HAVE_GLOO)
    (void)device;
    throw RuntimeFailure(rank_text(m_rank, m_world) +
                         ": this kakuren was built without c10d's Gloo headers, so it cannot "
                         "train on more than one rank; install libgloo-dev and rebuild");
#else
    const auto start = Clock::now();
    const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(m_timeout_s * 1e3));
    const std::string where = config.master_addr + ":" + std::to_string(config.master_port);
    try {
        m_impl->store = connect_store(config, timeout, start);
        if (device.is_cuda()) {
            m_impl->device = device; // NCCL reduces on the run's GPU
        }
        m_impl->group = make_group(m_impl->store, config, device, timeout);
    } catch (const std::exception& e) {
        const double waited_s = std::chrono::duration<double>(Clock::now() - start).count();
        throw RuntimeFailure(rank_text(m_rank, m_world) + ": could not meet the other ranks at " +
                             where + " within " + seconds_text(waited_s) +
                             " s (did every rank start, with the same master address and "
                             "port?): " +
                             first_line(e));
    }
    m_rendezvous_s = std::chrono::duration<double>(Clock::now() - start).count();
#endif
}

Comm::~Comm() = default;

void Comm::fail(const std::exception& e, Clock::time_point since, const char* what) const {
    const double waited_s = std::chrono::duration<double>(Clock::now() - since).count();
    throw RuntimeFailure(rank_text(m_rank, m_world) + ": communication with the other ranks " +
                         "failed after " + seconds_text(waited_s) + " s in " + what +
                         " (a rank died, or a node lost its network?): " + first_line(e));
}

#if defined(KAKUREN_HAVE_GLOO)
namespace {

/// Runs one collective per tensor, all in flight at once, and waits for all of them; rethrows
/// the first failure once none is pending (a process group must not be torn down mid-work).
template <typename Launch>
void run_all(std::span<const torch::Tensor> tensors, torch::Device device, Launch launch) {
    std::vector<std::vector<at::Tensor>> inputs;
    inputs.reserve(tensors.size());
    for (const torch::Tensor& t : tensors) {
        inputs.push_back({t.device() == device ? t : t.to(device)});
    }
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    works.reserve(tensors.size());
    std::exception_ptr failure;
    for (auto& input : inputs) {
        try {
            works.push_back(launch(input));
        } catch (...) {
            failure = std::current_exception();
            break;
        }
    }
    for (auto& work : works) {
        try {
            work->wait();
        } catch (...) {
            if (!failure) {
                failure = std::current_exception();
            }
        }
    }
    if (failure) {
        std::rethrow_exception(failure);
    }
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        if (!inputs[i].front().is_same(tensors[i])) { // staged through a copy on the device
            const_cast<torch::Tensor&>(tensors[i]).copy_(inputs[i].front());
        }
    }
}

} // namespace
#endif

void Comm::sum(std::span<const torch::Tensor> tensors) {
#if defined(KAKUREN_HAVE_GLOO)
    const auto start = Clock::now();
    try {
        run_all(tensors, m_impl->device, [this](std::vector<at::Tensor>& input) {
            c10d::AllreduceOptions options;
            options.reduceOp = c10d::ReduceOp::SUM;
            return m_impl->group->allreduce(input, options);
        });
    } catch (const std::exception& e) {
        fail(e, start, "an all-reduce");
    }
#else
    (void)tensors;
#endif
}

void Comm::start_sum(const torch::Tensor& tensor) {
    Impl& impl = *m_impl;
    if (impl.pending.empty()) {
        impl.first_start = Clock::now();
    }
#if defined(KAKUREN_HAVE_GLOO)
    if (impl.start_failure) {
        return; // wait_all() reports the first failure; later collectives would not match up
    }
    try {
        Impl::Pending p;
        p.target = tensor;
        p.started = Clock::now();
        // A gradient bucket already lives on the group's device; a statistics bucket on the
        // host goes to an NCCL group's GPU first.
        p.input = {tensor.device() == impl.device ? tensor : tensor.to(impl.device)};
        c10d::AllreduceOptions options;
        options.reduceOp = c10d::ReduceOp::SUM;
        p.work = impl.group->allreduce(p.input, options);
        // Completion time, for the overlap figures (the callback runs on Gloo's thread).
        p.work->getFuture()->addCallback([done = p.done](c10::ivalue::Future&) {
            done->store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
        });
        impl.pending.push_back(std::move(p));
    } catch (...) {
        impl.start_failure = std::current_exception();
    }
#else
    (void)tensor;
#endif
}

Comm::Waited Comm::wait_all() {
    Impl& impl = *m_impl;
    const auto start = Clock::now();
    std::exception_ptr failure = impl.start_failure;
    impl.start_failure = nullptr;
    // Each collective's [start, done] interval; their union is the time communication was
    // under way (collectives overlap one another on the group's threads).
    std::vector<std::pair<Clock::time_point, Clock::time_point>> spans;
#if defined(KAKUREN_HAVE_GLOO)
    for (Impl::Pending& p : impl.pending) {
        try {
            p.work->wait();
            if (!p.input.front().is_same(p.target)) {
                p.target.copy_(p.input.front());
            }
        } catch (...) {
            if (!failure) {
                failure = std::current_exception();
            }
        }
        const Clock::rep done = p.done->load(std::memory_order_relaxed);
        const Clock::time_point end =
            done != 0 ? Clock::time_point(Clock::duration(done)) : Clock::now();
        spans.emplace_back(p.started, std::max(p.started, end));
    }
#endif
    impl.pending.clear();
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            fail(e, impl.first_start, "an all-reduce");
        }
    }
    Waited waited;
    waited.blocked_s = std::chrono::duration<double>(Clock::now() - start).count();
    std::sort(spans.begin(), spans.end());
    Clock::time_point covered{};
    for (const auto& [from, to] : spans) {
        const Clock::time_point begin = std::max(from, covered);
        if (to > begin) {
            waited.in_flight_s += std::chrono::duration<double>(to - begin).count();
        }
        covered = std::max(covered, to);
    }
    return waited;
}

void Comm::max(const torch::Tensor& tensor) {
#if defined(KAKUREN_HAVE_GLOO)
    const auto start = Clock::now();
    try {
        run_all(std::span<const torch::Tensor>(&tensor, 1), m_impl->device,
                [this](std::vector<at::Tensor>& input) {
                    c10d::AllreduceOptions options;
                    options.reduceOp = c10d::ReduceOp::MAX;
                    return m_impl->group->allreduce(input, options);
                });
    } catch (const std::exception& e) {
        fail(e, start, "an all-reduce");
    }
#else
    (void)tensor;
#endif
}

void Comm::broadcast(const torch::Tensor& tensor, int root) {
#if defined(KAKUREN_HAVE_GLOO)
    const auto start = Clock::now();
    try {
        run_all(std::span<const torch::Tensor>(&tensor, 1), m_impl->device,
                [this, root](std::vector<at::Tensor>& input) {
                    c10d::BroadcastOptions options;
                    options.rootRank = root;
                    return m_impl->group->broadcast(input, options);
                });
    } catch (const std::exception& e) {
        fail(e, start, "a broadcast");
    }
#else
    (void)tensor;
    (void)root;
#endif
}

} // namespace kakuren::trainer

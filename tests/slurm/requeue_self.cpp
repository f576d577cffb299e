// Run inside a Slurm batch job: requeues that job through kakuren::slurm, as a rank 0 does after
// its checkpoint, then exits. Prints the wall-clock time of the request (Unix seconds).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <sys/time.h>

#include "slurm/client.hpp"

namespace {
volatile std::sig_atomic_t g_terminate = 0;
void on_term(int) {
    g_terminate = 1;
} // the requeue TERMs the job; finish the request first
} // namespace

int main() {
    std::signal(SIGTERM, on_term);
    const char* id = std::getenv("SLURM_JOB_ID");
    if (!id) {
        std::fprintf(stderr, "requeue_self: SLURM_JOB_ID is not set; run me in a batch job\n");
        return 2;
    }
    try {
        auto client = kakuren::slurm::Client::connect();
        timeval now{};
        gettimeofday(&now, nullptr);
        std::printf("requeue at %ld.%06ld\n", static_cast<long>(now.tv_sec),
                    static_cast<long>(now.tv_usec));
        std::fflush(stdout);
        client.requeue(static_cast<std::uint32_t>(std::strtoul(id, nullptr, 10)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "requeue_self: %s\n", e.what());
        return 1;
    }
    return 0;
}

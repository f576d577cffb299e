// Host lists ("n[1-3],x") expanded with libslurm's hostlist functions.
#include <cstdlib>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "slurm/client.hpp"
#include "slurm/libslurm.hpp"

namespace kakuren::slurm {

namespace {

struct HostlistFree {
    void operator()(hostlist_t hl) const { slurm_hostlist_destroy(hl); }
};
using HostlistPtr = std::unique_ptr<std::remove_pointer_t<hostlist_t>, HostlistFree>;

} // namespace

std::vector<std::string> expand_hostlist(const std::string& hostlist) {
    std::vector<std::string> hosts;
    if (hostlist.empty()) {
        return hosts;
    }
    HostlistPtr hl(slurm_hostlist_create(hostlist.c_str()));
    if (!hl) {
        throw UsageError("malformed Slurm host list '" + hostlist +
                         "'; expected names and ranges such as n[1-3],x");
    }
    while (char* host = slurm_hostlist_shift(hl.get())) {
        hosts.emplace_back(host);
        std::free(host);
    }
    return hosts;
}

} // namespace kakuren::slurm

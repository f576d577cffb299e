// The test seam of Manager::save (checkpoint/fault_hook.hpp).
#include "checkpoint/fault_hook.hpp"

#include <atomic>

namespace kakuren::checkpoint {

namespace {

std::atomic<FaultHook> g_fault_hook{nullptr};

} // namespace

void fault_point(FaultPoint point, int save_number) {
    if (const FaultHook hook = g_fault_hook.load()) {
        hook(point, save_number);
    }
}

const char* to_string(FaultPoint point) {
    switch (point) {
    case FaultPoint::write:
        return "write";
    case FaultPoint::synced:
        return "synced";
    case FaultPoint::renamed:
        return "renamed";
    case FaultPoint::committed:
        return "committed";
    case FaultPoint::retention:
        return "retention";
    }
    return "?";
}

void set_fault_hook(FaultHook hook) {
    g_fault_hook.store(hook);
}

} // namespace kakuren::checkpoint

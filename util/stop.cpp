#include "util/stop.hpp"

namespace kakuren::util {
namespace {

thread_local const std::atomic<bool>* t_stop = nullptr;
std::atomic<PauseHook> g_pause_hook{nullptr};

} // namespace

StopScope::StopScope(const std::atomic<bool>* flag) : m_previous(t_stop) {
    t_stop = flag;
}

StopScope::~StopScope() {
    t_stop = m_previous;
}

bool stop_requested() {
    return t_stop != nullptr && t_stop->load(std::memory_order_relaxed);
}

bool watching_for_stop() {
    return t_stop != nullptr;
}

void throw_if_stop_requested() {
    if (stop_requested()) {
        throw StopRequested();
    }
}

void pause_point(std::string_view name) {
    if (const PauseHook hook = g_pause_hook.load(); hook != nullptr) {
        hook(name);
    }
}

void set_pause_hook(PauseHook hook) {
    g_pause_hook.store(hook);
}

} // namespace kakuren::util

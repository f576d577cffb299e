#include "util/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace kakuren::util {

namespace {

std::once_flag g_default_setup;

/// spdlog's own default logger writes to stdout with a timestamp pattern; make sure ours is
/// in place even when a program logs before (or without) calling setup_logging.
void ensure_setup() {
    std::call_once(g_default_setup, [] {
        if (!spdlog::get("kakuren"))
            setup_logging(false);
    });
}

} // namespace

void setup_logging(bool verbose) {
    auto logger = spdlog::get("kakuren");
    if (!logger)
        logger = spdlog::stderr_logger_mt("kakuren");
    logger->set_pattern("kakuren: %v");
    logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
    // Messages must reach the terminal even if the process dies right after.
    logger->flush_on(spdlog::level::debug);
    spdlog::set_default_logger(logger);
}

void log_debug(std::string_view message) {
    ensure_setup();
    spdlog::debug("{}", message);
}

void log_info(std::string_view message) {
    ensure_setup();
    spdlog::info("{}", message);
}

void log_warning(std::string_view message) {
    ensure_setup();
    spdlog::warn("warning: {}", message);
}

} // namespace kakuren::util

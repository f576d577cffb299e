#pragma once
// Progress and warning messages on stderr ("kakuren: ..."). Only util/ includes spdlog;
// other layers log through these functions.
#include <string_view>

namespace kakuren::util {

/// Sends messages to stderr as "kakuren: <message>". verbose shows debug messages too;
/// otherwise info and above. Safe to call more than once (the last call wins).
void setup_logging(bool verbose);

void log_debug(std::string_view message);
void log_info(std::string_view message);
/// Printed as "kakuren: warning: <message>".
void log_warning(std::string_view message);

} // namespace kakuren::util

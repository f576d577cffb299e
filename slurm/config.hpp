#pragma once
// Private to slurm/: where the controller is, read without libslurm, and a TCP reachability probe.
#include <filesystem>
#include <optional>
#include <string>

namespace kakuren::slurm {

/// The primary controller as slurm.conf names it.
struct ControllerAddress {
    std::string name; ///< host name (SlurmctldHost's name part)
    std::string host; ///< address to connect to (the part in parentheses, else the name)
    int port = 6817;  ///< SlurmctldPort (the first of a range)
};

/// Reads SlurmctldHost (or the older ControlMachine / ControlAddr) and SlurmctldPort from a
/// slurm.conf with a small parser (no Include files, no configless mode). nullopt when the file
/// cannot be read or names no controller. Never throws.
std::optional<ControllerAddress> read_controller_address(const std::filesystem::path& conf);

/// Connects to the controller over TCP within timeout_s and closes the connection. nullopt when
/// it accepted; otherwise what went wrong, in words ("connection refused", "no answer within
/// 1.0 s", "cannot resolve host name 'x'"). Never throws.
std::optional<std::string> probe_controller(const ControllerAddress& ctl, double timeout_s);

} // namespace kakuren::slurm

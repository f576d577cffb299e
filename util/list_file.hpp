#pragma once
// Reading a list file (one path a line), bounded: the data layouts' file lists.
#include <filesystem>
#include <string>
#include <vector>

namespace kakuren::util {

/// The entries of a list file (files_data.lst, files.lst): one per line, trailing spaces and
/// '\r' removed, empty lines skipped. A regular file of at most 256 MiB; throws RuntimeFailure
/// naming it otherwise.
std::vector<std::string> read_list_file(const std::filesystem::path& path);

} // namespace kakuren::util

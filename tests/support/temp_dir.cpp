#include "support/temp_dir.hpp"

#include <cstdlib> // ::mkdtemp (POSIX)

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace kakuren::testing {

namespace fs = std::filesystem;

fs::path make_temp_dir(const std::string& stem) {
    std::string pattern = (fs::temp_directory_path() / (stem + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("cannot create a temporary folder " + pattern + ": " +
                                 std::strerror(errno));
    }
    return pattern;
}

TempDir::TempDir(const std::string& stem) : m_path(make_temp_dir(stem)) {}

TempDir::~TempDir() {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(m_path, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec)) {
            fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
        }
    }
    fs::permissions(m_path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(m_path, ec);
}

} // namespace kakuren::testing

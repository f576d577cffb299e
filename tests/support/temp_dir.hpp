#pragma once
// A temporary folder for one test, removed with everything in it at the end.
#include <filesystem>
#include <string>

namespace kakuren::testing {

class TempDir {
  public:
    /// Creates <temp>/<stem>-XXXXXX (mkdtemp); throws std::runtime_error when it cannot.
    explicit TempDir(const std::string& stem = "kakuren-test");
    /// Removes the folder, after giving the owner write permission back (tests make parts of
    /// it read-only); never throws.
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }
    /// path() / name.
    std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

  private:
    std::filesystem::path m_path;
};

/// Creates <temp>/<stem>-XXXXXX and returns it; the caller removes it. Throws
/// std::runtime_error when it cannot.
std::filesystem::path make_temp_dir(const std::string& stem);

} // namespace kakuren::testing

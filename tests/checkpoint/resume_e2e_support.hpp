// Helpers of resume_e2e_test.cpp's kill-at-random-moments test: a counter of the checkpoint
// lines a run has logged so far, and a check for a checkpoint write cut short.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <system_error>
#include <utility>

namespace kakuren::testing {

/// Counts the complete lines with " checkpoint " in a growing log file, reading only what was
/// appended since the last call (it is polled every millisecond).
class CheckpointLineCounter {
  public:
    explicit CheckpointLineCounter(std::filesystem::path log) : m_log(std::move(log)) {}

    /// The checkpoint lines logged so far.
    std::size_t operator()() {
        std::ifstream in(m_log, std::ios::binary);
        in.seekg(static_cast<std::streamoff>(m_read_up_to));
        std::string more((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        m_read_up_to += more.size();
        m_tail += more;
        const std::size_t last_line = m_tail.rfind('\n');
        if (last_line != std::string::npos) {
            for (std::size_t at = m_tail.find(" checkpoint ");
                 at != std::string::npos && at < last_line;
                 at = m_tail.find(" checkpoint ", at + 1)) {
                ++m_logged;
            }
            m_tail.erase(0, last_line + 1);
        }
        return m_logged;
    }

  private:
    std::filesystem::path m_log;
    std::size_t m_logged = 0;
    std::uintmax_t m_read_up_to = 0;
    std::string m_tail; ///< the last, incomplete line
};

/// True when checkpoints holds debris of a checkpoint write cut short: a temporary or an
/// uncommitted folder (committed: the names the store lists).
inline bool has_write_debris(const std::filesystem::path& checkpoints,
                             const std::set<std::string>& committed) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(checkpoints, ec)) {
        const std::string name = e.path().filename().string();
        if (name.starts_with(".tmp-") || (!name.starts_with('.') && !committed.count(name))) {
            return true;
        }
    }
    return false;
}

/// What the kills of KilledTwentyTimesAtRandomMoments... did.
struct KillTally {
    int kills = 1; ///< the first attempt's kill included
    int in_write = 0, terms = 0;
    bool finished = false; ///< an attempt finished the run before its signal
};

} // namespace kakuren::testing

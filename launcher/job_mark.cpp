// kakuren's mark on a Slurm job (launcher/backend.hpp job_mark): a job is known by its id and
// by the run (or sweep) its comment names.
#include <string>
#include <vector>

#include "launcher/backend.hpp"

namespace kakuren::launcher {
namespace {

constexpr std::string_view k_run_mark = "kakuren-run=";
constexpr std::string_view k_sweep_mark = "kakuren-sweep=";

} // namespace

std::string job_mark(const std::vector<std::string>& run_ids, const std::string& sweep) {
    if (run_ids.size() > 1) {
        return std::string(k_sweep_mark) + sweep;
    }
    return run_ids.empty() ? std::string() : std::string(k_run_mark) + run_ids.front();
}

std::string mark_in(const std::string& comment) {
    // The last word that is a mark: ours is added after the recipe's own comment.
    std::string found;
    std::size_t begin = 0;
    while (begin < comment.size()) {
        std::size_t end = comment.find(' ', begin);
        if (end == std::string::npos) {
            end = comment.size();
        }
        const std::string_view word(comment.data() + begin, end - begin);
        if (word.rfind(k_run_mark, 0) == 0 || word.rfind(k_sweep_mark, 0) == 0) {
            found = std::string(word);
        }
        begin = end + 1;
    }
    return found;
}

bool job_is_runs(const JobView& view, const std::string& job_id, const std::string& run_id,
                 const std::string& sweep) {
    if (view.mark.empty()) {
        return view.name.empty() || view.name.rfind("kakuren-", 0) == 0;
    }
    const bool array_task = job_id.find('_') != std::string::npos;
    return view.mark ==
           (array_task ? std::string(k_sweep_mark) + sweep : std::string(k_run_mark) + run_id);
}

} // namespace kakuren::launcher

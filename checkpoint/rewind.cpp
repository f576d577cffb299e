#include "checkpoint/rewind.hpp"

#include <fstream>

#include "util/mllog.hpp"
#include "util/system.hpp"

namespace kakuren::checkpoint {

std::vector<std::string> rewind_run(db::Store& store, const Rewind& r) {
    Manager manager(store, r.run_id, r.run_dir / "checkpoints");
    std::vector<std::string> set_aside;
    for (const Status& s : r.skipped) {
        set_aside.push_back(s.name);
    }
    manager.set_aside(set_aside, r.attempt);
    std::vector<std::string> removed = manager.remove_uncommitted();
    store.rewind_run(r.run_id, r.chosen != nullptr ? r.chosen->loop.position.epochs_done() : 0);
    util::cut_mllog(r.run_dir / "mllog.txt", r.chosen != nullptr ? r.chosen->loop.mllog_bytes : 0);
    return removed;
}

void log_take_over(const Rewind& r, const std::vector<std::string>& removed,
                   const std::string& from) {
    std::ofstream log(r.run_dir / "train.log", std::ios::app);
    const std::string now = util::iso8601_utc_now();
    for (const Status& s : r.skipped) {
        log << now << " resume: skipped checkpoint " << s.name << ": " << s.problem << "\n";
    }
    for (const std::string& name : removed) {
        log << now << " resume: removed uncommitted checkpoint folder " << name << "\n";
    }
    log << now << " resume: attempt " << r.attempt << " continues from " << from << std::endl;
}

} // namespace kakuren::checkpoint

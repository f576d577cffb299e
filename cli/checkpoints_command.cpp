// `kakuren checkpoints RUN`: a run's checkpoints, newest first, whether each is valid, and the
// one `kakuren resume` would continue from.
#include <iostream>
#include <optional>

#include "checkpoint/manager.hpp"
#include "cli/commands.hpp"
#include "cli/lookup.hpp"
#include "cli/run_json.hpp"
#include "cli/text.hpp"
#include "db/store.hpp"
#include "launcher/workspace.hpp"
#include "util/json.hpp"

namespace kakuren::cli {
namespace {

util::JsonObject checkpoint_json(const checkpoint::Status& s) {
    const auto pos = checkpoint::parse_position_name(s.name);
    util::JsonObject o{
        {"name", s.name},
        {"epoch", pos ? util::Json(pos->epoch) : util::Json::null()},
        {"step", pos ? util::Json(static_cast<long long>(pos->step)) : util::Json::null()},
        {"epoch_end", pos ? util::Json(pos->epoch_end) : util::Json::null()},
        {"committed", s.row.has_value()},
        {"valid", s.valid},
        {"problem", s.valid ? util::Json::null() : util::Json(s.problem)}};
    if (s.row) {
        o.emplace_back("reason", s.row->reason);
        o.emplace_back("attempt", s.row->attempt);
        o.emplace_back("created_at", s.row->created_at);
        o.emplace_back("size_bytes", static_cast<long long>(s.row->size_bytes));
        o.emplace_back("test_accuracy", optional_number(s.row->test_accuracy));
    }
    return o;
}

} // namespace

int checkpoints_command(const CommonOptions& common, const std::string& run_ref) {
    const launcher::Workspace ws = launcher::resolve_workspace(common.workspace);
    db::Store store = open_store(ws);
    const db::RunRow run = require_run(store, run_ref);
    const checkpoint::Manager manager(store, run.id, ws.run_dir(run.id) / "checkpoints");
    const std::vector<checkpoint::Status> statuses = manager.inspect();
    std::optional<std::string> resume_from;
    for (const checkpoint::Status& s : statuses) {
        if (s.valid) {
            resume_from = s.name;
            break;
        }
    }

    if (common.format == Format::json) {
        util::JsonArray list;
        for (const checkpoint::Status& s : statuses) {
            list.emplace_back(checkpoint_json(s));
        }
        std::cout << util::Json(
                         util::JsonObject{{"run_id", run.id},
                                          {"dir", manager.dir().string()},
                                          {"checkpoints", util::Json(std::move(list))},
                                          {"resume_from", resume_from ? util::Json(*resume_from)
                                                                      : util::Json::null()}})
                         .dump_pretty()
                  << std::endl;
        return k_exit_ok;
    }

    if (statuses.empty()) {
        std::cout << "run " << run.id << " has no checkpoints (in " << manager.dir().string()
                  << ")\n";
        return k_exit_ok;
    }
    Table table({"checkpoint", "epoch", "step", "reason", "size", "test acc", "written", "valid"});
    for (const checkpoint::Status& s : statuses) {
        const auto pos = checkpoint::parse_position_name(s.name);
        const std::string step = !pos ? "?" : pos->epoch_end ? "end" : std::to_string(pos->step);
        table.add({s.name, pos ? std::to_string(pos->epoch) : "?", step,
                   s.row ? s.row->reason : "-",
                   s.row ? fixed(static_cast<double>(s.row->size_bytes) / 1e6, 2) + " MB" : "-",
                   s.row && s.row->test_accuracy ? percent(*s.row->test_accuracy, 2) : "-",
                   s.row ? s.row->created_at : "-", s.valid ? "yes" : "no: " + s.problem});
    }
    std::cout << "run " << run.id << ": checkpoints in " << manager.dir().string()
              << ", newest first\n"
              << table.render();
    if (resume_from) {
        std::cout << "kakuren resume " << run.id << " continues from " << *resume_from << "\n";
    } else {
        std::cout << "no valid checkpoint: kakuren resume " << run.id
                  << " would start the run over\n";
    }
    return k_exit_ok;
}

} // namespace kakuren::cli

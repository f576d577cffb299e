// resume_e2e_reference.hpp: starting kakuren, and the outcome of the run never stopped.
#include "resume_e2e_reference.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/files.hpp"
#include "support/process.hpp"
#include "util/system.hpp"

namespace kakuren::testing::resume_e2e {

namespace fs = std::filesystem;
using db::Store;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string hex(double x) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%a", x);
    return buf;
}

/// What the reference run depends on: the content of the kakuren binary, of the training
/// module it loads, and of the recipe (not their times: a rebuild to the same bytes, a touch or
/// a fresh checkout keeps the cache; any change of code or recipe makes a new reference).
std::string reference_key() {
    std::string all;
    for (const fs::path& file : {fs::path(KAKUREN_BIN), fs::path(KAKUREN_TRAIN_MODULE),
                                 fs::path(KAKUREN_SOURCE_DIR) / "recipes/synthetic_tiny.toml"}) {
        const std::string bytes = slurp(file);
        EXPECT_FALSE(bytes.empty()) << "cannot read " << file;
        all += util::sha256_hex(bytes);
    }
    return util::sha256_hex(all).substr(0, 16);
}

} // namespace

pid_t spawn(const fs::path& ws, const Spawn& s, const fs::path& out_file,
            const fs::path& err_file) {
    const bool fault = std::any_of(s.env.begin(), s.env.end(), [](const std::string& e) {
        return e.starts_with(k_fault_variable);
    });
    Command command;
    command.argv = {fault ? KAKUREN_FAULT_BIN : KAKUREN_BIN};
    command.argv.insert(command.argv.end(), s.args.begin(), s.args.end());
    command.argv.emplace_back("--workspace");
    command.argv.push_back(ws.string());
    command.env = s.env;
    command.cwd = KAKUREN_SOURCE_DIR;
    command.file_size_limit = s.file_size_limit;
    return start(command, out_file, err_file);
}

int wait_for(pid_t pid) {
    return wait_exit(pid);
}

Outcome outcome_of(const fs::path& ws, const std::string& id) {
    Outcome o;
    Store db = Store::open(ws / "kakuren.db");
    const auto run = db.find_run(id);
    EXPECT_TRUE(run && db::to_string(run->status) == "finished")
        << (run ? db::to_string(run->status) + " " + run->reason : "no run");
    const auto rows = db.checkpoints(id);
    EXPECT_FALSE(rows.empty());
    if (!rows.empty()) {
        EXPECT_EQ(rows.back().reason, "final");
        std::istringstream manifest(rows.back().manifest);
        std::string line;
        while (std::getline(manifest, line)) {
            const std::string file = line.substr(66);
            if (file == "model.pt" || file == "optimizer.pt" || file == "rng.pt") {
                o.final_files[file] = line.substr(0, 64);
            }
        }
        o.final_state = *db.checkpoint_state(id, rows.back().name);
    }
    for (const auto& e : db.epochs(id)) {
        o.epochs.push_back(std::to_string(e.epoch) + " " + hex(e.train_loss) + " " +
                           hex(e.train_accuracy) + " " + hex(e.test_loss) + " " +
                           hex(e.test_accuracy) + " " + hex(e.lr) + " " + hex(e.lr_scale) + " " +
                           hex(e.max_fraction) + " " + std::to_string(e.visible) + " " +
                           std::to_string(e.hidden) + " " + std::to_string(e.moved_back) + " " +
                           std::to_string(e.candidates) + " " + std::to_string(e.refreshed));
        o.hidden_sets.push_back(*db.hidden_set(id, e.epoch));
    }
    o.state = *db.sample_state(id);
    std::istringstream log(slurp(ws / "runs" / id / "mllog.txt"));
    const std::regex time(R"re("time_ms": \d+, )re");
    std::string line;
    while (std::getline(log, line)) {
        if (line.find(R"("key": "resume")") != std::string::npos) {
            ++o.resumes;
        } else {
            o.mllog.push_back(std::regex_replace(line, time, ""));
        }
    }
    return o;
}

void expect_same(const Outcome& got, const Outcome& want) {
    EXPECT_EQ(got.final_files, want.final_files) << "final weights / optimizer / RNG differ";
    EXPECT_EQ(got.epochs, want.epochs);
    EXPECT_EQ(got.hidden_sets, want.hidden_sets);
    EXPECT_TRUE(got.state == want.state) << "per-sample statistics differ";
    EXPECT_TRUE(got.final_state.stats == want.final_state.stats &&
                got.final_state.hidden_ids == want.final_state.hidden_ids)
        << "the final checkpoint's per-sample state differs";
    EXPECT_EQ(got.mllog, want.mllog) << "the MLPerf log has duplicates or gaps";
}

const Reference& reference() {
    static const Reference ref = [] {
        const fs::path cache = KAKUREN_TEST_CACHE_DIR;
        fs::create_directories(cache);
        const std::string name = "reference-" + reference_key();
        const fs::path ws = cache / name;
        const fs::path done = ws / "done";
        const int lock = open((cache / "lock").c_str(), O_CREAT | O_RDWR, 0644);
        flock(lock, LOCK_EX);
        if (!fs::exists(done)) {
            for (const auto& e : fs::directory_iterator(cache)) {
                if (e.path().filename().string().starts_with("reference-")) {
                    fs::remove_all(e.path());
                }
            }
            fs::create_directories(ws);
            const auto t = std::chrono::steady_clock::now();
            const int code = wait_for(spawn(
                ws,
                {{"run", "recipes/synthetic_tiny.toml", "--set", "run.threads=1", "--set",
                  "checkpoint.every_steps=1", "--set", "checkpoint.keep_last=1000", "--quiet"},
                 {},
                 {}},
                ws / "out.txt", ws / "err.txt"));
            EXPECT_EQ(code, 0) << slurp(ws / "err.txt");
            std::ofstream(done) << seconds_since(t);
        }
        flock(lock, LOCK_UN);
        close(lock);
        Reference r;
        r.seconds = std::stod(slurp(done));
        const Store db = Store::open(ws / "kakuren.db");
        const std::string id = db.list_runs().at(0).id;
        r.outcome = outcome_of(ws, id);
        for (const auto& row : db.checkpoints(id)) {
            r.positions.push_back(row.name);
        }
        return r;
    }();
    return ref;
}

} // namespace kakuren::testing::resume_e2e

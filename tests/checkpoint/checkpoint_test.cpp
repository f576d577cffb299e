// checkpoint/: the loop state format, positions, the schedule, and the manager on a real store
// and real folders: round trips, retention, damaged and uncommitted checkpoints, a full disk, a
// locked database.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "checkpoint/fault_hook.hpp"
#include "checkpoint/manager.hpp"
#include "checkpoint/state.hpp"
#include "db/store.hpp"
#include "support/errors.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "util/system.hpp"

namespace fs = std::filesystem;
using namespace kakuren::checkpoint;
using kakuren::db::CheckpointRow;
using kakuren::db::Store;

namespace {

using kakuren::testing::error_of;
using kakuren::testing::slurp;
using kakuren::testing::TempDir;

std::string pseudo_random_bytes(std::size_t n, std::uint32_t seed) {
    std::string out(n, '\0');
    std::uint32_t x = seed * 2654435761U + 1U;
    for (char& c : out) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<char>(x & 0xff);
    }
    return out;
}

/// A snapshot's owned data (spans point into it).
struct Fixture {
    kakuren::util::SampleStats stats;
    std::vector<std::int64_t> hidden;
    Snapshot snapshot;
};

/// A checkpoint of N samples at pos whose model.pt has model_bytes pseudo-random bytes.
Fixture make_snapshot(Position pos, std::int64_t n = 1000, std::size_t model_bytes = 4096,
                      std::optional<double> accuracy = std::nullopt) {
    Fixture f;
    f.stats = kakuren::util::SampleStats(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
        const auto k = static_cast<std::size_t>(i);
        f.stats.loss()[k] = static_cast<float>(i) * 0.5f + static_cast<float>(pos.epoch);
        f.stats.correct()[k] = static_cast<std::uint8_t>((i + pos.epoch) % 2);
        f.stats.confidence()[k] = 1.0f / static_cast<float>(i + 1);
        if (i % 7 == 3) {
            f.hidden.push_back(i);
        }
    }
    Snapshot& s = f.snapshot;
    s.loop.position = pos;
    s.loop.num_samples = n;
    s.loop.mllog_bytes = 1234 + pos.epoch;
    s.loop.seed = 7;
    s.loop.threads = 1;
    if (!pos.epoch_end) {
        s.loop.train_steps = 8;
        s.loop.refresh_steps = 2;
        s.loop.plan.num_samples = n;
        for (std::int64_t i = n - 1; i >= 0; --i) {
            if (i % 7 != 3) {
                s.loop.plan.train_ids.push_back(i);
            }
        }
        s.loop.plan.hidden_ids = f.hidden;
        s.loop.plan.refresh_ids = {f.hidden.rbegin(), f.hidden.rend()};
        s.loop.plan.lr_scale = 1.25;
        s.loop.train_loss_sum = 123.456;
        s.loop.train_count = 512;
        s.loop.train_correct = 300;
    }
    s.reason = pos.epoch_end ? Reason::epoch : Reason::steps;
    s.test_accuracy = accuracy;
    s.files = {
        {"model.pt", pseudo_random_bytes(model_bytes, static_cast<std::uint32_t>(pos.epoch))},
        {"optimizer.pt", pseudo_random_bytes(model_bytes / 2, 99)},
        {"rng.pt", "rng state"}};
    s.stats = f.stats.view();
    s.hidden_ids = f.hidden;
    return f;
}

/// A store with run "r1" and a manager for it in dir/runs/r1/checkpoints.
struct Workspace {
    explicit Workspace(const fs::path& root, Config config = {}, const fs::path& checkpoints = {})
        : store(Store::open(root / "kakuren.db")),
          manager(store, "r1", checkpoints.empty() ? root / "runs/r1/checkpoints" : checkpoints,
                  config) {
        kakuren::db::RunRow run;
        run.id = "r1";
        run.name = "tiny";
        run.recipe_path = "/x.toml";
        run.recipe_text = "[run]\n";
        run.recipe_hash = "h";
        run.strategy = "kakurenbo";
        run.run_dir = (root / "runs/r1").string();
        store.insert_run(run);
        manager.set_context(1, "[run]\nseed = 7\n");
    }
    Store store;
    Manager manager;
};

std::vector<std::string> names_of(const std::vector<Status>& statuses) {
    std::vector<std::string> names;
    names.reserve(statuses.size());
    for (const Status& s : statuses) {
        names.push_back(s.name);
    }
    return names;
}

// ---- loop.bin ----

TEST(LoopState, RoundTripsEveryField) {
    Fixture f = make_snapshot({3, 17, false});
    LoopState s = f.snapshot.loop;
    s.plan.train_weights.assign(s.plan.train_ids.size(), 0.5f);
    s.plan.max_fraction = 0.3;
    s.plan.num_candidates = 200;
    s.plan.num_moved_back = 57;
    s.train_loss = 0.25;
    s.train_accuracy = 0.75;
    s.lr = 0.0123;
    s.samples_per_s = 9000.5;
    s.train_s = 1.5;
    s.hidden_pass_s = 0.5;
    s.final_accuracy = 0.875;
    s.best_accuracy = 0.9;
    s.seed = 0xFFFFFFFFFFFFFFF1ULL;
    s.world_size = 2;
    s.threads = 4;

    const LoopState back = decode_loop_state(encode(s));
    EXPECT_EQ(back.position, s.position);
    EXPECT_EQ(back.num_samples, s.num_samples);
    EXPECT_EQ(back.train_steps, 8);
    EXPECT_EQ(back.refresh_steps, 2);
    EXPECT_EQ(back.plan.train_ids, s.plan.train_ids);
    EXPECT_EQ(back.plan.train_weights, s.plan.train_weights);
    EXPECT_EQ(back.plan.hidden_ids, s.plan.hidden_ids);
    EXPECT_EQ(back.plan.refresh_ids, s.plan.refresh_ids);
    EXPECT_EQ(back.plan.max_fraction, 0.3);
    EXPECT_EQ(back.plan.lr_scale, 1.25);
    EXPECT_EQ(back.plan.num_candidates, 200);
    EXPECT_EQ(back.plan.num_moved_back, 57);
    EXPECT_EQ(back.plan.num_samples, s.plan.num_samples);
    EXPECT_EQ(back.train_loss_sum, 123.456);
    EXPECT_EQ(back.train_correct, 300);
    EXPECT_EQ(back.train_count, 512);
    EXPECT_EQ(back.train_loss, 0.25);
    EXPECT_EQ(back.train_accuracy, 0.75);
    EXPECT_EQ(back.lr, 0.0123);
    EXPECT_EQ(back.samples_per_s, 9000.5);
    EXPECT_EQ(back.train_s, 1.5);
    EXPECT_EQ(back.hidden_pass_s, 0.5);
    EXPECT_EQ(back.final_accuracy, 0.875);
    EXPECT_EQ(back.best_accuracy, 0.9);
    EXPECT_EQ(back.mllog_bytes, s.mllog_bytes);
    EXPECT_EQ(back.seed, s.seed);
    EXPECT_EQ(back.world_size, 2);
    EXPECT_EQ(back.threads, 4);
}

TEST(LoopState, SkipsUnknownFieldsAndDefaultsMissingOnes) {
    LoopState s;
    s.position = {2, 0, true};
    std::string bytes = encode(s);
    // A field from a newer kakuren: (name length, name, payload length, payload).
    const std::string name = "from_the_future";
    bytes.push_back(static_cast<char>(name.size()));
    bytes.push_back('\0');
    bytes += name;
    const std::string payload = "xyz";
    bytes.push_back(static_cast<char>(payload.size()));
    bytes.append(7, '\0');
    bytes += payload;
    const LoopState back = decode_loop_state(bytes);
    EXPECT_EQ(back.position, s.position);
    EXPECT_EQ(back.plan.lr_scale, 1.0);
    EXPECT_EQ(back.world_size, 1);
}

TEST(LoopState, RefusesWhatIsNotOneOrIsCutShort) {
    Fixture f = make_snapshot({3, 17, false});
    const std::string bytes = encode(f.snapshot.loop);
    EXPECT_NE(error_of([&] {
                  decode_loop_state("not a loop state at all");
              }).find("loop.bin: not a kakuren loop state"),
              std::string::npos);
    for (const std::size_t cut : {bytes.size() - 1, bytes.size() / 2, std::size_t{13}}) {
        SCOPED_TRACE(cut);
        const std::string message = error_of([&] { decode_loop_state(bytes.substr(0, cut)); });
        EXPECT_NE(message.find("loop.bin: "), std::string::npos) << message;
        EXPECT_NE(message.find("cut short"), std::string::npos) << message;
    }
}

// ---- positions and the schedule ----

TEST(Position, NamesSortLikePositionsAndParseBack) {
    const std::vector<Position> in_order = {{1, 5, false},  {1, 0, true}, {2, 1, false},
                                            {2, 99, false}, {2, 0, true}, {12, 3, false}};
    for (std::size_t i = 0; i + 1 < in_order.size(); ++i) {
        EXPECT_LT(in_order[i], in_order[i + 1]);
        EXPECT_LT(in_order[i].name(), in_order[i + 1].name());
    }
    EXPECT_EQ(Position({3, 120, false}).name(), "0003-000120");
    EXPECT_EQ(Position({3, 0, true}).name(), "0003-end");
    EXPECT_EQ(Position({3, 0, true}).describe(), "end of epoch 3");
    EXPECT_EQ(Position({3, 120, false}).describe(), "epoch 3, step 120");
    EXPECT_EQ(Position({3, 120, false}).epochs_done(), 2);
    EXPECT_EQ(Position({3, 0, true}).epochs_done(), 3);
    for (const Position& p : in_order) {
        EXPECT_EQ(parse_position_name(p.name()), p);
    }
    for (const char* bad :
         {"", "3-end", "0003-", "0003-000000", "x003-end", "0003-0001", ".tmp-1"}) {
        EXPECT_FALSE(parse_position_name(bad).has_value()) << bad;
    }
}

TEST(Schedule, EveryEpochsStepsAndSeconds) {
    Schedule every_two(Config{2, 0, 0, 2, true});
    EXPECT_FALSE(every_two.due_at_epoch_end(1, false));
    EXPECT_TRUE(every_two.due_at_epoch_end(2, false));
    EXPECT_TRUE(every_two.due_at_epoch_end(3, true)) << "the last epoch always";
    EXPECT_FALSE(every_two.due_within_epoch(1000, 1e6)) << "no mid-epoch interval set";
    Schedule last_only(Config{0, 0, 0, 2, true});
    EXPECT_FALSE(last_only.due_at_epoch_end(4, false));
    EXPECT_TRUE(last_only.due_at_epoch_end(5, true));
    Schedule steps(Config{1, 10, 0, 2, true});
    EXPECT_FALSE(steps.due_within_epoch(9, 1e6));
    EXPECT_TRUE(steps.due_within_epoch(10, 0));
    Schedule seconds(Config{1, 0, 30, 2, true});
    EXPECT_FALSE(seconds.due_within_epoch(5, 29.9));
    EXPECT_TRUE(seconds.due_within_epoch(5, 30));
    EXPECT_FALSE(seconds.due_within_epoch(0, 3000)) << "nothing happened since the last one";
}

// ---- the manager ----

TEST(Manager, SavesAnAtomicFolderAndLoadsItBackExactly) {
    TempDir dir;
    Workspace ws(dir.path());
    Fixture f = make_snapshot({2, 7, false});
    const CheckpointRow row = ws.manager.save(f.snapshot);
    EXPECT_EQ(row.name, "0002-000007");
    EXPECT_EQ(row.reason, "steps");
    EXPECT_EQ(row.attempt, 1);
    EXPECT_EQ(row.num_samples, 1000);
    EXPECT_EQ(row.mllog_bytes, 1236);

    // Only the checkpoint's folder: no temporary folder left.
    const fs::path folder = ws.manager.dir() / "0002-000007";
    std::vector<std::string> entries;
    for (const auto& e : fs::directory_iterator(ws.manager.dir())) {
        entries.push_back(e.path().filename().string());
    }
    EXPECT_EQ(entries, std::vector<std::string>{"0002-000007"});
    for (const char* file :
         {"model.pt", "optimizer.pt", "rng.pt", "loop.bin", "recipe.toml", "manifest.sha256"}) {
        EXPECT_TRUE(fs::is_regular_file(folder / file)) << file;
    }
    EXPECT_EQ(slurp(folder / "model.pt"), f.snapshot.files[0].bytes);
    EXPECT_EQ(slurp(folder / "recipe.toml"), "[run]\nseed = 7\n");
    // The manifest is sha256sum's format: a user can check a checkpoint by hand.
    const std::string manifest = slurp(folder / "manifest.sha256");
    EXPECT_EQ(manifest, row.manifest);
    EXPECT_EQ(manifest.substr(0, 64), kakuren::util::sha256_hex(f.snapshot.files[0].bytes));
    EXPECT_EQ(manifest.substr(64, 11), "  model.pt\n");
    const std::string check =
        "cd '" + folder.string() + "' && sha256sum --quiet -c manifest.sha256";
    EXPECT_EQ(std::system(check.c_str()), 0);

    const Resume back = ws.manager.load("0002-000007");
    EXPECT_EQ(back.name, "0002-000007");
    EXPECT_EQ(back.loop.position, (Position{2, 7, false}));
    EXPECT_EQ(back.loop.plan.train_ids, f.snapshot.loop.plan.train_ids);
    EXPECT_EQ(back.loop.train_loss_sum, 123.456);
    EXPECT_EQ(back.files.size(), 3U) << "model.pt, optimizer.pt, rng.pt";
    EXPECT_EQ(back.files.at("model.pt"), f.snapshot.files[0].bytes);
    EXPECT_EQ(back.files.at("rng.pt"), "rng state");
    EXPECT_EQ(back.recipe_text, "[run]\nseed = 7\n");
    EXPECT_EQ(back.stats, f.stats);
    EXPECT_EQ(back.hidden_ids, f.hidden);

    const auto statuses = ws.manager.inspect();
    ASSERT_EQ(statuses.size(), 1U);
    EXPECT_TRUE(statuses[0].valid) << statuses[0].problem;
    EXPECT_EQ(statuses[0].row->size_bytes, row.size_bytes);

    // Saving the same position again changes nothing.
    EXPECT_EQ(ws.manager.save(f.snapshot).created_at, row.created_at);
}

TEST(Manager, KeepsTheNewestAndTheBestAndDeletesTheRestAfterTheCommit) {
    TempDir dir;
    Workspace ws(dir.path(), Config{1, 0, 0, 2, true});
    const std::vector<double> accuracy = {0.5, 0.9, 0.7, 0.8, 0.6};
    for (int e = 1; e <= 5; ++e) {
        Fixture f =
            make_snapshot({e, 0, true}, 100, 512, accuracy[static_cast<std::size_t>(e - 1)]);
        ws.manager.save(f.snapshot);
        Fixture mid = make_snapshot({e + 1, 3, false}, 100, 512);
        ws.manager.save(mid.snapshot);
    }
    // The two newest (0005-end, 0006-000003) and the best (0002-end, 0.9).
    EXPECT_EQ(names_of(ws.manager.inspect()),
              (std::vector<std::string>{"0006-000003", "0005-end", "0002-end"}));
    std::vector<std::string> folders;
    for (const auto& e : fs::directory_iterator(ws.manager.dir())) {
        folders.push_back(e.path().filename().string());
    }
    std::sort(folders.begin(), folders.end());
    EXPECT_EQ(folders, (std::vector<std::string>{"0002-end", "0005-end", "0006-000003"}));

    TempDir other;
    Workspace no_best(other.path(), Config{1, 0, 0, 1, false});
    for (int e = 1; e <= 3; ++e) {
        Fixture f = make_snapshot({e, 0, true}, 100, 512, 1.0 / e);
        no_best.manager.save(f.snapshot);
    }
    EXPECT_EQ(names_of(no_best.manager.inspect()), std::vector<std::string>{"0003-end"});
}

std::vector<std::string> g_fault_calls; // what the hook below saw

void record_fault_point(FaultPoint point, int save_number) {
    g_fault_calls.push_back(std::string(to_string(point)) + ":" + std::to_string(save_number));
}

TEST(Manager, TheFaultHookSeesEveryPointOfEverySaveInOrderAndIsOffByDefault) {
    TempDir dir;
    Workspace ws(dir.path(), Config{1, 0, 0, 1, false});
    g_fault_calls.clear();
    Fixture first = make_snapshot({1, 0, true}, 100, 512);
    ws.manager.save(first.snapshot); // no hook set: nothing is called
    EXPECT_TRUE(g_fault_calls.empty());
    set_fault_hook(&record_fault_point);
    Fixture second = make_snapshot({2, 0, true}, 100, 512);
    ws.manager.save(second.snapshot); // retention removes 0001-end
    set_fault_hook(nullptr);
    Fixture third = make_snapshot({3, 0, true}, 100, 512);
    ws.manager.save(third.snapshot);
    EXPECT_EQ(g_fault_calls, (std::vector<std::string>{"write:2", "synced:2", "renamed:2",
                                                       "committed:2", "retention:2"}));
}

TEST(Manager, DamagedCheckpointsAreReportedSkippedAndNeverLoaded) {
    TempDir dir;
    Workspace ws(dir.path(), Config{1, 0, 0, 10, false});
    for (int e = 1; e <= 5; ++e) {
        Fixture f = make_snapshot({e, 0, true}, 100, 2048, 0.5);
        ws.manager.save(f.snapshot);
    }
    const fs::path d = ws.manager.dir();
    // 0005: truncated model; 0004: one bit flipped; 0003: its folder gone; 0002: the manifest
    // edited to match a changed file.
    fs::resize_file(d / "0005-end/model.pt", 1000);
    {
        std::string bytes = slurp(d / "0004-end/optimizer.pt");
        bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
        std::ofstream(d / "0004-end/optimizer.pt", std::ios::binary) << bytes;
    }
    fs::remove_all(d / "0003-end");
    std::ofstream(d / "0002-end/rng.pt", std::ios::binary) << "other state";
    {
        std::string manifest = slurp(d / "0002-end/manifest.sha256");
        const std::string sha = kakuren::util::sha256_hex("other state");
        const auto at = manifest.find("  rng.pt");
        manifest.replace(at - 64, 64, sha);
        std::ofstream(d / "0002-end/manifest.sha256", std::ios::binary) << manifest;
    }

    const auto statuses = ws.manager.inspect();
    ASSERT_EQ(statuses.size(), 5U);
    EXPECT_FALSE(statuses[0].valid);
    EXPECT_EQ(statuses[0].problem, "model.pt: sha256 mismatch (1000 bytes; damaged or truncated)");
    EXPECT_FALSE(statuses[1].valid);
    EXPECT_NE(statuses[1].problem.find("optimizer.pt: sha256 mismatch"), std::string::npos);
    EXPECT_FALSE(statuses[2].valid);
    EXPECT_NE(statuses[2].problem.find("0003-end is missing"), std::string::npos);
    EXPECT_FALSE(statuses[3].valid);
    EXPECT_EQ(statuses[3].problem, "manifest.sha256 differs from the database record");
    EXPECT_TRUE(statuses[4].valid) << statuses[4].problem;

    std::vector<Status> skipped;
    const auto chosen = ws.manager.load_newest_valid(skipped);
    ASSERT_TRUE(chosen.has_value());
    EXPECT_EQ(chosen->name, "0001-end");
    EXPECT_EQ(names_of(skipped),
              (std::vector<std::string>{"0005-end", "0004-end", "0003-end", "0002-end"}));
    EXPECT_EQ(skipped[0].problem, "model.pt: sha256 mismatch (1000 bytes; damaged or truncated)");
    EXPECT_NE(error_of([&] {
                  ws.manager.load("0004-end");
              }).find("checkpoint 0004-end of run r1 is not valid: optimizer.pt: sha256 mismatch"),
              std::string::npos);

    // A resume sets them aside: their rows go, their folders move to .damaged/.
    ws.manager.set_aside(names_of(skipped), 2);
    EXPECT_EQ(names_of(ws.manager.inspect()), std::vector<std::string>{"0001-end"});
    EXPECT_TRUE(fs::exists(d / ".damaged/0005-end.attempt-2/model.pt"));
    EXPECT_FALSE(fs::exists(d / "0005-end"));
}

TEST(Manager, AChangedDatabaseHalfIsCaughtAndThePreviousCheckpointUsed) {
    // Before: a zeroed per-sample blob still listed as valid and was resumed from; a hidden
    // blob of the wrong length ended the resume with "database is damaged", no fallback.
    TempDir dir;
    Workspace ws(dir.path(), Config{1, 0, 0, 10, false});
    for (int e = 1; e <= 3; ++e) {
        Fixture f = make_snapshot({e, 0, true}, 100, 2048, 0.5);
        ws.manager.save(f.snapshot);
    }
    const auto exec = [&](const char* sql) {
        ASSERT_EQ(sqlite3_exec(ws.store.handle(), sql, nullptr, nullptr, nullptr), SQLITE_OK)
            << sql;
    };
    exec("UPDATE checkpoints SET loss = zeroblob(400) WHERE name = '0003-end'");
    exec("UPDATE checkpoints SET hidden = zeroblob(3) WHERE name = '0002-end'");

    const auto statuses = ws.manager.inspect();
    ASSERT_EQ(statuses.size(), 3U);
    EXPECT_FALSE(statuses[0].valid);
    EXPECT_EQ(statuses[0].problem, "its per-sample state in the database does not match "
                                   "state.sha256 (the database was changed after it was "
                                   "written)");
    EXPECT_FALSE(statuses[1].valid);
    EXPECT_NE(statuses[1].problem.find("its per-sample state in the database is damaged"),
              std::string::npos)
        << statuses[1].problem;
    EXPECT_TRUE(statuses[2].valid) << statuses[2].problem;

    std::vector<Status> skipped;
    const auto chosen = ws.manager.load_newest_valid(skipped);
    ASSERT_TRUE(chosen.has_value());
    EXPECT_EQ(chosen->name, "0001-end");
    EXPECT_EQ(names_of(skipped), (std::vector<std::string>{"0003-end", "0002-end"}));
    EXPECT_EQ(chosen->files.count("state.sha256"), 0U) << "not a trainer file";
}

TEST(Manager, FoldersWithoutARecordAreNeverUsedAndAreRemoved) {
    TempDir dir;
    Workspace ws(dir.path());
    Fixture f = make_snapshot({1, 0, true});
    ws.manager.save(f.snapshot);
    // What a process killed between the rename and the commit, or while writing, leaves.
    fs::copy(ws.manager.dir() / "0001-end", ws.manager.dir() / "0002-000004");
    fs::create_directories(ws.manager.dir() / ".tmp-0002-000005-4242");
    std::ofstream(ws.manager.dir() / ".tmp-0002-000005-4242/model.pt") << "half";

    const auto statuses = ws.manager.inspect();
    ASSERT_EQ(statuses.size(), 2U);
    EXPECT_EQ(statuses[0].name, "0001-end");
    EXPECT_TRUE(statuses[0].valid);
    EXPECT_EQ(statuses[1].name, "0002-000004");
    EXPECT_FALSE(statuses[1].row.has_value());
    EXPECT_FALSE(statuses[1].valid);
    EXPECT_NE(statuses[1].problem.find("not committed"), std::string::npos);
    std::vector<Status> skipped;
    EXPECT_EQ(ws.manager.load_newest_valid(skipped)->name, "0001-end");
    EXPECT_TRUE(skipped.empty());

    EXPECT_EQ(ws.manager.remove_uncommitted(),
              (std::vector<std::string>{".tmp-0002-000005-4242", "0002-000004"}));
    EXPECT_FALSE(fs::exists(ws.manager.dir() / "0002-000004"));
    EXPECT_TRUE(fs::exists(ws.manager.dir() / "0001-end/model.pt"));

    // A save over a folder of the same name that was never committed replaces it.
    fs::copy(ws.manager.dir() / "0001-end", ws.manager.dir() / "0002-000004");
    std::ofstream(ws.manager.dir() / "0002-000004/junk") << "x";
    Fixture g = make_snapshot({2, 4, false});
    ws.manager.save(g.snapshot);
    EXPECT_FALSE(fs::exists(ws.manager.dir() / "0002-000004/junk"));
    EXPECT_TRUE(ws.manager.inspect()[0].valid);
}

/// The failure of a checkpoint written onto a full file system (or past a file size limit):
/// a clear error, nothing of it left, the previous checkpoint still valid.
void expect_full_disk_failure(Workspace& ws, const std::string& expected_cause,
                              const std::function<void()>& fill_up) {
    Fixture first = make_snapshot({1, 0, true}, 100, std::size_t{64} * 1024, 0.5);
    ws.manager.save(first.snapshot);
    fill_up();
    Fixture big = make_snapshot({2, 0, true}, 100, std::size_t{512} * 1024, 0.6);
    const std::string message = error_of([&] { ws.manager.save(big.snapshot); });
    EXPECT_NE(message.find("cannot write checkpoint 0002-end of run r1: "), std::string::npos)
        << message;
    EXPECT_NE(message.find(expected_cause), std::string::npos) << message;
    EXPECT_NE(message.find("then kakuren resume r1"), std::string::npos) << message;
    EXPECT_NE(message.find("the previous checkpoint 0001-end stays valid"), std::string::npos)
        << message;
    std::vector<std::string> entries;
    for (const auto& e : fs::directory_iterator(ws.manager.dir())) {
        entries.push_back(e.path().filename().string());
    }
    EXPECT_EQ(entries, std::vector<std::string>{"0001-end"}) << "no partial checkpoint is left";
    const auto statuses = ws.manager.inspect();
    ASSERT_EQ(statuses.size(), 1U);
    EXPECT_TRUE(statuses[0].valid) << statuses[0].problem;
}

/// RLIMIT_FSIZE for this process while it lives; SIGXFSZ ignored so that writes fail with EFBIG.
class FileSizeLimit {
  public:
    explicit FileSizeLimit(rlim_t bytes) {
        getrlimit(RLIMIT_FSIZE, &m_old);
        m_old_handler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit limit = m_old;
        limit.rlim_cur = bytes;
        setrlimit(RLIMIT_FSIZE, &limit);
    }
    ~FileSizeLimit() {
        setrlimit(RLIMIT_FSIZE, &m_old);
        std::signal(SIGXFSZ, m_old_handler);
    }
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;

  private:
    rlimit m_old{};
    void (*m_old_handler)(int) = nullptr;
};

TEST(Manager, AFileSizeLimitFailsTheWriteClearlyAndKeepsThePreviousCheckpoint) {
    TempDir dir;
    Workspace ws(dir.path());
    std::optional<FileSizeLimit> limit;
    expect_full_disk_failure(ws, "File too large", [&] { limit.emplace(256 * 1024); });
}

TEST(Manager, AFullDiskFailsTheWriteClearlyAndKeepsThePreviousCheckpoint) {
    TempDir dir;
    // A small tmpfs for the checkpoints when this process may mount one (root); else the same
    // failure through a file size limit (the write fails the same way).
    const fs::path small = dir.path() / "small";
    fs::create_directories(small);
    const bool mounted = ::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=400k") == 0;
    struct Unmount {
        fs::path path;
        bool active;
        ~Unmount() {
            if (active) {
                ::umount2(path.c_str(), MNT_DETACH);
            }
        }
    } unmount{small, mounted};
    Workspace ws(dir.path(), Config{}, small / "checkpoints");
    std::optional<FileSizeLimit> limit;
    if (mounted) {
        expect_full_disk_failure(ws, "No space left on device", [] {});
    } else {
        std::cerr << "note: mount(tmpfs) is not permitted here; filling up with RLIMIT_FSIZE\n";
        expect_full_disk_failure(ws, "File too large", [&] { limit.emplace(256 * 1024); });
    }
}

TEST(Manager, ALockedDatabaseFailsTheCommitAndLeavesNoFolder) {
    TempDir dir;
    Workspace ws(dir.path());
    Fixture first = make_snapshot({1, 0, true});
    ws.manager.save(first.snapshot);
    sqlite3_busy_timeout(ws.store.handle(), 200); // the real timeout is 10 s

    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open((dir.path() / "kakuren.db").c_str(), &other), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    Fixture second = make_snapshot({2, 0, true});
    const std::string message = error_of([&] { ws.manager.save(second.snapshot); });
    EXPECT_NE(message.find("cannot write checkpoint 0002-end of run r1: database "),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("another kakuren process held the database"), std::string::npos)
        << message;
    EXPECT_NE(message.find("the previous checkpoint 0001-end stays valid"), std::string::npos)
        << message;
    EXPECT_FALSE(fs::exists(ws.manager.dir() / "0002-end"));
    sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);

    // A reader inside a read transaction does not block a checkpoint (WAL).
    ASSERT_EQ(
        sqlite3_exec(other, "BEGIN; SELECT COUNT(*) FROM checkpoints;", nullptr, nullptr, nullptr),
        SQLITE_OK);
    ws.manager.save(second.snapshot);
    sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(other);
    EXPECT_EQ(names_of(ws.manager.inspect()), (std::vector<std::string>{"0002-end", "0001-end"}));
}

} // namespace

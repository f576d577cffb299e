// The training module's ABI (trainer/module.hpp): the layout recorded for k_module_abi_version.
// A change to what crosses the boundary fails here until the version is bumped and the table
// below updated, so a stale module can never be accepted by a version check that passes.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "trainer/module_layout.hpp"

namespace {

using namespace kakuren;
using trainer::ModuleTable;

constexpr const char* k_changed =
    "the module ABI changed: bump k_module_abi_version and update this table "
    "(tests/trainer/module_abi_test.cpp)";

/// The version the tables below were recorded for.
constexpr unsigned k_recorded_version = 3;

struct Recorded {
    std::string_view name;
    std::size_t size, align, fields; ///< fields: of an aggregate, else 0
};

// Recorded for 64-bit libstdc++ with the C++11 string ABI: Debian's LibTorch and PyPI's torch
// 2.x alike (the layout of these types does not depend on LibTorch). util::MlLog holds a
// std::mutex and a std::ofstream, whose sizes are the platform's pthread_mutex_t's (40 bytes
// on x86-64, 48 on aarch64): its row records its size without them.
const std::vector<Recorded> k_layout = {
    {"ModuleTable", 88, 8, 11},
    {"ModuleError", 40, 8, 2},
    {"Config", 1600, 8, 17},
    {"DataConfig", 648, 8, 37},
    {"ModelConfig", 200, 8, 11},
    {"OptimConfig", 88, 8, 8},
    {"ScheduleConfig", 112, 8, 8},
    {"TaskConfig", 72, 8, 4},
    {"hiding::Config", 136, 8, 8},
    {"StatsConfig", 2, 1, 2},
    {"DeviceConfig", 104, 8, 4},
    {"checkpoint::Config", 32, 8, 5},
    {"DistConfig", 80, 8, 9},
    {"Summary", 104, 8, 11},
    {"Observer", 8, 8, 0},
    {"StepProgress", 104, 8, 11},
    {"EpochResult", 248, 8, 23},
    {"checkpoint::Snapshot", 416, 8, 7},
    {"checkpoint::LoopState", 296, 8, 20},
    {"hiding::EpochPlan", 136, 8, 9},
    {"checkpoint::File", 64, 8, 2},
    {"checkpoint::Resume", 520, 8, 7},
    {"util::SampleStatsView", 48, 8, 3},
    {"util::SampleStats", 72, 8, 0},
    {"util::MlLog", 80, 8, 0}, // without its std::mutex and std::ofstream
    {"DataProblem", 64, 8, 2},
    {"SynthConfig", 144, 8, 9},
    {"SynthResult", 24, 8, 3},
};

/// The entries of ModuleTable in their order (offsets in pointers from the table's start).
const std::vector<std::string_view> k_entries = {
    "train",           "check_model",  "check_data",
    "check_model_fit", "inspect_data", "inspect_recipe_data",
    "convert_idx",     "sample_files", "write_standin"};

bool recorded_platform() {
#if defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI
    return sizeof(void*) == 8;
#else
    return false;
#endif
}

/// Where `member` lies in an S (S's members need not be standard-layout, so no offsetof).
template <class S, class M> std::size_t offset_in(M S::*member) {
    static const S object{};
    return static_cast<std::size_t>(reinterpret_cast<const char*>(&(object.*member)) -
                                    reinterpret_cast<const char*>(&object));
}

struct Field {
    std::string_view name;
    std::size_t offset, recorded;
};

/// The fields of the records each side fills in for the other, with their recorded offsets
/// (same platform as k_layout).
std::vector<Field> fields() {
    using namespace trainer;
    return {
        {"ModuleError::kind", offset_in(&ModuleError::kind), 0},
        {"ModuleError::message", offset_in(&ModuleError::message), 8},
        {"DataProblem::message", offset_in(&DataProblem::message), 32},
        {"Config::model", offset_in(&Config::model), 648},
        {"Config::optim", offset_in(&Config::optim), 848},
        {"Config::schedule", offset_in(&Config::schedule), 936},
        {"Config::task", offset_in(&Config::task), 1048},
        {"Config::hiding", offset_in(&Config::hiding), 1120},
        {"Config::stats", offset_in(&Config::stats), 1256},
        {"Config::seed", offset_in(&Config::seed), 1264},
        {"Config::threads", offset_in(&Config::threads), 1272},
        {"Config::device", offset_in(&Config::device), 1280},
        {"Config::target_accuracy", offset_in(&Config::target_accuracy), 1384},
        {"Config::benchmark_name", offset_in(&Config::benchmark_name), 1400},
        {"Config::stop_on_nan", offset_in(&Config::stop_on_nan), 1432},
        {"Config::stop_grace_s", offset_in(&Config::stop_grace_s), 1440},
        {"Config::checkpoint", offset_in(&Config::checkpoint), 1448},
        {"Config::dist", offset_in(&Config::dist), 1488},
        {"Config::stage", offset_in(&Config::stage), 1568},
        {"Summary::final_accuracy", offset_in(&Summary::final_accuracy), 8},
        {"Summary::metric_name", offset_in(&Summary::metric_name), 24},
        {"Summary::diverged", offset_in(&Summary::diverged), 48},
        {"Summary::num_train_samples", offset_in(&Summary::num_train_samples), 80},
        {"Summary::model_digest", offset_in(&Summary::model_digest), 96},
        {"SynthConfig::train", offset_in(&SynthConfig::train), 32},
        {"SynthConfig::seed", offset_in(&SynthConfig::seed), 72},
        {"SynthConfig::out", offset_in(&SynthConfig::out), 80},
        {"SynthResult::seconds", offset_in(&SynthResult::seconds), 16},
        {"EpochResult::metric_name", offset_in(&EpochResult::metric_name), 40},
        {"EpochResult::hidden_ids", offset_in(&EpochResult::hidden_ids), 184},
        {"StepProgress::phase", offset_in(&StepProgress::phase), 24},
    };
}

std::size_t comparable_size(const trainer::LayoutRow& row) {
    return row.name == "util::MlLog" ? row.size - sizeof(std::mutex) - sizeof(std::ofstream)
                                     : row.size;
}

} // namespace

TEST(ModuleAbi, TheTablesAreThoseOfTheCurrentVersion) {
    EXPECT_EQ(trainer::k_module_abi_version, k_recorded_version)
        << "k_module_abi_version changed: record its layout in tests/trainer/module_abi_test.cpp "
           "(the values ModuleAbi.* report) and set k_recorded_version";
}

TEST(ModuleAbi, EveryTypeThatCrossesTheBoundaryHasItsRecordedSize) {
    if (!recorded_platform()) {
        GTEST_SKIP() << "layout recorded for 64-bit libstdc++ with the C++11 ABI only";
    }
    const auto rows = trainer::module_layout();
    ASSERT_EQ(rows.size(), k_layout.size()) << k_changed << ": a type was added or removed";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Recorded& want = k_layout[i];
        EXPECT_EQ(rows[i].name, want.name) << k_changed;
        EXPECT_EQ(comparable_size(rows[i]), want.size)
            << k_changed << ": sizeof(" << rows[i].name << ")";
        EXPECT_EQ(rows[i].align, want.align) << k_changed << ": alignof(" << rows[i].name << ")";
        EXPECT_EQ(rows[i].fields, want.fields)
            << k_changed << ": the number of fields of " << rows[i].name;
    }
}

TEST(ModuleAbi, TheTableHoldsItsEntriesInTheRecordedOrder) {
    if (!recorded_platform()) {
        GTEST_SKIP() << "layout recorded for 64-bit libstdc++ with the C++11 ABI only";
    }
    const auto entries = trainer::module_entries();
    ASSERT_EQ(entries.size(), k_entries.size()) << k_changed << ": an entry was added or removed";
    // version and fingerprint first, where a loader of any version reads them.
    EXPECT_EQ(offsetof(ModuleTable, version), 0U) << k_changed;
    EXPECT_EQ(offsetof(ModuleTable, fingerprint), 8U) << k_changed;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        EXPECT_EQ(entries[i].name, k_entries[i]) << k_changed;
        EXPECT_EQ(entries[i].offset, 16 + i * sizeof(void*)) << k_changed << ": " << k_entries[i];
    }
}

TEST(ModuleAbi, EveryEntryTakesTheRecordedArguments) {
    using namespace trainer;
    using E = ModuleError&;
    const auto same = [](bool is_same, const char* entry) {
        EXPECT_TRUE(is_same) << k_changed << ": the type of ModuleTable::" << entry;
    };
    same(std::is_same_v<decltype(ModuleTable::train),
                        void (*)(const Config&, Observer&, util::MlLog&, const std::atomic<bool>*,
                                 const checkpoint::Resume*, Summary&, E) noexcept>,
         "train");
    same(std::is_same_v<decltype(ModuleTable::check_model), void (*)(const Config&, E) noexcept>,
         "check_model");
    using Problems = void (*)(const Config&, std::vector<DataProblem>&, E) noexcept;
    same(std::is_same_v<decltype(ModuleTable::check_data), Problems>, "check_data");
    same(std::is_same_v<decltype(ModuleTable::check_model_fit), Problems>, "check_model_fit");
    same(std::is_same_v<decltype(ModuleTable::inspect_data),
                        void (*)(const std::string&, bool, std::string&, E) noexcept>,
         "inspect_data");
    same(std::is_same_v<decltype(ModuleTable::inspect_recipe_data),
                        void (*)(const DataConfig&, const std::string&, bool, std::string&,
                                 E) noexcept>,
         "inspect_recipe_data");
    same(std::is_same_v<decltype(ModuleTable::convert_idx),
                        void (*)(const std::string&, const std::string&, const std::string&,
                                 std::string&, E) noexcept>,
         "convert_idx");
    same(std::is_same_v<decltype(ModuleTable::sample_files),
                        void (*)(const DataConfig&, const std::vector<std::int64_t>&,
                                 std::vector<std::string>&, E) noexcept>,
         "sample_files");
    same(std::is_same_v<decltype(ModuleTable::write_standin),
                        void (*)(const SynthConfig&, SynthResult&, E) noexcept>,
         "write_standin");
    same(std::is_same_v<ModuleTableFn, const ModuleTable* (*)(unsigned)>, "table function");
    EXPECT_STREQ(k_module_table_symbol, "kakuren_train_module_table") << k_changed;
}

TEST(ModuleAbi, TheFieldsEachSideFillsInLieWhereTheyWereRecorded) {
    if (!recorded_platform()) {
        GTEST_SKIP() << "layout recorded for 64-bit libstdc++ with the C++11 ABI only";
    }
    for (const Field& field : fields()) {
        EXPECT_EQ(field.offset, field.recorded) << k_changed << ": the offset of " << field.name;
    }
}

/// The vtable slot of an Observer method, read from its pointer-to-member (Itanium C++ ABI:
/// {1 + the slot's byte offset, 0} for a virtual function; ARM's variant: {byte offset, 1}).
template <class M> std::size_t vtable_slot(M member) {
    static_assert(sizeof(member) == 2 * sizeof(std::ptrdiff_t));
    std::ptrdiff_t words[2];
    std::memcpy(words, &member, sizeof(words));
#if defined(__arm__) || defined(__aarch64__)
    return static_cast<std::size_t>(words[0]) / sizeof(void*);
#else
    return static_cast<std::size_t>(words[0] - 1) / sizeof(void*);
#endif
}

TEST(ModuleAbi, TheObserversVirtualMethodsKeepTheirSlots) {
    // The module calls the CLI's Observer through its vtable: a method added or moved shifts
    // the slots without changing sizeof(Observer). Slots 0 and 1 are the destructor's.
    using trainer::Observer;
    EXPECT_EQ(vtable_slot(&Observer::on_start), 2U) << k_changed << ": Observer::on_start";
    EXPECT_EQ(vtable_slot(&Observer::on_progress), 3U) << k_changed << ": Observer::on_progress";
    EXPECT_EQ(vtable_slot(&Observer::on_epoch), 4U) << k_changed << ": Observer::on_epoch";
    EXPECT_EQ(vtable_slot(&Observer::on_checkpoint), 5U)
        << k_changed << ": Observer::on_checkpoint";
    EXPECT_EQ(vtable_slot(&Observer::on_stopping), 6U) << k_changed << ": Observer::on_stopping";
}

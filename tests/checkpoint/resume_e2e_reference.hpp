// What resume_e2e_test.cpp compares with: starting kakuren (or its test build with a fault
// switch) on a workspace, and the outcome of the same run never stopped (run once per content
// of the binary, its module and the recipe, shared by the test processes).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/store.hpp"

namespace kakuren::testing::resume_e2e {

inline constexpr std::string_view k_fault_variable = "KAKUREN_TEST_CHECKPOINT_FAULT=";

struct Spawn {
    std::vector<std::string> args;         ///< after the binary
    std::vector<std::string> env;          ///< NAME=value added to the environment
    std::optional<rlim_t> file_size_limit; ///< RLIMIT_FSIZE in bytes, SIGXFSZ ignored
};

/// Starts kakuren in the source folder on workspace ws; stdout and stderr go to out and err.
/// With KAKUREN_TEST_CHECKPOINT_FAULT in its environment it is the test build of kakuren
/// (fault/kakuren, tests/checkpoint/CMakeLists.txt): the real binary has no fault hook.
pid_t spawn(const std::filesystem::path& ws, const Spawn& s, const std::filesystem::path& out_file,
            const std::filesystem::path& err_file);

/// The exit code of a child started by spawn (128 + N for a signal N).
int wait_for(pid_t pid);

/// Everything of a finished run that must be bit-identical (no times).
struct Outcome {
    std::map<std::string, std::string> final_files; ///< file -> sha256 (model, optimizer, rng)
    std::vector<std::string> epochs;                ///< one line per epoch, every value in hex
    std::vector<std::vector<std::int64_t>> hidden_sets;
    util::SampleStats state;
    db::CheckpointState final_state;
    std::vector<std::string> mllog; ///< records without time_ms and `resume` records
    int resumes = 0;
};

/// What run id of workspace ws recorded (it must have finished).
Outcome outcome_of(const std::filesystem::path& ws, const std::string& id);

/// Fails the current test where got differs from want.
void expect_same(const Outcome& got, const Outcome& want);

/// The uninterrupted tiny run (every checkpoint kept, to know every position), once.
struct Reference {
    Outcome outcome;
    std::vector<std::string> positions; ///< every checkpoint, oldest first
    double seconds = 0;                 ///< wall time of the whole run
};

/// The reference run, shared by the test processes (ctest runs each test in its own): run once
/// per content of kakuren, its module and the recipe into the build tree, under a lock; older
/// references are removed then.
const Reference& reference();

} // namespace kakuren::testing::resume_e2e

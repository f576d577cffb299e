#pragma once
// What crosses the training module's boundary (trainer/module.hpp), declared once: the loader
// and the module compare module_layout_fingerprint(), and tests/trainer/module_abi_test.cpp
// compares module_layout() with the layout it recorded for k_module_abi_version. No torch here.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>

#include "trainer/module.hpp"

namespace kakuren::trainer {

/// Converts to any member type; declared only, for field_count's unevaluated checks.
struct AnyField {
    template <class T> operator T&() const&&;
};

template <class T, std::size_t... I> constexpr bool initialisable_from(std::index_sequence<I...>) {
    return requires {
        T{(void(I), AnyField{})...};
    };
}

/// The number of fields of an aggregate T: the most AnyField{} that T{...} accepts, one per
/// field (0 for a class with constructors). It sees a field added where sizeof does not (a
/// bool in another's padding).
template <class T, std::size_t N = 0> constexpr std::size_t field_count() {
    if constexpr (!std::is_aggregate_v<T>) {
        return 0;
    } else if constexpr (initialisable_from<T>(std::make_index_sequence<N + 1>{})) {
        return field_count<T, N + 1>();
    } else {
        return N;
    }
}

/// One type that crosses the boundary (by reference, or inside one that does).
struct LayoutRow {
    std::string_view name;
    std::size_t size = 0, align = 0, fields = 0;
};

template <class T> constexpr LayoutRow layout_row(std::string_view name) {
    return {name, sizeof(T), alignof(T), field_count<T>()};
}

/// Every type an entry of ModuleTable takes or returns, and every type inside those that the
/// other side reads or writes (add a row when an entry starts to take a new one).
constexpr auto module_layout() {
    return std::array{
        layout_row<ModuleTable>("ModuleTable"),
        layout_row<ModuleError>("ModuleError"),
        layout_row<Config>("Config"),
        layout_row<DataConfig>("DataConfig"),
        layout_row<ModelConfig>("ModelConfig"),
        layout_row<OptimConfig>("OptimConfig"),
        layout_row<ScheduleConfig>("ScheduleConfig"),
        layout_row<TaskConfig>("TaskConfig"),
        layout_row<hiding::Config>("hiding::Config"),
        layout_row<StatsConfig>("StatsConfig"),
        layout_row<DeviceConfig>("DeviceConfig"),
        layout_row<checkpoint::Config>("checkpoint::Config"),
        layout_row<DistConfig>("DistConfig"),
        layout_row<Summary>("Summary"),
        layout_row<Observer>("Observer"),
        layout_row<StepProgress>("StepProgress"),
        layout_row<EpochResult>("EpochResult"),
        layout_row<checkpoint::Snapshot>("checkpoint::Snapshot"),
        layout_row<checkpoint::LoopState>("checkpoint::LoopState"),
        layout_row<hiding::EpochPlan>("hiding::EpochPlan"),
        layout_row<checkpoint::File>("checkpoint::File"),
        layout_row<checkpoint::Resume>("checkpoint::Resume"),
        layout_row<util::SampleStatsView>("util::SampleStatsView"),
        layout_row<util::SampleStats>("util::SampleStats"),
        layout_row<util::MlLog>("util::MlLog"),
        layout_row<DataProblem>("DataProblem"),
        layout_row<SynthConfig>("SynthConfig"),
        layout_row<SynthResult>("SynthResult"),
    };
}

/// The compiler's spelling of T (its __PRETTY_FUNCTION__ names it), for the fingerprint.
template <class T> constexpr std::string_view type_spelling() {
    return __PRETTY_FUNCTION__;
}

/// One entry of ModuleTable: its name, where it lies in the table and its type as this compiler
/// spells it (return and parameter types).
struct EntryRow {
    std::string_view name;
    std::size_t offset = 0;
    std::string_view signature;
};

constexpr auto module_entries() {
    using T = ModuleTable;
    return std::array{
        EntryRow{"train", offsetof(T, train), type_spelling<decltype(T::train)>()},
        EntryRow{"check_model", offsetof(T, check_model),
                 type_spelling<decltype(T::check_model)>()},
        EntryRow{"check_data", offsetof(T, check_data), type_spelling<decltype(T::check_data)>()},
        EntryRow{"check_model_fit", offsetof(T, check_model_fit),
                 type_spelling<decltype(T::check_model_fit)>()},
        EntryRow{"inspect_data", offsetof(T, inspect_data),
                 type_spelling<decltype(T::inspect_data)>()},
        EntryRow{"inspect_recipe_data", offsetof(T, inspect_recipe_data),
                 type_spelling<decltype(T::inspect_recipe_data)>()},
        EntryRow{"convert_idx", offsetof(T, convert_idx),
                 type_spelling<decltype(T::convert_idx)>()},
        EntryRow{"sample_files", offsetof(T, sample_files),
                 type_spelling<decltype(T::sample_files)>()},
        EntryRow{"write_standin", offsetof(T, write_standin),
                 type_spelling<decltype(T::write_standin)>()},
    };
}

/// FNV-1a, 64 bits.
constexpr std::uint64_t fingerprint_mix(std::uint64_t hash, std::string_view bytes) {
    for (const char c : bytes) {
        hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    }
    return hash;
}

constexpr std::uint64_t fingerprint_mix(std::uint64_t hash, std::uint64_t value) {
    for (int byte = 0; byte < 8; ++byte) {
        hash = (hash ^ ((value >> (8 * byte)) & 0xffU)) * 0x100000001b3ULL;
    }
    return hash;
}

/// A hash of module_layout() (names, sizes, alignments, field counts) and module_entries() (names,
/// offsets, signatures as this compiler spells them): a module whose layout or entry points differ
/// from the loader's is refused even if nobody bumped k_module_abi_version. It differs between
/// platforms and compilers; only the two sides of one build must agree.
constexpr std::uint64_t module_layout_fingerprint() {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (const LayoutRow& row : module_layout()) {
        hash = fingerprint_mix(fingerprint_mix(hash, row.name), row.size);
        hash = fingerprint_mix(fingerprint_mix(hash, row.align), row.fields);
    }
    for (const EntryRow& entry : module_entries()) {
        hash = fingerprint_mix(fingerprint_mix(fingerprint_mix(hash, entry.name), entry.offset),
                               entry.signature);
    }
    return hash;
}

} // namespace kakuren::trainer

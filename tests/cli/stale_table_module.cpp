// Two modules of other sources that export the table function (trainer/module.hpp), for
// KAKUREN_TRAIN_MODULE tests (tests/cli/train_module_e2e_test.cpp). With
// KAKUREN_STALE_TABLE_VERSION: a module of the next version, which gives this binary's version
// no table; without: a module of this version built from other headers (another layout
// fingerprint). Neither entry is ever called: the loader refuses both first.
#include "trainer/module.hpp"
#include "trainer/module_layout.hpp"

namespace {

constexpr kakuren::trainer::ModuleTable k_table{
#ifdef KAKUREN_STALE_TABLE_VERSION
    .version = kakuren::trainer::k_module_abi_version + 1,
    .fingerprint = kakuren::trainer::module_layout_fingerprint(),
#else
    .version = kakuren::trainer::k_module_abi_version,
    .fingerprint = kakuren::trainer::module_layout_fingerprint() ^ 1U,
#endif
};

} // namespace

extern "C" __attribute__((visibility("default"))) const kakuren::trainer::ModuleTable*
kakuren_train_module_table(unsigned version) {
    return version == k_table.version ? &k_table : nullptr;
}

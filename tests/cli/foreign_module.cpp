// Two shared libraries that are not kakuren's training module, for KAKUREN_TRAIN_MODULE tests
// (tests/cli/train_module_e2e_test.cpp). Built with KAKUREN_EXPORT_STALE_ENTRY_POINTS it
// exports the two entry points of modules before the table (ABI version 1: a module of older
// sources); without, nothing of kakuren's (any foreign library).
extern "C" {

#ifdef KAKUREN_EXPORT_STALE_ENTRY_POINTS
__attribute__((visibility("default"))) unsigned long kakuren_train_module_abi() {
    return 1;
}
__attribute__((visibility("default"))) int kakuren_train_module_run(const void* /*call*/) {
    return 0; // never called: the ABI check refuses the module first
}
#else
__attribute__((visibility("default"))) int foreign_library_answer() {
    return 42;
}
#endif

} // extern "C"

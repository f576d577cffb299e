#pragma once
// What a call threw: the tests' one way to check an error's message.
#include <string>

#include "util/error.hpp"

namespace kakuren::testing {

/// The message of the E (any kakuren::Error by default) that `f` throws, or "(no error)" when it
/// throws none; any other exception propagates and fails the test.
template <class E = Error, class F> std::string error_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace kakuren::testing

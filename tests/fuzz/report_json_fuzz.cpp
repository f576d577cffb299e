// libFuzzer: the report's JSON reader. Any text must parse or throw JsonParseError.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "report/json_reader.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const kakuren::report::JsonValue v = kakuren::report::parse_json(
            std::string_view(reinterpret_cast<const char*>(data), size));
        (void)v.size();
    } catch (const kakuren::Error&) {
    }
    return 0;
}

// libFuzzer: the recipe loader (TOML parsing, the schema's validation, --set overrides).
// Any input must end as a Recipe or as a kakuren::Error, never as a crash or another exception.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "recipes/recipe.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    // The first line, when it looks like one, is also tried as a --set override.
    std::vector<std::string> overrides;
    if (const std::size_t nl = text.find('\n');
        nl != std::string::npos && nl < 200 && text.find('=') < nl) {
        overrides.push_back(text.substr(0, nl));
    }
    try {
        const kakuren::recipes::Recipe recipe =
            kakuren::recipes::parse(text, "fuzz.toml", overrides);
        // What a run stores and a resume reads back must parse again.
        (void)kakuren::recipes::parse(kakuren::recipes::to_toml(recipe), "fuzz.toml", {});
        (void)kakuren::recipes::show(recipe);
    } catch (const kakuren::Error&) {
    }
    return 0;
}

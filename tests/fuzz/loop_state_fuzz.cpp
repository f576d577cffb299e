// libFuzzer: a checkpoint's loop.bin reader. Any bytes must decode or throw CheckpointError.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "checkpoint/state.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const kakuren::checkpoint::LoopState state = kakuren::checkpoint::decode_loop_state(
            std::string_view(reinterpret_cast<const char*>(data), size));
        // A decoded state encodes and decodes again to itself.
        (void)kakuren::checkpoint::decode_loop_state(kakuren::checkpoint::encode(state));
    } catch (const kakuren::Error&) {
    }
    return 0;
}

// libFuzzer: the file-list reader (util/list_file.hpp: files_data.lst, files_label.lst,
// files.lst) on any bytes: every entry it returns is non-empty, has no newline and no trailing
// space or '\r'.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/list_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace fs = std::filesystem;
    static const fs::path file =
        fs::temp_directory_path() / ("kakuren-list-fuzz-" + std::to_string(::getpid()) + ".lst");
    {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    try {
        const std::vector<std::string> entries = kakuren::util::read_list_file(file);
        std::size_t total = 0;
        for (const std::string& e : entries) {
            total += e.size();
            if (e.empty() || e.find('\n') != std::string::npos || e.back() == ' ' ||
                e.back() == '\r') {
                __builtin_trap();
            }
        }
        if (total > size) {
            __builtin_trap();
        }
    } catch (const kakuren::Error&) {
    }
    return 0;
}

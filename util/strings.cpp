#include "util/strings.hpp"

#include <algorithm>
#include <cctype>

namespace kakuren::util {

std::string trim(std::string_view s, std::string_view chars) {
    const std::size_t begin = s.find_first_not_of(chars);
    if (begin == std::string_view::npos) {
        return {};
    }
    const std::size_t end = s.find_last_not_of(chars);
    return std::string(s.substr(begin, end - begin + 1));
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) {
            out += separator;
        }
        out += parts[i];
    }
    return out;
}

std::vector<std::string> split(std::string_view text, char sep) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = text.find(sep, start);
        parts.emplace_back(text.substr(start, end == std::string_view::npos ? end : end - start));
        if (end == std::string_view::npos) {
            return parts;
        }
        start = end + 1;
    }
}

std::vector<std::string> split_nonempty(std::string_view text, char sep) {
    std::vector<std::string> parts = split(text, sep);
    std::erase_if(parts, [](const std::string& p) { return p.empty(); });
    return parts;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

} // namespace kakuren::util

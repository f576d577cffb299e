#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recipes/loader.hpp"
#include "recipes/recipe.hpp"
#include "util/strings.hpp"

namespace kakuren::recipes {

namespace loading {

/// Non-negative decimal integer of at most 9 digits, else nullopt.
std::optional<int> small_number(std::string_view text) {
    if (text.empty() || text.size() > 9 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    return std::stoi(std::string(text));
}

} // namespace loading

using loading::small_number;

std::optional<int> time_limit_minutes(const std::string& text) {
    if (text.empty()) {
        return 0;
    }
    std::string rest = text;
    int days = 0;
    bool with_days = false;
    if (const std::size_t dash = rest.find('-'); dash != std::string::npos) {
        const auto d = small_number(std::string_view(rest).substr(0, dash));
        if (!d) {
            return std::nullopt;
        }
        days = *d;
        with_days = true;
        rest = rest.substr(dash + 1);
    }
    std::vector<int> parts;
    for (const std::string& part : util::split(rest, ':')) {
        const auto n = small_number(part);
        if (!n) {
            return std::nullopt;
        }
        parts.push_back(*n);
    }
    if (parts.size() > 3 || (parts.size() > 1 && parts[parts.size() - 1] >= 60) ||
        (parts.size() == 3 && parts[1] >= 60)) {
        return std::nullopt;
    }
    long long minutes = 0;
    if (with_days) { // D-HH, D-HH:MM, D-HH:MM:SS
        minutes = days * 1440LL + parts[0] * 60LL + (parts.size() > 1 ? parts[1] : 0) +
                  (parts.size() > 2 && parts[2] > 0 ? 1 : 0);
    } else if (parts.size() == 1) { // MM
        minutes = parts[0];
    } else if (parts.size() == 2) { // MM:SS
        minutes = parts[0] + (parts[1] > 0 ? 1 : 0);
    } else { // HH:MM:SS
        minutes = parts[0] * 60LL + parts[1] + (parts[2] > 0 ? 1 : 0);
    }
    if (minutes > 365LL * 1440) {
        return std::nullopt;
    }
    return static_cast<int>(minutes);
}

} // namespace kakuren::recipes

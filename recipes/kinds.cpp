#include "recipes/kinds.hpp"

#include <sstream>

namespace kakuren::recipes {

std::vector<std::string> kind_names(const std::vector<KindInfo>& kinds) {
    std::vector<std::string> out;
    out.reserve(kinds.size());
    for (const KindInfo& k : kinds) {
        out.emplace_back(k.name);
    }
    return out;
}

std::string kinds_text(const std::vector<KindInfo>& kinds) {
    std::string out;
    for (const KindInfo& k : kinds) {
        out += (out.empty() ? "" : "; ") + std::string(k.name) + ": " + std::string(k.summary);
    }
    return out + ".";
}

bool has_kind(const std::vector<KindInfo>& kinds, std::string_view name) {
    for (const KindInfo& k : kinds) {
        if (k.name == name) {
            return true;
        }
    }
    return false;
}

const std::vector<SbatchOptionInfo>& sbatch_options() {
    static const std::vector<SbatchOptionInfo> options = {
        {SbatchOption::exclusive, "--exclusive", false},
        {SbatchOption::reservation, "--reservation", true},
        {SbatchOption::nodelist, "--nodelist", true},
        {SbatchOption::exclude, "--exclude", true},
        {SbatchOption::comment, "--comment", true},
        {SbatchOption::licenses, "--licenses", true},
        {SbatchOption::mail_type, "--mail-type", true},
        {SbatchOption::mail_user, "--mail-user", true},
        {SbatchOption::dependency, "--dependency", true},
    };
    return options;
}

const SbatchOptionInfo* find_sbatch_option(std::string_view name) {
    for (const SbatchOptionInfo& o : sbatch_options()) {
        if (o.name == name) {
            return &o;
        }
    }
    return nullptr;
}

std::string sbatch_options_text() {
    std::string out;
    for (const SbatchOptionInfo& o : sbatch_options()) {
        out += (out.empty() ? "" : ", ") + std::string(o.name) + (o.takes_value ? "=" : "");
    }
    return out;
}

std::vector<std::pair<SbatchOption, std::string>> parse_sbatch_extra(std::string_view extra) {
    std::vector<std::pair<SbatchOption, std::string>> out;
    std::istringstream words{std::string(extra)};
    for (std::string word; words >> word;) {
        const std::size_t eq = word.find('=');
        if (const SbatchOptionInfo* o = find_sbatch_option(word.substr(0, eq))) {
            out.emplace_back(o->id, eq == std::string::npos ? "" : word.substr(eq + 1));
        }
    }
    return out;
}

} // namespace kakuren::recipes

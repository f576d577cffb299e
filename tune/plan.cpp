// Budget and rounds (tune/plan.hpp).
#include "tune/plan.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "util/error.hpp"

namespace kakuren::tune {
namespace {

std::vector<Round> rounds_from(int num_hiding, int eta, int max_epochs, int e0) {
    std::vector<Round> out;
    int survivors = num_hiding;
    long long epochs = e0;
    while (true) {
        const int e = static_cast<int>(std::min<long long>(epochs, max_epochs));
        if (!out.empty() && e <= out.back().epochs) {
            break;
        }
        out.push_back({e, survivors});
        if (survivors <= 1 || e >= max_epochs) {
            break;
        }
        survivors = (survivors + eta - 1) / eta;
        epochs *= eta;
    }
    return out;
}

} // namespace

Budget parse_budget(const std::string& text) {
    const auto bad = [&] {
        return UsageError("--budget " + text +
                          ": expected a number of epochs for all trials together (e.g. 24) or a "
                          "duration such as 90s, 30m, 2h or 1h30m");
    };
    Budget b{text, 0, 0};
    if (!text.empty() &&
        std::all_of(text.begin(), text.end(), [](char ch) { return std::isdigit(ch) != 0; })) {
        if (text.size() > 9) {
            throw bad();
        }
        b.epochs = std::stoi(text);
        if (b.epochs < 1) {
            throw UsageError("--budget " + text + ": give at least 1 epoch");
        }
        return b;
    }
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t j = i;
        while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) != 0) {
            ++j;
        }
        if (j == i || j == text.size() || j - i > 9) {
            throw bad();
        }
        const double n = std::stod(text.substr(i, j - i));
        const char unit = text[j];
        b.seconds += unit == 's' ? n : unit == 'm' ? n * 60 : unit == 'h' ? n * 3600 : -1e300;
        if (b.seconds < 0) {
            throw bad();
        }
        i = j + 1;
    }
    if (b.seconds <= 0) {
        throw bad();
    }
    return b;
}

int plan_cost(const std::vector<Round>& rounds) {
    int cost = 0, before = 0;
    for (const Round& r : rounds) {
        cost += (r.survivors + 1) * (r.epochs - before);
        before = r.epochs;
    }
    return cost;
}

std::vector<Round> plan_rounds_unbounded(int num_hiding, int eta, int max_epochs) {
    return rounds_from(num_hiding, eta, max_epochs, 1);
}

std::vector<Round> plan_rounds(int num_hiding, int eta, int max_epochs, int budget_epochs) {
    const int minimum = num_hiding + 1;
    if (budget_epochs < minimum) {
        throw UsageError("--budget " + std::to_string(budget_epochs) +
                         " epochs is too small: " + std::to_string(minimum) +
                         " candidates (none and " + std::to_string(num_hiding) +
                         " with hiding) need at least one epoch each, " + std::to_string(minimum) +
                         " epochs");
    }
    std::vector<Round> best = rounds_from(num_hiding, eta, max_epochs, 1);
    if (plan_cost(best) > budget_epochs) {
        while (plan_cost(best) > budget_epochs) {
            best.pop_back(); // the first rounds that fit; round 0 always does
        }
        return best;
    }
    for (int e0 = 2; e0 <= max_epochs; ++e0) {
        std::vector<Round> r = rounds_from(num_hiding, eta, max_epochs, e0);
        if (plan_cost(r) > budget_epochs) {
            break;
        }
        best = std::move(r);
    }
    return best;
}

} // namespace kakuren::tune

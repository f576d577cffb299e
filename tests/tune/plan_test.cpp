// The budget and the rounds of successive halving.
#include <gtest/gtest.h>

#include "tune/plan.hpp"
#include "util/error.hpp"

namespace {

using kakuren::tune::parse_budget;
using kakuren::tune::plan_cost;
using kakuren::tune::plan_rounds;
using kakuren::tune::Round;

std::vector<std::pair<int, int>> pairs(const std::vector<Round>& rounds) {
    std::vector<std::pair<int, int>> out;
    for (const Round& r : rounds) {
        out.emplace_back(r.epochs, r.survivors);
    }
    return out;
}

TEST(Plan, TheLargestFirstRoundThatFitsTheBudget) {
    // 4 hiding candidates + none, eta 2. e0 = 1: (1, 4) (2, 2) (4, 1) costs 5 + 3 + 2x2 = 12;
    // e0 = 2: (2, 4) (4, 2) (8, 1) costs 10 + 6 + 8 = 24; e0 = 3 costs 15 + 9 + 12 = 36.
    EXPECT_EQ(plan_cost(plan_rounds(4, 2, 16, 12)), 12);
    const auto p = plan_rounds(4, 2, 16, 30);
    EXPECT_EQ(pairs(p), (std::vector<std::pair<int, int>>{{2, 4}, {4, 2}, {8, 1}}));
    EXPECT_EQ(plan_cost(p), 24);
}

TEST(Plan, ATightBudgetKeepsTheFirstRoundsAndTooSmallIsRefused) {
    EXPECT_EQ(pairs(plan_rounds(4, 2, 16, 11)), (std::vector<std::pair<int, int>>{{1, 4}, {2, 2}}));
    EXPECT_EQ(pairs(plan_rounds(4, 2, 16, 5)), (std::vector<std::pair<int, int>>{{1, 4}}));
    try {
        (void)plan_rounds(4, 2, 16, 4);
        FAIL() << "4 epochs for 5 candidates";
    } catch (const kakuren::UsageError& e) {
        EXPECT_NE(std::string(e.what()).find("need at least one epoch each, 5 epochs"),
                  std::string::npos)
            << e.what();
    }
}

TEST(Plan, RoundsStopAtTheSchedulesLastEpoch) {
    // E = 3: e0 = 1 gives (1, 4) (2, 2) (3, 1); a budget for more trains everyone to the end.
    EXPECT_EQ(pairs(plan_rounds(4, 2, 3, 10)),
              (std::vector<std::pair<int, int>>{{1, 4}, {2, 2}, {3, 1}}));
    EXPECT_EQ(pairs(plan_rounds(4, 2, 3, 100)), (std::vector<std::pair<int, int>>{{3, 4}}));
}

TEST(Plan, BudgetsAreEpochsOrDurations) {
    EXPECT_EQ(parse_budget("24").epochs, 24);
    EXPECT_DOUBLE_EQ(parse_budget("90s").seconds, 90);
    EXPECT_DOUBLE_EQ(parse_budget("1h30m").seconds, 5400);
    EXPECT_DOUBLE_EQ(parse_budget("2h").seconds, 7200);
    for (const char* bad : {"", "0", "2x", "h", "1.5h", "-3"}) {
        EXPECT_THROW((void)parse_budget(bad), kakuren::UsageError) << bad;
    }
}

} // namespace

#include "cli/text.hpp"

#include <gtest/gtest.h>

using namespace kakuren::cli;

TEST(Text, Thousands) {
    EXPECT_EQ(thousands(0), "0");
    EXPECT_EQ(thousands(999), "999");
    EXPECT_EQ(thousands(60000), "60,000");
    EXPECT_EQ(thousands(1280000), "1,280,000");
    EXPECT_EQ(thousands(-1234), "-1,234");
}

TEST(Text, PercentAndDuration) {
    EXPECT_EQ(percent(0.1234), "12.3%");
    EXPECT_EQ(percent(0.9236, 2), "92.36%");
    EXPECT_EQ(duration(83.2), "1:23");
    EXPECT_EQ(duration(4000), "1:06:40");
    EXPECT_EQ(duration(-1), "?");
}

TEST(Text, TableAlignsColumns) {
    Table t({"A", "LONG"});
    t.add({"xyz", "1"});
    EXPECT_EQ(t.render(), "A    LONG\nxyz  1\n");
}

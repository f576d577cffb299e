// util/strings.hpp: the one trim/join/split/lower, with the edge cases of the copies it replaced
// (slurm.conf and recipe summaries trim CR, recipe text keeps it; sweep values and recipe paths
// keep empty parts; stored tune lists drop them).
#include "util/strings.hpp"

#include <gtest/gtest.h>

namespace kakuren::util {
namespace {

using Parts = std::vector<std::string>;

TEST(Strings, TrimCutsSpaceTabAndCrByDefaultAndOnlyTheGivenSetOtherwise) {
    EXPECT_EQ(trim("  a b \t\r"), "a b");
    EXPECT_EQ(trim(" \t\r "), "");
    EXPECT_EQ(trim(""), "");
    EXPECT_EQ(trim("x"), "x");
    EXPECT_EQ(trim(" a\r", " \t"), "a\r"); // the recipe loader's set keeps CR
    EXPECT_EQ(trim("\n a \n"), "\n a \n"); // newlines are not in the default set
}

TEST(Strings, JoinPutsTheSeparatorBetweenEveryTwoParts) {
    EXPECT_EQ(join({}, ","), "");
    EXPECT_EQ(join({"a"}, ","), "a");
    EXPECT_EQ(join({"a", "", "b"}, ", "), "a, , b");
    EXPECT_EQ(join({"n1", "n2"}, ","), "n1,n2");
}

TEST(Strings, SplitKeepsEmptyPartsAndSplitNonemptyDropsThem) {
    EXPECT_EQ(split("a,,b", ','), (Parts{"a", "", "b"}));
    EXPECT_EQ(split("", ','), (Parts{""}));
    EXPECT_EQ(split(",a,", ','), (Parts{"", "a", ""}));
    EXPECT_EQ(split("a:b", ','), (Parts{"a:b"}));
    EXPECT_EQ(split_nonempty(",a,,b,", ','), (Parts{"a", "b"}));
    EXPECT_EQ(split_nonempty("", '\n'), Parts{});
    EXPECT_EQ(split_nonempty("x=1\ny=2", '\n'), (Parts{"x=1", "y=2"}));
    // join and split are inverse for any parts without the separator.
    const Parts parts{"", "a", "", "b c", ""};
    EXPECT_EQ(split(join(parts, ","), ','), parts);
}

TEST(Strings, LowerChangesAsciiLettersOnly) {
    EXPECT_EQ(lower("SlurmctldHost=A1"), "slurmctldhost=a1");
    EXPECT_EQ(lower("HTML"), "html");
    EXPECT_EQ(lower("\xC3\x84x"), "\xC3\x84x"); // UTF-8 bytes stay as they are
}

} // namespace
} // namespace kakuren::util

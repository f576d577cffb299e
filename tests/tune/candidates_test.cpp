// --try parsing and the default candidates, against the strategy registry.
#include <gtest/gtest.h>

#include "support/errors.hpp"
#include "tune/candidates.hpp"
#include "util/error.hpp"

namespace {

using kakuren::tune::candidate_list;
using kakuren::tune::parse_try;

std::string error_of(const std::string& text) {
    return kakuren::testing::error_of<kakuren::UsageError>([&] { (void)parse_try(text); });
}

TEST(Candidates, TryNamesAStrategyAndSomeOfItsSettings) {
    const auto c = parse_try("kakurenbo:fraction=0.5,tau=0.8");
    EXPECT_EQ(c.strategy, "kakurenbo");
    EXPECT_EQ(c.overrides(), (std::vector<std::string>{"hiding.strategy=\"kakurenbo\"",
                                                       "hiding.fraction=0.50", "hiding.tau=0.80"}));
    EXPECT_EQ(parse_try("rotate").overrides(),
              (std::vector<std::string>{"hiding.strategy=\"rotate\""}));
    const auto label = c.label([](std::string_view) { return std::optional<double>(0.1); });
    EXPECT_NE(label.find("F=0.50"), std::string::npos) << label;
}

TEST(Candidates, BadTriesSayWhatIsAllowed) {
    EXPECT_NE(error_of("bogus").find("unknown strategy 'bogus'; the strategies are none, "),
              std::string::npos)
        << error_of("bogus");
    const std::string key = error_of("kakurenbo:nope=1");
    EXPECT_NE(key.find("kakurenbo has no setting 'nope'; its numeric settings are fraction"),
              std::string::npos)
        << key;
    EXPECT_NE(error_of("kakurenbo:fraction=1.5").find("out of range; expected"), std::string::npos);
    EXPECT_NE(error_of("kakurenbo:fraction=abc").find("'abc' is not a number"), std::string::npos);
    EXPECT_NE(error_of("kakurenbo:fraction=0.2,fraction=0.3").find("given twice"),
              std::string::npos);
    EXPECT_NE(error_of("none:fraction=0.2").find("none has no setting"), std::string::npos);
}

TEST(Candidates, NoneComesFirstOnceAndSomethingMustHide) {
    const auto list = candidate_list({"rotate", "none", "rotate"});
    ASSERT_EQ(list.size(), 2U);
    EXPECT_EQ(list[0].strategy, "none");
    EXPECT_EQ(list[1].strategy, "rotate");
    EXPECT_THROW((void)candidate_list({"none"}), kakuren::UsageError);

    const auto defaults = candidate_list({});
    EXPECT_EQ(defaults[0].strategy, "none");
    EXPECT_GT(defaults.size(), 6U) << "every strategy, at its defaults and one more setting";
    for (std::size_t i = 1; i < defaults.size(); ++i) {
        EXPECT_NE(defaults[i].strategy, "none");
    }
}

TEST(Candidates, TheDefaultsMovedSettingIsOneAUserWouldWrite) {
    // kakurenbo's fraction 0.3 x 1.5: 0.45, never 0.44999999999999996 (in --dry-run and the
    // recipe the tune trains).
    bool found = false;
    for (const auto& c : candidate_list({})) {
        for (const std::string& o : c.overrides()) {
            EXPECT_EQ(o.find("9999"), std::string::npos) << o;
            found = found || (c.strategy == "kakurenbo" && o == "hiding.fraction=0.45");
        }
    }
    EXPECT_TRUE(found) << "kakurenbo at fraction 0.45 among the default candidates";
}

} // namespace

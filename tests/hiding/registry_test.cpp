// The strategy registry: names and keys defined once, defaults inside their bounds, labels that
// show each strategy's own parameters, and the lookups the other layers use.
#include "hiding/registry.hpp"
#include "stats.hpp"
#include "util/error.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kakuren::hiding {
namespace {

// A recipe's values for label(): the defaults, with some keys overridden.
ParamLookup values(std::map<std::string, double> overrides = {}) {
    return [overrides = std::move(overrides)](std::string_view key) -> std::optional<double> {
        if (const auto it = overrides.find(std::string(key)); it != overrides.end()) {
            return it->second;
        }
        const ParamInfo* p = find_param(key);
        return p ? std::optional<double>(p->default_value) : std::nullopt;
    };
}

TEST(Registry, NamesAndKeysAreUnique) {
    std::set<std::string_view> names;
    std::set<std::string_view> keys;
    for (const ParamInfo& p : shared_params()) {
        EXPECT_TRUE(keys.insert(p.key).second) << p.key;
    }
    for (const StrategyInfo* s : strategies()) {
        EXPECT_TRUE(names.insert(s->name).second) << s->name;
        EXPECT_FALSE(s->summary.empty()) << s->name;
        EXPECT_NE(s->make, nullptr) << s->name;
        for (const ParamInfo& p : s->params) {
            EXPECT_TRUE(keys.insert(p.key).second) << s->name << ": " << p.key;
            EXPECT_FALSE(p.summary.empty()) << p.key;
        }
    }
}

TEST(Registry, SharedKeysAreConfigFields) {
    const std::set<std::string_view> fields = {"fraction", "tau", "fraction_decay",
                                               "lr_compensation", "refresh_every"};
    for (const StrategyInfo* s : strategies()) {
        for (const std::string_view key : s->shared_keys) {
            EXPECT_TRUE(fields.count(key) == 1) << s->name << ": " << key;
        }
    }
}

TEST(Registry, EveryDefaultIsValidAndEveryStrategyBuildsUnderItsName) {
    for (const StrategyInfo* s : strategies()) {
        for (const ParamInfo& p : s->params) {
            EXPECT_TRUE(p.bounds.contains(p.default_value)) << p.key;
        }
        Config config;
        config.strategy = std::string(s->name);
        config.params = default_params();
        EXPECT_NO_THROW(validate(config)) << s->name;
        EXPECT_EQ(make_policy(config)->name(), s->name);
    }
    EXPECT_EQ(default_params().size(), 7U);
    EXPECT_DOUBLE_EQ(default_params().at("rotate_ratio"), 0.65);
}

TEST(Registry, LooksUpStrategiesByName) {
    EXPECT_EQ(find_strategy("rotate")->name, "rotate");
    EXPECT_EQ(find_strategy("Rotate"), nullptr);
    EXPECT_EQ(&strategy_info("iswr"), find_strategy("iswr"));
    try {
        (void)strategy_info("rotat");
        ADD_FAILURE() << "no exception";
    } catch (const UsageError& e) {
        EXPECT_STREQ(e.what(), "hiding.strategy = \"rotat\" is not a known strategy; expected one "
                               "of none, kakurenbo, random, infobatch, iswr, "
                               "selective_backprop, rotate");
    }
}

TEST(Registry, ParamReadsTheConfigElseTheDefault) {
    Config config;
    EXPECT_DOUBLE_EQ(param(config, "infobatch_delta"), 0.875);
    config.params["infobatch_delta"] = 0.5;
    EXPECT_DOUBLE_EQ(param(config, "infobatch_delta"), 0.5);
    EXPECT_EQ(find_param("fraction")->label, "F");
    EXPECT_EQ(find_param("nope"), nullptr);
}

TEST(RegistryDeathTest, ParamOfAnUnregisteredKeyIsABug) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH((void)param(Config{}, "rotate_speed"), "internal error: .*registered");
}

TEST(Bounds, TextAndContains) {
    const Bounds half_open{.lo = 0, .lo_inclusive = true, .hi = 1, .hi_inclusive = false};
    EXPECT_EQ(half_open.text("ratio"), "0 <= ratio < 1");
    EXPECT_TRUE(half_open.contains(0.0));
    EXPECT_FALSE(half_open.contains(1.0));
    EXPECT_FALSE(half_open.contains(std::numeric_limits<double>::quiet_NaN()));
    const Bounds at_least_zero{.lo = 0,
                               .lo_inclusive = true,
                               .hi = std::numeric_limits<double>::infinity(),
                               .hi_inclusive = false};
    EXPECT_EQ(at_least_zero.text("beta"), "beta >= 0");
    EXPECT_TRUE(at_least_zero.contains(1e300));
    EXPECT_FALSE(at_least_zero.contains(std::numeric_limits<double>::infinity()));
    EXPECT_EQ((Bounds{.lo = 0.5, .lo_inclusive = false}).text("x"), "x > 0.5");
    EXPECT_EQ(Bounds{}.text("x"), "");
}

TEST(Label, ShowsEachStrategysOwnParameters) {
    EXPECT_EQ(label("none", values()), "none");
    EXPECT_EQ(label("kakurenbo", values()), "kakurenbo F=0.30 tau=0.70");
    EXPECT_EQ(label("random", values({{"fraction", 0.25}})), "random F=0.25");
    EXPECT_EQ(label("infobatch", values()), "infobatch r=0.50 delta=0.875");
    EXPECT_EQ(label("iswr", values()), "iswr");
    EXPECT_EQ(label("selective_backprop", values({{"sb_beta", 2}})),
              "selective_backprop beta=2.00");
    EXPECT_EQ(label("rotate", values()), "rotate share=0.90 r=0.65 full=1 tau=0.90");
    // Not KAKURENBO's keys, which rotate and infobatch do not read:
    EXPECT_EQ(label("rotate", values()).find("F="), std::string::npos);
    EXPECT_EQ(label("infobatch", values()).find("tau="), std::string::npos);
}

TEST(Label, UnknownValuesAndStrategies) {
    EXPECT_EQ(label("kakurenbo", [](std::string_view) { return std::nullopt; }),
              "kakurenbo F=? tau=?");
    EXPECT_EQ(label("someday", values()), "someday");
}

TEST(FormatParam, TwoDecimalsAtLeastAndNoDigitLost) {
    const ParamInfo real{.key = "x", .label = "x", .kind = ParamKind::real};
    const ParamInfo integer{.key = "k", .label = "k", .kind = ParamKind::integer};
    EXPECT_EQ(format_param(real, 0.3), "0.30");
    EXPECT_EQ(format_param(real, 1.0), "1.00");
    EXPECT_EQ(format_param(real, 0.875), "0.875");
    EXPECT_EQ(format_param(real, 1e-5), "1e-05");
    EXPECT_EQ(format_param(integer, 3.0), "3");
}

} // namespace
} // namespace kakuren::hiding

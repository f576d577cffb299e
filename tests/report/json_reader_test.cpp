#include "report/json_reader.hpp"

#include <gtest/gtest.h>

#include "util/json.hpp"

using kakuren::report::JsonParseError;
using kakuren::report::parse_json;

TEST(JsonReader, ReadsWhatUtilJsonWrites) {
    const kakuren::util::Json written = kakuren::util::JsonObject{
        {"s", "a \"quoted\"\n\ttab \\ é"},
        {"i", 42},
        {"neg", -7},
        {"d", 0.125},
        {"whole", 1.0},
        {"t", true},
        {"f", false},
        {"n", nullptr},
        {"list", kakuren::util::JsonArray{1, 2.5, "x"}},
        {"nested", kakuren::util::JsonObject{{"k", kakuren::util::JsonArray{}}}}};
    for (const std::string& text : {written.dump(), written.dump_pretty(), written.dump_spaced()}) {
        const auto v = parse_json(text);
        ASSERT_TRUE(v.is_object()) << text;
        EXPECT_EQ(v["s"].as_string(), "a \"quoted\"\n\ttab \\ é");
        EXPECT_TRUE(v["i"].is_integer());
        EXPECT_EQ(v["i"].as_int(), 42);
        EXPECT_EQ(v["neg"].as_int(), -7);
        EXPECT_DOUBLE_EQ(v["d"].as_double(), 0.125);
        EXPECT_FALSE(v["whole"].is_integer()) << "1.0 stays a float, as MLPerf readers expect";
        EXPECT_TRUE(v["t"].as_bool());
        EXPECT_FALSE(v["f"].as_bool(true));
        EXPECT_TRUE(v["n"].is_null());
        ASSERT_EQ(v["list"].size(), 3U);
        EXPECT_EQ(v["list"][2].as_string(), "x");
        EXPECT_TRUE(v["nested"]["k"].is_array());
        EXPECT_TRUE(v["missing"].is_null());
        EXPECT_EQ(v.as_object().front().first, "s") << "key order is kept";
    }
}

TEST(JsonReader, UnicodeEscapes) {
    EXPECT_EQ(parse_json(R"("\u00e9\u20ac\ud83d\ude00\/")").as_string(), "é€😀/");
}

TEST(JsonReader, RejectsMalformedTextWithItsOffset) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{\"a\": 1,}", "invalid JSON at byte 8: expected a member name in quotes"},
        {"[1 2]", "invalid JSON at byte 3: expected ',' or ']' in an array"},
        {"\"open", "invalid JSON at byte 5: unterminated string"},
        {"{\"a\" 1}", "invalid JSON at byte 5: expected ':' after a member name"},
        {"nul", "invalid JSON at byte 0: expected a value"},
        {"1 2", "invalid JSON at byte 2: unexpected text after the value"},
        {"", "invalid JSON at byte 0: expected a value, found the end"},
        {"-", "invalid JSON at byte 0: expected a value"},
    };
    for (const auto& [text, message] : cases) {
        try {
            parse_json(text);
            ADD_FAILURE() << "accepted: " << text;
        } catch (const JsonParseError& e) {
            EXPECT_EQ(std::string(e.what()), message) << text;
        }
    }
}

TEST(JsonReader, DeepNestingIsAnErrorNotACrash) {
    EXPECT_THROW(parse_json(std::string(100000, '[')), JsonParseError);
}

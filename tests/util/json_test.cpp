#include "util/json.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using kakuren::util::Json;
using kakuren::util::json_quote;
using kakuren::util::JsonArray;
using kakuren::util::JsonObject;

TEST(Json, QuoteEscapesQuotesBackslashesAndControlCharacters) {
    EXPECT_EQ(json_quote("plain"), "\"plain\"");
    EXPECT_EQ(json_quote("a\"b\\c"), R"("a\"b\\c")");
    EXPECT_EQ(json_quote("line\nnext\ttab\rret\bback\fform"),
              R"("line\nnext\ttab\rret\bback\fform")");
    EXPECT_EQ(json_quote(std::string_view("\x01\x1f\x7f", 3)), R"("\u0001\u001f\u007f")");
    EXPECT_EQ(json_quote(std::string_view("nul\0x", 5)), R"("nul\u0000x")");
    // UTF-8 passes through unchanged.
    EXPECT_EQ(json_quote("h\xc3\xa9"), "\"h\xc3\xa9\"");
}

TEST(Json, IntegersAreWrittenAsIntegers) {
    EXPECT_EQ(Json(42).dump(), "42");
    EXPECT_EQ(Json(-7L).dump(), "-7");
    EXPECT_EQ(Json(9007199254740993LL).dump(), "9007199254740993");
    EXPECT_EQ(Json(std::numeric_limits<long long>::min()).dump(), "-9223372036854775808");
    EXPECT_EQ(Json(3U).dump(), "3");
}

TEST(Json, DoublesUseTheShortestRoundTripText) {
    EXPECT_EQ(Json(0.1).dump(), "0.1");
    EXPECT_EQ(Json(0.875).dump(), "0.875");
    EXPECT_EQ(Json(1.0).dump(), "1.0");
    EXPECT_EQ(Json(-250.0).dump(), "-250.0");
    EXPECT_EQ(Json(1e300).dump(), "1e+300");
    EXPECT_EQ(Json(5e-324).dump(), "5e-324");
    EXPECT_EQ(Json(1.0 / 3.0).dump(), "0.3333333333333333");
}

TEST(Json, NonFiniteDoublesBecomeNull) {
    EXPECT_EQ(Json(std::nan("")).dump(), "null");
    EXPECT_EQ(Json(std::numeric_limits<double>::infinity()).dump(), "null");
    EXPECT_EQ(Json(-std::numeric_limits<double>::infinity()).dump(), "null");
}

TEST(Json, ScalarsAndEmptyContainers) {
    EXPECT_EQ(Json().dump(), "null");
    EXPECT_EQ(Json::null().dump(), "null");
    EXPECT_EQ(Json(nullptr).dump(), "null");
    EXPECT_EQ(Json(true).dump(), "true");
    EXPECT_EQ(Json(false).dump(), "false");
    EXPECT_EQ(Json("text").dump(), "\"text\"");
    EXPECT_EQ(Json(JsonArray{}).dump(), "[]");
    EXPECT_EQ(Json(JsonObject{}).dump(), "{}");
    EXPECT_EQ(Json(JsonObject{}).dump_pretty(), "{}");
}

TEST(Json, ObjectsKeepInsertionOrderInEveryStyle) {
    const Json value(JsonObject{{"zeta", Json(1)},
                                {"alpha", Json(JsonArray{Json(10), Json(13)})},
                                {"q\"k", Json(JsonObject{{"x", Json()}})}});
    EXPECT_EQ(value.dump(), R"({"zeta":1,"alpha":[10,13],"q\"k":{"x":null}})");
    EXPECT_EQ(value.dump_spaced(), R"({"zeta": 1, "alpha": [10, 13], "q\"k": {"x": null}})");
    EXPECT_EQ(value.dump_pretty(), "{\n"
                                   "  \"zeta\": 1,\n"
                                   "  \"alpha\": [\n"
                                   "    10,\n"
                                   "    13\n"
                                   "  ],\n"
                                   "  \"q\\\"k\": {\n"
                                   "    \"x\": null\n"
                                   "  }\n"
                                   "}");
}

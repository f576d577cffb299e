// model.output: a TorchScript module (written by the real PyTorch) whose forward returns a dict or
// a tuple trains on the entry model.output names (a key or an index). Without model.output, a
// wrong key, an index out of range or an entry of the wrong shape: refused before anything is
// recorded, in one line that says what forward returns and what to set (issue 24, item 3).
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "model_modules.hpp"

namespace {

using kakuren::testing::ModelModules;
using kakuren::testing::quoted;

class ModelOutputE2E : public ModelModules {};

TEST_F(ModelOutputE2E, ADictOutputTrainsEndToEndWithModelOutput) {
    const std::string file = recipe("dict", "dict_out.pt", "output = \"logits\"\n").string();
    const auto r = kakuren("run " + quoted(file) + " --format json");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("\"status\": \"finished\""), std::string::npos) << r.out;
    // The run's resolved recipe keeps the key a string (an index stays an integer).
    int recipes = 0;
    for (const auto& run : std::filesystem::directory_iterator(m_tmp.path() / "ws" / "runs")) {
        std::ifstream in(run.path() / "recipe.toml");
        const std::string text((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        EXPECT_NE(text.find("\noutput = \"logits\"\n"), std::string::npos) << text;
        ++recipes;
    }
    EXPECT_EQ(recipes, 1);
}

TEST_F(ModelOutputE2E, ADictWithoutModelOutputSaysToSetIt) {
    const std::string file = recipe("dict_unset", "dict_out.pt").string();
    for (const std::string command : {"recipe check", "run"}) {
        const auto r = kakuren(command + " " + quoted(file));
        EXPECT_EQ(r.code, 2) << command << '\n' << r.out << r.err;
        EXPECT_EQ(r.err, file + ":15:8: error: model.path " + module_path("dict_out.pt") +
                             ": forward returns a dict (keys \"logits\", \"features\"), not a "
                             "tensor; set model.output to the key of the tensor to train on, "
                             "e.g. model.output = \"logits\"\n")
            << command;
    }
    EXPECT_TRUE(nothing_recorded());
}

TEST_F(ModelOutputE2E, AWrongKeyListsTheKeysThereAre) {
    const std::string file = recipe("dict_wrong", "dict_out.pt", "output = \"logit\"\n").string();
    for (const std::string command : {"recipe check", "run --dry-run", "run"}) {
        const auto r = kakuren(command + " " + quoted(file));
        EXPECT_EQ(r.code, 2) << command << '\n' << r.out << r.err;
        // model.output is line 16, its value at column 10.
        EXPECT_EQ(r.err, file + ":16:10: error: model.path " + module_path("dict_out.pt") +
                             ": model.output = \"logit\" is not a key of the dict forward "
                             "returns; its keys: \"logits\", \"features\"\n")
            << command;
    }
    EXPECT_TRUE(nothing_recorded());
}

TEST_F(ModelOutputE2E, ATupleIndexPicksTheTensor) {
    const std::string file = recipe("tuple", "tuple_out.pt", "output = 0\n").string();
    const auto check = kakuren("recipe check " + quoted(file));
    EXPECT_EQ(check.code, 0) << check.out << check.err;
    const auto r = kakuren("run " + quoted(file) + " --set schedule.epochs=1 --format json");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("\"status\": \"finished\""), std::string::npos) << r.out;

    // Element 1 is the features [B, 32]: not the classes.
    const auto features = kakuren("recipe check " + quoted(file) + " --set model.output=1");
    EXPECT_EQ(features.code, 2) << features.out << features.err;
    EXPECT_EQ(features.err, file + ":15:8: error: model.path " + module_path("tuple_out.pt") +
                                ": for a batch [2, 1, 28, 28] the module returns [2, 32]; "
                                "classification expects [2, 10] (batch, classes)\n");
    const auto beyond = kakuren("recipe check " + quoted(file) + " --set model.output=2");
    EXPECT_EQ(beyond.code, 2) << beyond.out << beyond.err;
    EXPECT_EQ(beyond.err, "--set: error: model.path " + module_path("tuple_out.pt") +
                              ": model.output = 2 is out of range: forward returns a tuple of 2 "
                              "(indices 0 to 1)\n");
    const auto unset = kakuren("recipe check " + quoted(recipe("tuple_unset", "tuple_out.pt")));
    EXPECT_EQ(unset.code, 2) << unset.out << unset.err;
    EXPECT_NE(unset.err.find(": forward returns a tuple of 2, not a tensor; set model.output to "
                             "the index of the tensor to train on, e.g. model.output = 0\n"),
              std::string::npos)
        << unset.err;
}

TEST_F(ModelOutputE2E, AListIndexAndAKeyOfTheWrongKind) {
    const std::string file = recipe("list", "list_out.pt", "output = 0\n").string();
    const auto check = kakuren("recipe check " + quoted(file));
    EXPECT_EQ(check.code, 0) << check.out << check.err;
    const auto key = kakuren("recipe check " + quoted(file) + " --set model.output=logits");
    EXPECT_EQ(key.code, 2) << key.out << key.err;
    EXPECT_NE(key.err.find(": model.output = \"logits\" names a dict key, but forward returns a "
                           "list of 2; set model.output to an index (indices 0 to 1)\n"),
              std::string::npos)
        << key.err;
}

TEST_F(ModelOutputE2E, ModelOutputMustBeAKeyOrAnIndexOfATorchScriptModule) {
    const std::string file = recipe("kinds", "dict_out.pt").string();
    const auto real = kakuren("recipe check " + quoted(file) + " --set model.output=1.5");
    EXPECT_EQ(real.code, 2) << real.out << real.err;
    EXPECT_EQ(real.err, "--set model.output=1.5: error: model.output must be a string (a dict "
                        "key) or an integer (a tuple index), got float 1.5\n");
    const auto negative = kakuren("recipe check " + quoted(file) + " --set model.output=-1");
    EXPECT_EQ(negative.code, 2) << negative.out << negative.err;
    EXPECT_EQ(negative.err,
              "--set model.output=-1: error: model.output = -1 is out of range; expected output "
              ">= 0\n");
    const auto builtin =
        kakuren("recipe check " + quoted(file) + " --set model.kind=mlp --set model.output=logits");
    EXPECT_EQ(builtin.code, 2) << builtin.out << builtin.err;
    EXPECT_EQ(builtin.err, "--set: error: model.output picks one entry of what a TorchScript "
                           "module returns; model.kind = \"mlp\" returns one tensor: remove "
                           "model.output\n");
}

} // namespace

// recipe check, run --dry-run and run: one forward pass of the model on a zero batch of the
// data's sample shape (from its headers) before anything is recorded. A module that does not
// fit the data is refused in one line naming the file, the input shape and the root cause (not
// the interpreter's 60-line traceback), exit 2, nothing recorded (issue 24, item 3).
#include <string>

#include "model_modules.hpp"

namespace {

using kakuren::testing::ModelModules;
using kakuren::testing::quoted;

class ModelCheckE2E : public ModelModules {};

TEST_F(ModelCheckE2E, AModuleThatDoesNotFitTheDataIsOneLineExit2AndNothingIsRecorded) {
    const std::string file = recipe("mismatch", "mismatch.pt").string();
    const std::string module = module_path("mismatch.pt");
    // model.path is line 15 of the recipe, its value at column 8.
    const std::string expected = file + ":15:8: error: model.path " + module +
                                 ": forward fails on a zero batch of the data's sample shape [2, "
                                 "1, 28, 28]: mat1 and mat2 shapes cannot be multiplied (2x784 "
                                 "and 100x10)\n";
    for (const std::string command :
         {"recipe check", "run --dry-run", "run", "submit --backend local --dry-run",
          "submit --backend local"}) {
        const auto r = kakuren(command + " " + quoted(file));
        EXPECT_EQ(r.code, 2) << command << '\n' << r.out << r.err;
        EXPECT_EQ(r.err, expected) << command;
        EXPECT_EQ(r.out.find("Traceback"), std::string::npos) << command << '\n' << r.out;
    }
    EXPECT_TRUE(nothing_recorded());
}

TEST_F(ModelCheckE2E, AnOutputThatDoesNotFitTheTaskIsNamedWithTheShapeExpected) {
    const std::string file = recipe("five", "five.pt").string();
    const auto r = kakuren("recipe check " + quoted(file));
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_EQ(r.err, file + ":15:8: error: model.path " + module_path("five.pt") +
                         ": for a batch [2, 1, 28, 28] the module returns [2, 5]; "
                         "classification expects [2, 10] (batch, classes)\n");
    const auto run = kakuren("run " + quoted(file));
    EXPECT_EQ(run.code, 2) << run.out << run.err;
    EXPECT_EQ(lines(run.err), 1) << run.err;
    EXPECT_TRUE(nothing_recorded());
}

TEST_F(ModelCheckE2E, TheInputShapeComesFromTheNpyHeader) {
    const std::string npy = (s_dir->path() / "npy").string();
    const std::string data =
        "dataset = \"npy\"\ntrain = \"" + npy + "/train\"\ntest = \"" + npy + "/test\"\n";
    const auto r = kakuren("recipe check " + quoted(recipe("npy", "mismatch.pt", "", data)));
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("mismatch.pt: forward fails on a zero batch of the data's sample shape "
                         "[2, 3, 16, 16]: mat1 and mat2 shapes cannot be multiplied (2x768 and "
                         "100x10)"),
              std::string::npos)
        << r.err;
}

TEST_F(ModelCheckE2E, ABuiltInModelThatCannotTakeTheImagesIsOneLine) {
    const std::string file = recipe("tiny", "", "",
                                    "dataset = \"synthetic\"\nsynthetic_train = 64\n"
                                    "synthetic_test = 16\nsynthetic_size = 8\n");
    const auto r = kakuren("recipe check " + quoted(file) + " --set model.kind=resnet50");
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_EQ(r.err, "--set: error: model resnet50 needs images of at least 32x32 (it halves them "
                     "five times); the data has 8x8\n");
}

TEST_F(ModelCheckE2E, AModuleThatFitsPasses) {
    const auto r = kakuren("recipe check " + quoted(recipe("fits", "fits.pt")));
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find(": ok (torchscript on synthetic"), std::string::npos) << r.out;
}

} // namespace

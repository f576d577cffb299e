// The name tables the schema reads (recipes/kinds.hpp) and the hiding strategy registry as the
// recipe sees it: allowed values, reference rows and messages come from one definition each.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "hiding/registry.hpp"
#include "recipes/kinds.hpp"
#include "recipes/recipe.hpp"

namespace kakuren::recipes {
namespace {

const std::string k_synthetic = "[data]\ndataset = \"synthetic\"\n";

// The reference row of a key: "| `key` | type | default | allowed | description |".
std::string row(const std::string& key) {
    const std::string md = reference_markdown();
    const std::size_t at = md.find("| `" + key + "` |");
    if (at == std::string::npos) {
        return "";
    }
    return md.substr(at, md.find('\n', at) - at);
}

std::vector<std::string> messages_of(const std::vector<std::string>& overrides) {
    try {
        (void)parse(k_synthetic, "x.toml", overrides);
    } catch (const RecipeError& e) {
        return e.messages();
    }
    return {};
}

TEST(Kinds, TheSchemaAllowsExactlyEachTablesNames) {
    const std::vector<std::pair<std::string, const std::vector<KindInfo>*>> tables = {
        {"model.kind", &model_kinds()},
        {"schedule.kind", &schedule_kinds()},
        {"data.dataset", &dataset_kinds()},
        {"task.kind", &task_kinds()},
    };
    for (const auto& [key, kinds] : tables) {
        std::string allowed = "one of ";
        for (std::size_t i = 0; i < kinds->size(); ++i) {
            allowed += (i ? ", " : "") + std::string((*kinds)[i].name);
        }
        EXPECT_NE(row(key).find("| " + allowed + " | " + kinds_text(*kinds) + " |"),
                  std::string::npos)
            << row(key);
    }
    EXPECT_EQ(kinds_text(schedule_kinds()),
              "step: multiply the LR by gamma at each milestone; multistep: the same as step "
              "(DeepCAM's name); cosine: cosine decay to 0.");
    EXPECT_EQ(kind_names(task_kinds()),
              (std::vector<std::string>{"classification", "segmentation", "regression"}));
    EXPECT_FALSE(has_kind(model_kinds(), "resnet34"));
    EXPECT_EQ(kind_names(model_kinds()),
              (std::vector<std::string>{"mlp", "cnn", "resnet18", "resnet50", "cosmoflow",
                                        "deepcam", "torchscript"}));
}

TEST(Kinds, AnUnknownModelKindNamesTheTable) {
    const auto messages = messages_of({"model.kind=resnet34"});
    ASSERT_EQ(messages.size(), 1U);
    EXPECT_NE(
        messages[0].find("one of mlp, cnn, resnet18, resnet50, cosmoflow, deepcam, torchscript"),
        std::string::npos)
        << messages[0];
}

TEST(Strategies, TheSchemaReadsTheRegistry) {
    std::string allowed = "one of ";
    for (const hiding::StrategyInfo* s : hiding::strategies()) {
        allowed += (s == hiding::strategies().front() ? "" : ", ") + std::string(s->name);
        EXPECT_NE(
            row("hiding.strategy").find(std::string(s->name) + ": " + std::string(s->summary)),
            std::string::npos)
            << s->name;
        for (const hiding::ParamInfo& p : s->params) {
            const std::string key = "hiding." + std::string(p.key);
            EXPECT_NE(
                row(key).find("| " + std::string(s->name) + ": " + std::string(p.summary) + " |"),
                std::string::npos)
                << row(key);
        }
    }
    EXPECT_NE(row("hiding.strategy").find("| " + allowed + " | "), std::string::npos);
    // The same rows as before the registry: type, default, bounds.
    EXPECT_EQ(row("hiding.rotate_full_epochs"),
              "| `hiding.rotate_full_epochs` | integer | `1` | rotate_full_epochs >= 0 | rotate: "
              "the last k epochs train on every sample. |");
    EXPECT_EQ(
        row("hiding.infobatch_ratio")
            .rfind("| `hiding.infobatch_ratio` | float | `0.5` | 0 <= infobatch_ratio < 1 | ", 0),
        0U);
    EXPECT_EQ(
        row("hiding.sb_beta").rfind("| `hiding.sb_beta` | float | `1.0` | sb_beta >= 0 | ", 0), 0U);
}

TEST(Strategies, ParamsLandInTheParamsMapWithTheirTypes) {
    const Recipe defaults = parse(k_synthetic, "x.toml");
    EXPECT_EQ(defaults.hiding.params, hiding::default_params());
    const Recipe r =
        parse(k_synthetic, "x.toml", {"hiding.rotate_full_epochs=3", "hiding.infobatch_delta=0.5"});
    EXPECT_DOUBLE_EQ(r.hiding.params.at("rotate_full_epochs"), 3.0);
    EXPECT_DOUBLE_EQ(r.hiding.params.at("infobatch_delta"), 0.5);
    EXPECT_NE(to_toml(r).find("rotate_full_epochs = 3\n"), std::string::npos);
    EXPECT_NE(to_toml(r).find("infobatch_delta = 0.5\n"), std::string::npos);
}

TEST(Strategies, ParamErrorsUseTheRegistrysBoundsAndTypes) {
    EXPECT_EQ(messages_of({"hiding.rotate_full_epochs=1.5"}),
              (std::vector<std::string>{"--set hiding.rotate_full_epochs=1.5: error: "
                                        "hiding.rotate_full_epochs must be an integer, got "
                                        "float 1.5"}));
    const auto messages = messages_of({"hiding.rotate_ratio=1.0"});
    ASSERT_EQ(messages.size(), 1U);
    EXPECT_NE(messages[0].find("hiding.rotate_ratio = 1.0 is out of range; expected 0 <= "
                               "rotate_ratio < 1"),
              std::string::npos)
        << messages[0];
    const auto unknown = messages_of({"hiding.strategy=rotat"});
    ASSERT_EQ(unknown.size(), 1U);
    EXPECT_NE(unknown[0].find("one of " + hiding::strategy_names_text()), std::string::npos)
        << unknown[0];
}

TEST(SbatchOptions, OneTableForValidationReferenceAndMapping) {
    EXPECT_EQ(sbatch_options_text(),
              "--exclusive, --reservation=, --nodelist=, --exclude=, --comment=, --licenses=, "
              "--mail-type=, --mail-user=, --dependency=");
    EXPECT_NE(row("slurm.extra").find(sbatch_options_text()), std::string::npos);
    EXPECT_EQ(find_sbatch_option("--wrap"), nullptr);
    EXPECT_FALSE(find_sbatch_option("--exclusive")->takes_value);
    const auto parsed =
        parse_sbatch_extra("--exclusive --reservation=maint --wrap=x --mail-type=END,FAIL");
    ASSERT_EQ(parsed.size(), 3U);
    EXPECT_EQ(parsed[0], std::make_pair(SbatchOption::exclusive, std::string()));
    EXPECT_EQ(parsed[1], std::make_pair(SbatchOption::reservation, std::string("maint")));
    EXPECT_EQ(parsed[2], std::make_pair(SbatchOption::mail_type, std::string("END,FAIL")));
}

TEST(SbatchOptions, AFlagWithAValueAndAnOptionWithoutOneAreRejected) {
    const auto messages = messages_of({"slurm.extra=--exclusive=yes --reservation"});
    ASSERT_EQ(messages.size(), 2U);
    EXPECT_NE(messages[0].find("\"--exclusive=yes\" takes no value"), std::string::npos)
        << messages[0];
    EXPECT_NE(messages[1].find("\"--reservation\" needs a value: --reservation=VALUE"),
              std::string::npos)
        << messages[1];
}

} // namespace
} // namespace kakuren::recipes

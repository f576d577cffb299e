// The options several commands share (cli/command_line.hpp, cli/commands.hpp).
#include "cli/command_line.hpp"

#include <CLI/CLI.hpp>

#include <map>

namespace kakuren::cli {

void add_common(CLI::App* sub, CommonOptions& common, bool with_format) {
    add_workspace_option(sub, common.workspace);
    if (with_format) {
        sub->add_option("--format", common.format, "Output format: text or json")
            ->transform(CLI::CheckedTransformer(
                std::map<std::string, Format>{{"text", Format::text}, {"json", Format::json}},
                CLI::ignore_case));
    }
}

void add_overrides(CLI::App* sub, std::vector<std::string>& overrides) {
    sub->add_option("--set", overrides,
                    "Override a recipe value, e.g. --set hiding.fraction=0.2 (repeatable; the "
                    "value is read as TOML, else as a string)")
        ->type_name("KEY=VALUE")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void add_workspace_option(CLI::App* sub, std::string& workspace) {
    // Refused here: past parsing, an empty value means "not given" (launcher::resolve_workspace).
    const CLI::Validator not_empty(
        [](std::string& text) -> std::string {
            return text.empty() ? "'' is empty; give a folder name (or leave it out)" : "";
        },
        "");
    sub->add_option("--workspace,-w", workspace,
                    "Folder holding kakuren.db and runs/ (default: $KAKUREN_WORKSPACE, else the "
                    "current folder)")
        ->check(not_empty);
}

} // namespace kakuren::cli

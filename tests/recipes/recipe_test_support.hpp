// The recipe tests' helpers (recipe_test.cpp, recipe_keys_test.cpp): RecipeDir, a temporary
// folder for recipes and data files, and shown(), one key's value as show() prints it.
#pragma once

#include <filesystem>
#include <string>

#include "recipes/recipe.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace kakuren::testing {

/// A fresh folder under the system temp folder, removed with its contents at the end.
class RecipeDir : public TempDir {
  public:
    RecipeDir() : TempDir("kakuren-recipes") {}

    /// Writes text to path() / name (creating folders) and returns the full path.
    std::filesystem::path write(const std::string& name, const std::string& text = "") const {
        std::filesystem::path p = path() / name;
        write_file(p, text);
        return p;
    }

    /// The four (empty) IDX files of a data set in path() / folder.
    void write_idx(const std::string& folder, const std::string& suffix) const {
        for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
            std::string file = folder + "/";
            file += name;
            file += suffix;
            write(file);
        }
    }
};

/// The line of show() for key, without the key.
inline std::string shown(const kakuren::recipes::Recipe& r, const std::string& key) {
    const std::string text = kakuren::recipes::show(r);
    const auto begin = text.find(key + " = ");
    if (begin == std::string::npos) {
        return "(missing)";
    }
    const auto end = text.find('\n', begin);
    return text.substr(begin + key.size() + 3, end - begin - key.size() - 3);
}

} // namespace kakuren::testing

// util/mlperf_keys.hpp is the one table of MLPerf log keys: a real (short) run writes only keys of
// the table, every key the table says a run always writes, and the log passes the checker; the
// checker enforces each row of the same table (required records, value types, exactly-once).
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "report/json_reader.hpp"
#include "report/mllog_check.hpp"
#include "support/temp_dir.hpp"
#include "trainer/trainer.hpp"
#include "util/mllog.hpp"
#include "util/mlperf_keys.hpp"

namespace kakuren {
namespace {

namespace mlperf = util::mlperf;

constexpr std::string_view k_marker = ":::MLLOG ";

/// The log of a real 2-epoch run (an 8x8 synthetic problem, an MLP, kakurenbo hiding), as lines.
const std::vector<std::string>& real_log() {
    static const std::vector<std::string> lines = [] {
        testing::TempDir dir;
        trainer::Config c;
        c.data.dataset = "synthetic";
        c.data.synthetic_train = 512;
        c.data.synthetic_test = 256;
        c.data.synthetic_classes = 10;
        c.data.synthetic_channels = 1;
        c.data.synthetic_size = 8;
        c.data.batch_size = 64;
        c.data.eval_batch_size = 256;
        c.model.kind = "mlp";
        c.model.hidden = {16};
        c.schedule.epochs = 2;
        c.schedule.milestones = {};
        c.hiding.strategy = "kakurenbo";
        c.hiding.fraction = 0.3;
        c.threads = 1;
        c.seed = 7;
        {
            util::MlLog log(dir.path() / "mllog.txt");
            trainer::Observer none;
            trainer::train(c, none, log);
        }
        std::ifstream in(dir.path() / "mllog.txt");
        std::vector<std::string> out;
        for (std::string line; std::getline(in, line);) {
            out.push_back(line);
        }
        return out;
    }();
    return lines;
}

report::JsonValue record_of(const std::string& line) {
    EXPECT_EQ(line.rfind(k_marker, 0), 0U) << line;
    return report::parse_json(std::string_view(line).substr(k_marker.size()));
}

std::string key_of(const std::string& line) {
    return record_of(line)["key"].as_string();
}

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const std::string& l : lines) {
        out += l + "\n";
    }
    return out;
}

std::vector<std::string> problems_of(const std::vector<std::string>& lines) {
    const report::LogAnalysis a = report::analyze_mllog(join(lines), "mllog.txt", false);
    std::vector<std::string> out;
    for (const report::LogProblem& p : a.problems) {
        out.push_back(p.message);
    }
    return out;
}

bool has_problem(const std::vector<std::string>& problems, const std::string& text) {
    for (const std::string& p : problems) {
        if (p.find(text) != std::string::npos) {
            return true;
        }
    }
    return false;
}

std::string all(const std::vector<std::string>& problems) {
    std::ostringstream out;
    for (const std::string& p : problems) {
        out << "\n  " << p;
    }
    return out.str();
}

TEST(MlperfKeys, ARealRunWritesOnlyTableKeysAndEveryAlwaysKey) {
    const std::vector<std::string>& lines = real_log();
    ASSERT_FALSE(lines.empty());
    std::set<std::string> written;
    for (const std::string& line : lines) {
        const std::string key = key_of(line);
        written.insert(key);
        const mlperf::Key* row = mlperf::find_key(key);
        ASSERT_NE(row, nullptr) << key << " is written but not declared in util/mlperf_keys.hpp";
        EXPECT_EQ(record_of(line)["event_type"].as_string(), mlperf::event_type(key)) << key;
    }
    for (const mlperf::Key& row : mlperf::k_keys) {
        const bool seen = written.count(std::string(row.name)) != 0;
        if (row.when == mlperf::When::always) {
            EXPECT_TRUE(seen) << row.name << " is declared as always written but the run did not";
        } else if (row.when == mlperf::When::never) {
            EXPECT_FALSE(seen) << row.name << " is declared as never written but the run wrote it";
        }
    }
    EXPECT_EQ(mlperf::find_key("not_a_key"), nullptr);
    EXPECT_EQ(mlperf::find_key("hiding_"), nullptr); // a prefix alone names no key
}

TEST(MlperfKeys, TheCheckerPassesTheRealLog) {
    const std::vector<std::string> problems = problems_of(real_log());
    EXPECT_TRUE(problems.empty()) << all(problems);
}

TEST(MlperfKeys, TheCheckerRequiresEveryRequiredRow) {
    int rows = 0;
    for (const mlperf::Key& row : mlperf::k_keys) {
        if (row.need == mlperf::Need::optional) {
            continue;
        }
        ++rows;
        const std::string name(row.name);
        std::vector<std::string> lines;
        for (const std::string& line : real_log()) {
            // An init record goes everywhere; an epoch record from the first epoch only.
            const bool first_epoch = line.find("\"epoch_num\": 1}") != std::string::npos;
            if (key_of(line) != name || (row.phase == mlperf::Phase::epoch && !first_epoch)) {
                lines.push_back(line);
            }
        }
        ASSERT_LT(lines.size(), real_log().size()) << "the real run did not write " << name;
        const std::string expected = row.phase == mlperf::Phase::init
                                         ? "required record " + name + " is missing"
                                         : "epoch 1 has no " + name;
        const std::vector<std::string> problems = problems_of(lines);
        EXPECT_TRUE(has_problem(problems, expected)) << name << ":" << all(problems);
    }
    EXPECT_GE(rows, 20);
}

TEST(MlperfKeys, TheCheckerChecksEveryTypedRowAndEveryOnceRow) {
    const std::regex value(R"("value": .*, "metadata")");
    int typed = 0;
    for (const mlperf::Key& row : mlperf::k_keys) {
        if (row.want == mlperf::Want::any && row.need != mlperf::Need::required_once) {
            continue;
        }
        const std::string name(row.name);
        std::vector<std::string> wrong, twice;
        bool done = false;
        for (const std::string& line : real_log()) {
            const bool hit = !done && key_of(line) == name;
            wrong.push_back(
                hit ? std::regex_replace(line, value, R"("value": {"x": []}, "metadata")") : line);
            twice.push_back(line);
            if (hit) {
                twice.push_back(line);
                done = true;
            }
        }
        ASSERT_TRUE(done) << "the real run did not write " << name;
        if (row.want != mlperf::Want::any) {
            ++typed;
            const std::vector<std::string> problems = problems_of(wrong);
            EXPECT_TRUE(has_problem(problems, name + ": value should be "))
                << name << all(problems);
        }
        if (row.need == mlperf::Need::required_once) {
            const std::vector<std::string> problems = problems_of(twice);
            EXPECT_TRUE(has_problem(problems, name + " logged more than once")) << all(problems);
        }
    }
    EXPECT_GE(typed, 20);
}

} // namespace
} // namespace kakuren

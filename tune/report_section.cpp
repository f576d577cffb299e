// kakuren report's tune sections from the records (tune/report_section.hpp).
#include "tune/report_section.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "db/tunes.hpp"
#include "tune/outcome.hpp"
#include "util/error.hpp"

namespace kakuren::tune {
namespace {

/// Each round: the labels it trained, and those of them the next round did not keep.
std::vector<report::TuneSection::Round> rounds_of(const Outcome& o) {
    std::map<int, std::string> label;
    for (const CandidateResult& c : o.ranked) {
        label[c.candidate] = c.label;
    }
    std::vector<report::TuneSection::Round> out;
    for (std::size_t i = 0; i < o.rounds.size(); ++i) {
        const db::TuneRoundRow& r = o.rounds[i];
        report::TuneSection::Round round{r.round, r.epochs, {}, {}};
        for (const int c : r.survivors) {
            round.trained.push_back(label[c]);
            const bool last = i + 1 == o.rounds.size();
            const auto& next = last ? r.survivors : o.rounds[i + 1].survivors;
            if (!last && std::find(next.begin(), next.end(), c) == next.end()) {
                round.dropped.push_back(label[c]);
            }
        }
        out.push_back(std::move(round));
    }
    return out;
}

} // namespace

report::TuneSection section_of(const Outcome& o) {
    report::TuneSection s;
    s.id = o.tune.id;
    s.heading = heading(o);
    s.metric = o.metric;
    s.target = o.target;
    s.verdict = o.verdict;
    s.columns = table_columns(o);
    s.rows = table_rows(o);
    for (const CandidateResult& c : o.ranked) {
        s.curves.push_back({c.candidate, c.label, c.run_id, c.metrics});
    }
    s.rounds = rounds_of(o);
    s.json = to_json(o, "");
    return s;
}

std::vector<report::TuneSection> report_sections(const db::Store& store,
                                                 const report::Report& report, bool all) {
    std::set<std::string> sweeps;
    for (const report::RunReport& r : report.runs) {
        if (r.role == "selected" && !r.run.sweep.empty()) {
            sweeps.insert(r.run.sweep);
        }
    }
    std::vector<report::TuneSection> out;
    for (const db::TuneRow& t : db::list_tunes(store)) {
        if (!all && sweeps.count(t.id) == 0) {
            continue;
        }
        try {
            out.push_back(section_of(evaluate(store, t)));
        } catch (const Error& e) {
            // One tune that cannot be evaluated (its recipe no longer parses, say) must not
            // take the whole report down: it says why instead.
            report::TuneSection s;
            s.id = t.id;
            s.heading = t.id + ": cannot be evaluated: " + e.what();
            s.json = util::JsonObject{{"tune_id", t.id}, {"error", std::string(e.what())}};
            out.push_back(std::move(s));
        }
    }
    return out;
}

} // namespace kakuren::tune

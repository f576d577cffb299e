// Verdict, table and JSON of a tune (tune/outcome.hpp).
#include "tune/outcome.hpp"

#include <algorithm>
#include <cmath>

#include "report/text.hpp"

namespace kakuren::tune {
namespace {

using report::fixed;

bool by_work(const Outcome& o) {
    return o.tune.rank_by == "work";
}
const Projection& key_projection(const Outcome& o, const CandidateResult& c) {
    return by_work(o) ? c.work : c.time;
}
const std::optional<Comparison>& key_comparison(const Outcome& o, const CandidateResult& c) {
    return by_work(o) ? c.work_vs_none : c.time_vs_none;
}

const CandidateResult* baseline(const Outcome& o) {
    for (const CandidateResult& c : o.ranked) {
        if (c.candidate == 0) {
            return &c;
        }
    }
    return nullptr;
}

std::string whole_percent(double fraction) {
    return std::to_string(static_cast<long long>(std::lround(fraction * 100)));
}

/// " at -0.20 pp accuracy": the winner against none after the same number of epochs.
std::string metric_cost(const Outcome& o, const CandidateResult& w, const CandidateResult& none) {
    const std::size_t k = std::min(w.metrics.size(), none.metrics.size());
    if (k == 0) {
        return "";
    }
    return " at " + report::metric_diff_text(o.metric, w.metrics[k - 1] - none.metrics[k - 1]) +
           " " + report::metric_noun(o.metric) + " after " + std::to_string(k) + " epochs";
}

std::string saving_clause(const Outcome& o, const CandidateResult& w, const CandidateResult& none) {
    const Comparison& c = *key_comparison(o, w);
    const std::string noun = by_work(o) ? " of the work" : " of the time";
    const double saving = 1.0 - c.ratio;
    std::string s = w.label;
    if (c.sigma && saving - *c.sigma <= 0) {
        s += " may save about " + whole_percent(saving) + " % ± " + whole_percent(*c.sigma) + " %" +
             noun + " to the target, within its uncertainty: not a clear saving";
    } else {
        s += " saves about " + whole_percent(saving) + " %";
        if (c.sigma) {
            s += " ± " + whole_percent(*c.sigma) + " %";
        }
        s += noun + " to the target";
    }
    s += metric_cost(o, w, none);
    const Projection& pw = key_projection(o, w);
    const Projection& pn = key_projection(o, none);
    if (!c.sigma) {
        s += pw.kind == ProjectionKind::measured && pn.kind == ProjectionKind::measured
                 ? " (both measured)"
                 : " (no interval: a fit through 2 points)";
    }
    return s;
}

/// "; kakurenbo and random do not pay here": strategies none of whose candidates is projected
/// to beat none.
std::string not_paying(const Outcome& o) {
    std::vector<std::string> names;
    for (const CandidateResult& c : o.ranked) {
        if (c.candidate == 0 || std::find(names.begin(), names.end(), c.strategy) != names.end()) {
            continue;
        }
        bool pays = false;
        for (const CandidateResult& d : o.ranked) {
            const auto& cmp = key_comparison(o, d);
            pays = pays || (d.strategy == c.strategy && d.candidate != 0 && cmp && cmp->ratio < 1);
        }
        if (!pays) {
            names.push_back(c.strategy);
        }
    }
    if (names.empty()) {
        return "";
    }
    std::string list;
    for (std::size_t i = 0; i < names.size(); ++i) {
        list += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
    }
    return "; " + list + (names.size() == 1 ? " does" : " do") + " not pay here";
}

util::Json projection_json(const Projection& p) {
    const bool finite = p.projected();
    return util::JsonObject{
        {"kind", to_string(p.kind)},
        {"value", finite ? util::Json(p.cost) : util::Json::null()},
        {"log_sigma", p.log_sigma ? util::Json(*p.log_sigma) : util::Json::null()},
        {"low",
         finite && p.log_sigma ? util::Json(p.cost * std::exp(-*p.log_sigma)) : util::Json::null()},
        {"high",
         finite && p.log_sigma ? util::Json(p.cost * std::exp(*p.log_sigma)) : util::Json::null()},
        {"points", p.points}};
}

util::Json comparison_json(const std::optional<Comparison>& c) {
    if (!c) {
        return util::Json::null();
    }
    return util::JsonObject{{"ratio", c->ratio},
                            {"sigma", c->sigma ? util::Json(*c->sigma) : util::Json::null()}};
}

std::string ratio_text(const std::optional<Comparison>& c) {
    if (!c) {
        return "-";
    }
    return fixed(c->ratio, 2) + "x" + (c->sigma ? " ±" + fixed(*c->sigma, 2) : "");
}

std::string cost_text(const Projection& p, bool seconds) {
    if (!p.projected()) {
        return "-";
    }
    const std::string prefix = p.kind == ProjectionKind::fitted ? "~" : "";
    return prefix + (seconds ? report::seconds_text(p.cost)
                             : report::thousands(std::llround(p.cost)) + " samples");
}

} // namespace

std::string confidence_text(const Projection& p) {
    switch (p.kind) {
    case ProjectionKind::measured:
        return "measured";
    case ProjectionKind::fitted:
        return p.log_sigma ? "±" + whole_percent(std::exp(*p.log_sigma) - 1) + " % (" +
                                 std::to_string(p.points) + " points)"
                           : "no interval (" + std::to_string(p.points) + " points)";
    case ProjectionKind::not_improving:
        return "not improving";
    case ProjectionKind::too_few:
        return "too few points";
    }
    return "?";
}

namespace {

/// When the winner's or none's projection is uncertain by more than a factor of 2 (one standard
/// error), a saving computed from them says more than the curves do (the delta method's
/// interval of the ratio stays narrow while the model itself may not hold: a curve that
/// flattens below the target projects to any cost): that sentence instead of a saving.
std::optional<std::string> too_uncertain(const Outcome& o, const CandidateResult& w,
                                         const CandidateResult* none) {
    constexpr double k_max_log_sigma = 0.6931471805599453; // ln 2
    const auto vague = [&](const CandidateResult& c) {
        const Projection& p = key_projection(o, c);
        return p.kind == ProjectionKind::fitted && p.log_sigma && *p.log_sigma > k_max_log_sigma;
    };
    if (none == nullptr || !key_comparison(o, w) || (!vague(w) && !vague(*none))) {
        return std::nullopt;
    }
    return w.label + " is projected to need the least " + (by_work(o) ? "work" : "time") +
           ", but the projections are too uncertain to state a saving (" + w.label + " " +
           confidence_text(key_projection(o, w)) + ", none " +
           confidence_text(key_projection(o, *none)) + "): give a larger --budget";
}

} // namespace

std::string verdict(const Outcome& o) {
    if (o.ranked.empty() || !key_projection(o, o.ranked.front()).projected()) {
        return "No candidate is projected to reach the target " +
               report::metric_value(o.metric, o.target) +
               " yet (the curves so far do not improve enough): give a larger --budget.";
    }
    const CandidateResult& w = o.ranked.front();
    const CandidateResult* none = baseline(o);
    std::string s;
    if (w.candidate == 0) {
        for (const CandidateResult& c : o.ranked) {
            const auto& cmp = key_comparison(o, c);
            if (c.candidate == 0 || !cmp) {
                continue;
            }
            const std::string more = whole_percent(cmp->ratio - 1.0) + " %";
            const std::string noun = by_work(o) ? "work" : "time";
            if (cmp->sigma && cmp->ratio - 1.0 - *cmp->sigma <= 0) {
                // The interval reaches none's own cost: "does not pay" is not shown either.
                return "No hiding is shown to pay here: none ranks first, but the best-ranked "
                       "hiding, " +
                       c.label + ", takes about " + more + " ± " + whole_percent(*cmp->sigma) +
                       " % more " + noun + ", within its uncertainty.";
            }
            return "No hiding pays here: none reaches the target soonest; the best-ranked "
                   "hiding, " +
                   c.label + ", takes about " + more +
                   (cmp->sigma ? " ± " + whole_percent(*cmp->sigma) + " %" : std::string()) +
                   " more " + noun + ".";
        }
        return "No hiding pays here: none reaches the target soonest.";
    }
    if (const std::optional<std::string> vague = too_uncertain(o, w, none)) {
        s = *vague;
    } else if (none == nullptr || !key_comparison(o, w)) {
        s = w.label +
            (key_projection(o, w).kind == ProjectionKind::measured
                 ? " reached the target"
                 : " is projected to reach the target") +
            "; none's curve does not project to it (" +
            confidence_text(none ? key_projection(o, *none) : Projection{}) +
            "), so there is no saving to state";
    } else {
        s = saving_clause(o, w, *none);
    }
    return s + (none != nullptr && key_projection(o, *none).projected() ? not_paying(o) : "") + ".";
}

std::vector<std::string> table_columns(const Outcome& o) {
    return {"rank",   "candidate",      "run",     "epochs",         "round",   "final " + o.metric,
            "hidden", "time to target", "vs none", "work to target", "vs none", "confidence"};
}

std::vector<std::vector<std::string>> table_rows(const Outcome& o) {
    std::vector<std::vector<std::string>> rows;
    int rank = 1;
    for (const CandidateResult& c : o.ranked) {
        rows.push_back({std::to_string(rank++), c.label, c.run_id.empty() ? "-" : c.run_id,
                        std::to_string(c.epochs), std::to_string(c.last_round),
                        c.final_metric ? report::metric_value(o.metric, *c.final_metric) : "-",
                        report::percent(c.realised_hidden), cost_text(c.time, true),
                        ratio_text(c.time_vs_none), cost_text(c.work, false),
                        ratio_text(c.work_vs_none), confidence_text(key_projection(o, c))});
    }
    return rows;
}

std::string heading(const Outcome& o) {
    return o.tune.id + " (" + (o.finished ? "done" : "not finished") + "): target " + o.metric +
           " " + report::metric_value(o.metric, o.target) + ", ranked by projected " +
           o.tune.rank_by + " to the target, budget " + o.tune.budget;
}

std::string table_text(const Outcome& o) {
    report::Table t(table_columns(o));
    for (auto& row : table_rows(o)) {
        t.add(std::move(row));
    }
    std::string rounds;
    for (const db::TuneRoundRow& r : o.rounds) {
        rounds += "round " + std::to_string(r.round) + ": " + std::to_string(r.survivors.size()) +
                  " candidates to epoch " + std::to_string(r.epochs) + "\n";
    }
    return "tune " + heading(o) + "\n" + rounds + t.render() + o.verdict + "\n";
}

util::Json to_json(const Outcome& o, const std::string& written) {
    util::JsonArray rounds;
    for (const db::TuneRoundRow& r : o.rounds) {
        util::JsonArray survivors;
        for (const int c : r.survivors) {
            survivors.emplace_back(c);
        }
        rounds.emplace_back(util::JsonObject{{"round", r.round},
                                             {"epochs", r.epochs},
                                             {"survivors", util::Json(std::move(survivors))}});
    }
    util::JsonArray candidates;
    int rank = 1;
    for (const CandidateResult& c : o.ranked) {
        candidates.emplace_back(util::JsonObject{
            {"rank", rank++},
            {"candidate", c.candidate},
            {"label", c.label},
            {"strategy", c.strategy},
            {"run_id", c.run_id.empty() ? util::Json::null() : util::Json(c.run_id)},
            {"status", c.status},
            {"epochs", c.epochs},
            {"last_round", c.last_round},
            {"final_metric", c.final_metric ? util::Json(*c.final_metric) : util::Json::null()},
            {"realised_hidden", c.realised_hidden},
            {"time_to_target_s", projection_json(c.time)},
            {"work_to_target_samples", projection_json(c.work)},
            {"time_vs_none", comparison_json(c.time_vs_none)},
            {"work_vs_none", comparison_json(c.work_vs_none)},
            {"confidence", confidence_text(key_projection(o, c))}});
    }
    return util::JsonObject{
        {"tune_id", o.tune.id},
        {"recipe", o.tune.recipe_path},
        {"status", o.finished ? "done" : o.tune.status},
        {"metric", o.metric},
        {"target", o.target},
        {"rank_by", o.tune.rank_by},
        {"budget", o.tune.budget},
        {"eta", o.tune.eta},
        {"rounds", util::Json(std::move(rounds))},
        {"candidates", util::Json(std::move(candidates))},
        {"verdict", o.verdict},
        {"winner_recipe", written.empty() ? util::Json::null() : util::Json(written)}};
}

} // namespace kakuren::tune

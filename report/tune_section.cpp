// The report's tune section (report/tune_section.hpp): text, HTML (table, curves, rounds), JSON.
#include "report/tune_section.hpp"

#include <algorithm>

#include "report/render_common.hpp"
#include "report/svg.hpp"
#include "report/text.hpp"

namespace kakuren::report {
namespace {

using svg::escape;

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& s : items) {
        out += (out.empty() ? "" : ", ") + s;
    }
    return out.empty() ? "-" : out;
}

/// "round 2: 3 candidates to epoch 4; dropped after it: kakurenbo, random".
std::string round_line(const TuneSection::Round& r) {
    return "round " + std::to_string(r.round) + ": " + std::to_string(r.trained.size()) +
           " candidates to epoch " + std::to_string(r.epochs) +
           (r.dropped.empty() ? "" : "; dropped after it: " + join(r.dropped));
}

std::string table_html(const TuneSection& t) {
    std::string out = R"(<div class="scroll"><table class="tune-table" data-tune=")" +
                      escape(t.id) + R"("><thead><tr>)";
    for (const std::string& c : t.columns) {
        out += "<th>" + escape(c) + "</th>";
    }
    out += "</tr></thead><tbody>";
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
        const int candidate = i < t.curves.size() ? t.curves[i].candidate : -1;
        out += "<tr data-candidate=\"" + std::to_string(candidate) + "\">";
        for (const std::string& cell : t.rows[i]) {
            out += "<td>" + escape(cell) + "</td>";
        }
        out += "</tr>";
    }
    return out + "</tbody></table></div>";
}

std::string curves_svg(const TuneSection& t) {
    svg::LineChart c;
    c.id = "tune_curves-" + t.id;
    c.title = "Learning curves of the candidates";
    const bool as_percent = !lower_is_better(t.metric);
    c.x_label = "epoch";
    c.y_label = "test " + metric_noun(t.metric) + (as_percent ? " (%)" : ", lower is better");
    c.y_percent = as_percent;
    c.x_integer = true;
    c.note = "a curve that stops early: the candidate was dropped at that round";
    c.targets.push_back({t.target, "target " + metric_value(t.metric, t.target)});
    for (std::size_t i = 0; i < t.curves.size(); ++i) {
        const TuneSection::Curve& curve = t.curves[i];
        svg::Series s{curve.label,
                      curve.run_id,
                      "tune_metric",
                      svg::run_color(i),
                      curve.candidate == 0,
                      true,
                      {},
                      std::to_string(curve.candidate)};
        for (std::size_t e = 0; e < curve.metrics.size(); ++e) {
            s.points.emplace_back(static_cast<double>(e + 1), curve.metrics[e]);
        }
        c.series.push_back(std::move(s));
    }
    return svg::render(c);
}

/// The halving as a grid: a row per candidate, a column per round; a cell says whether the
/// candidate trained in that round and whether it went on.
std::string rounds_html(const TuneSection& t) {
    std::string out = R"(<div class="scroll"><table class="tune-rounds" data-tune=")" +
                      escape(t.id) + R"("><thead><tr><th>candidate</th>)";
    for (const TuneSection::Round& r : t.rounds) {
        out += "<th>round " + std::to_string(r.round) + ": to epoch " + std::to_string(r.epochs) +
               "</th>";
    }
    out += "</tr></thead><tbody>";
    for (const TuneSection::Curve& c : t.curves) {
        out += "<tr data-candidate=\"" + std::to_string(c.candidate) + "\"><td>" + escape(c.label) +
               "</td>";
        for (const TuneSection::Round& r : t.rounds) {
            const auto has = [&](const std::vector<std::string>& v) {
                return std::find(v.begin(), v.end(), c.label) != v.end();
            };
            const std::string state = !has(r.trained) ? "out" : has(r.dropped) ? "dropped" : "kept";
            const std::string look = state == "kept"      ? "background:#dff3e4"
                                     : state == "dropped" ? "background:#fde2e1"
                                                          : "background:#f4f4f4;color:#999";
            const std::string text = state == "kept"      ? "trained"
                                     : state == "dropped" ? "trained, dropped after"
                                                          : "-";
            out += "<td data-round=\"" + std::to_string(r.round) + "\" data-state=\"";
            out.append(state).append("\" style=\"").append(look).append("\">");
            out.append(text).append("</td>");
        }
        out += "</tr>";
    }
    return out + "</tbody></table></div>";
}

} // namespace

std::string tune_sections_text(const std::vector<TuneSection>& tunes) {
    std::string out;
    for (const TuneSection& t : tunes) {
        out += "\nTUNE " + t.heading + "\n";
        if (t.rows.empty()) {
            continue;
        }
        for (const TuneSection::Round& r : t.rounds) {
            out += round_line(r) + "\n";
        }
        Table table(t.columns);
        for (const auto& row : t.rows) {
            table.add(row);
        }
        out += table.render() + t.verdict + "\n";
    }
    return out;
}

std::string tune_sections_html(const std::vector<TuneSection>& tunes) {
    if (tunes.empty()) {
        return "";
    }
    std::string out = "<h2>Tunes</h2>";
    for (const TuneSection& t : tunes) {
        out += R"(<section class="tune" data-tune=")" + escape(t.id) + "\"><h3>" +
               escape(t.heading) + R"(</h3><p class="verdict" data-tune=")" + escape(t.id) +
               "\"><b>" + escape(t.verdict) + "</b></p>";
        if (t.rows.empty()) { // a tune that could not be evaluated: its heading says why
            out += "</section>";
            continue;
        }
        out += table_html(t);
        // One chart: the page's grid would stretch it across the width.
        out += "<div class=\"charts\" style=\"grid-template-columns:minmax(0,760px)\">";
        detail::figure(out, curves_svg(t),
                       "Test " + metric_noun(t.metric) +
                           " after each epoch of each candidate's run; dashed: none, the "
                           "baseline. The projection to the target fits the last epochs of each "
                           "curve.");
        out += "</div><h3>Rounds of successive halving</h3>" + rounds_html(t);
        out += "<p class=\"sub\">";
        for (const TuneSection::Round& r : t.rounds) {
            out += escape(round_line(r)) + "<br>";
        }
        out += "</p></section>";
    }
    return out;
}

util::Json tune_sections_json(const std::vector<TuneSection>& tunes) {
    util::JsonArray out;
    for (const TuneSection& t : tunes) {
        out.push_back(t.json);
    }
    return out;
}

} // namespace kakuren::report

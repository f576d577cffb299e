// --format csv: one row per run (or per sample with --samples), RFC 4180 quoting.
#include <charconv>
#include <cmath>

#include "report/render.hpp"

namespace kakuren::report {

namespace {

std::string cell(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) {
        return s;
    }
    std::string out = "\"";
    for (const char c : s) {
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    }
    return out + "\"";
}

std::string num(double v) {
    if (!std::isfinite(v)) {
        // A diverged run's loss: "nan" / "inf" (as pandas reads them); empty means not measured.
        return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
    }
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : "";
}

std::string num(const std::optional<double>& v) {
    return v ? num(*v) : "";
}

std::string integer(std::int64_t v) {
    return std::to_string(v);
}

void row(std::string& out, const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
        out += (i > 0 ? "," : "") + cell(cells[i]);
    }
    out += "\n";
}

const Comparison* comparison_of(const Report& report, const std::string& run_id) {
    for (const Comparison& c : report.comparisons) {
        if (c.run_id == run_id) {
            return &c;
        }
    }
    return nullptr;
}

/// The runs table's header: one column name per line.
std::vector<std::string> runs_header() {
    return {"run_id",
            "name",
            "role",
            "status",
            "outcome",
            "reason",
            "model",
            "dataset",
            "num_samples",
            "strategy",
            "fraction",
            "tau",
            "seed",
            "ranks",
            "batch_size",
            "epochs_done",
            "epochs_planned",
            "final_accuracy",
            "best_accuracy",
            "best_epoch",
            "time_to_train_s",
            "elapsed_s",
            "target_accuracy",
            "target_epoch",
            "time_to_target_s",
            "staging_s",
            "init_s",
            "train_s",
            "hidden_pass_s",
            "eval_s",
            "checkpoint_s",
            "other_s",
            "communication_s",
            "total_s",
            "samples_per_s",
            "mean_requested_fraction",
            "mean_realised_fraction",
            "hidden_total",
            "moved_back_total",
            "sgd_steps_run",
            "sgd_steps_without_hiding",
            "sgd_steps_saved",
            "baseline_id",
            "speedup_total",
            "time_saved_s",
            "speedup_to_target",
            "accuracy_diff_final",
            "accuracy_diff_best",
            "mllog_problems"};
}

/// One run's row, in runs_header's order; c: its comparison with a baseline, if any.
std::vector<std::string> run_cells(const RunReport& r, const Comparison* c) {
    const TimeSplit& s = r.split;
    return {r.run.id,
            r.run.name,
            r.role,
            db::to_string(r.run.status),
            r.outcome,
            r.run.reason,
            r.recipe.model,
            r.recipe.dataset,
            integer(r.run.num_samples),
            r.recipe.strategy,
            num(r.recipe.fraction),
            num(r.recipe.tau),
            integer(r.run.seed),
            integer(r.ranks),
            integer(r.recipe.batch_size),
            integer(static_cast<std::int64_t>(r.epochs.size())),
            integer(r.run.num_epochs),
            num(r.run.final_accuracy),
            num(r.run.best_accuracy),
            r.best_epoch > 0 ? integer(r.best_epoch) : "",
            num(r.time_to_train_s),
            num(r.elapsed_s),
            r.target ? num(r.target->accuracy) : "",
            r.target && r.target->reached ? integer(r.target->epoch) : "",
            r.target ? num(r.target->time_s) : "",
            num(s.staging_s),
            num(s.init_s),
            num(s.train_s),
            num(s.hidden_pass_s),
            num(s.eval_s),
            num(s.checkpoint_s),
            num(s.other_s),
            num(s.communication_s),
            num(s.total_s),
            num(r.samples_per_s),
            num(r.mean_requested_fraction),
            num(r.mean_realised_fraction),
            integer(r.hidden_total),
            integer(r.moved_back_total),
            integer(r.sgd_steps_run),
            integer(r.sgd_steps_full),
            integer(r.sgd_steps_saved()),
            c != nullptr ? c->baseline_id : "",
            c != nullptr ? num(c->speedup_total) : "",
            c != nullptr ? num(c->time_saved_s) : "",
            c != nullptr ? num(c->speedup_to_target) : "",
            c != nullptr ? num(c->accuracy_diff_final) : "",
            c != nullptr ? num(c->accuracy_diff_best) : "",
            integer(static_cast<std::int64_t>(r.log.problems.size()))};
}

std::string runs_csv(const Report& report) {
    std::string out;
    row(out, runs_header());
    for (const RunReport& r : report.runs) {
        row(out, run_cells(r, comparison_of(report, r.run.id)));
    }
    return out;
}

std::string samples_csv(const Report& report) {
    std::string out;
    row(out,
        {"run_id", "sample", "times_hidden", "latest_loss", "hidden_in_loss_epoch", "loss_epoch"});
    for (const SampleReport& s : report.samples) {
        for (std::size_t i = 0; i < s.times_hidden.size(); ++i) {
            out += cell(s.run_id) + "," + std::to_string(i) + "," +
                   std::to_string(s.times_hidden[i]) + ",";
            if (s.have_losses) {
                out += num(static_cast<double>(s.latest_loss[i])) + "," +
                       (s.hidden_in_loss_epoch[i] != 0 ? "1" : "0") + "," +
                       std::to_string(s.loss_epoch);
            } else {
                out += ",,";
            }
            out += "\n";
        }
    }
    return out;
}

} // namespace

std::string render_csv(const Report& report) {
    return report.samples.empty() ? runs_csv(report) : samples_csv(report);
}

} // namespace kakuren::report

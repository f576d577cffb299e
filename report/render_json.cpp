// --format json: the stable layout documented in docs/reports.md.
#include <cmath>

#include "report/render.hpp"
#include "report/render_common.hpp"

namespace kakuren::report {

namespace {

using util::Json;
using util::JsonArray;
using util::JsonObject;

Json opt(const std::optional<double>& v) {
    return v && std::isfinite(*v) ? Json(*v) : Json::null();
}

/// A metric that may have diverged: "nan" / "inf" rather than null (null: none measured).
Json opt_measured(const std::optional<double>& v) {
    return v ? Json::measured(*v) : Json::null();
}

Json text_or_null(const std::string& s) {
    return s.empty() ? Json::null() : Json(s);
}

Json spread_json(const Spread& s) {
    return JsonObject{{"n", s.n}, {"mean", s.mean}, {"std", s.std}, {"olympic", opt(s.olympic)}};
}

Json interval_json(const Interval& i) {
    return JsonObject{{"method", k_interval_method},
                      {"n", i.n},
                      {"mean", i.mean},
                      {"half_width", opt(i.half_width)},
                      {"low", i.half_width ? Json(i.low()) : Json::null()},
                      {"high", i.half_width ? Json(i.high()) : Json::null()}};
}

Json noise_json(const TimingNoise& n) {
    return JsonObject{{"ratio", n.ratio}, {"what", n.what}};
}

/// The headline card, as the text and HTML formats show it.
Json card_json(const Report& report, const SeedGroup& g) {
    const detail::Card c = detail::group_card(report, g);
    JsonArray lines;
    for (const std::string& l : c.lines()) {
        lines.push_back(l);
    }
    return JsonObject{{"title", c.title},
                      {"work_saved", c.work},
                      {"time_ratio", opt(c.time_ratio)},
                      {"time_ratio_reliable", c.time_reliable},
                      {"time", c.time},
                      {"lines", std::move(lines)}};
}

Json group_json(const Report& report, const SeedGroup& g) {
    JsonArray noise;
    for (const TimingNoise& n : g.noise) {
        noise.push_back(noise_json(n));
    }
    return JsonObject{
        {"label", g.label},
        {"short_label", g.short_label},
        {"strategy", g.strategy},
        {"fraction", g.fraction},
        {"runs", JsonArray(g.run_ids.begin(), g.run_ids.end())},
        {"incomplete_runs", JsonArray(g.incomplete_run_ids.begin(), g.incomplete_run_ids.end())},
        {"seeds", JsonArray(g.seeds.begin(), g.seeds.end())},
        {"time_to_train_s", spread_json(g.time_to_train_s)},
        {"final_accuracy", spread_json(g.final_accuracy)},
        {"best_accuracy", spread_json(g.best_accuracy)},
        {"time_to_target_s", g.time_to_target_s ? spread_json(*g.time_to_target_s) : Json()},
        {"intervals",
         JsonObject{{"time_to_train_s", interval_json(g.time_to_train_ci)},
                    {"final_accuracy", interval_json(g.final_accuracy_ci)},
                    {"time_to_target_s",
                     g.time_to_target_ci ? interval_json(*g.time_to_target_ci) : Json::null()}}},
        {"target", JsonObject{{"runs", g.target_runs}, {"reached", g.target_reached}}},
        {"work_saved", JsonObject{{"sgd_steps", g.sgd_steps_saved},
                                  {"sgd_steps_without_hiding", g.sgd_steps_full},
                                  {"backward_passes", g.samples_saved},
                                  {"backward_passes_without_hiding", g.samples_full}}},
        {"baseline_group",
         g.baseline_group ? Json(static_cast<long long>(*g.baseline_group)) : Json::null()},
        {"speedup_total", opt(g.speedup_total)},
        {"time_ratio_reliable", g.time_ratio_reliable()},
        {"timing_noise", std::move(noise)},
        {"accuracy_diff_final", opt(g.accuracy_diff_final)},
        {"card", card_json(report, g)}};
}

Json loss_stats_json(const LossStats& s) {
    return JsonObject{{"count", s.count}, {"mean", s.mean}, {"median", s.median}, {"p10", s.p10},
                      {"p90", s.p90},     {"min", s.min},   {"max", s.max}};
}

/// The run's recipe, as recorded and summarised.
Json recipe_json(const RunReport& r) {
    const RecipeSummary& rc = r.recipe;
    return JsonObject{{"model", rc.model},
                      {"model_kind", rc.model_kind},
                      {"dataset", rc.dataset},
                      {"strategy", rc.strategy},
                      {"fraction", rc.fraction},
                      {"tau", rc.tau},
                      {"seed", rc.seed},
                      {"ranks", r.ranks},
                      {"batch_size", rc.batch_size},
                      {"epochs", rc.epochs},
                      {"target_accuracy", opt(rc.target_accuracy)},
                      {"lr_compensation", rc.lr_compensation},
                      {"refresh_every", rc.refresh_every},
                      {"path", r.run.recipe_path},
                      {"sha256", r.run.recipe_hash},
                      {"validated", rc.validated},
                      {"note", text_or_null(rc.note)}};
}

/// The run's attempts (one per process that ran it).
Json attempts_json(const std::vector<db::AttemptRow>& rows) {
    JsonArray attempts;
    for (const db::AttemptRow& a : rows) {
        attempts.push_back(JsonObject{{"attempt", a.attempt},
                                      {"host", a.host},
                                      {"pid", a.pid},
                                      {"started_at", a.started_at},
                                      {"ended_at", text_or_null(a.ended_at)},
                                      {"status", a.status},
                                      {"reason", text_or_null(a.reason)}});
    }
    return attempts;
}

/// One epoch: the database row and the derived numbers.
Json epoch_json(const EpochPoint& p) {
    const db::EpochRow& e = p.row;
    JsonObject epoch{{"epoch", e.epoch},
                     {"test_accuracy", Json::measured(e.test_accuracy)},
                     {"test_loss", Json::measured(e.test_loss)},
                     {"train_loss", Json::measured(e.train_loss)},
                     {"train_accuracy", Json::measured(e.train_accuracy)},
                     {"lr", e.lr},
                     {"lr_scale", e.lr_scale},
                     {"lr_effective", p.lr_effective},
                     {"requested_fraction", e.max_fraction},
                     {"realised_fraction", p.realised_fraction},
                     {"visible", e.visible},
                     {"hidden", e.hidden},
                     {"moved_back", e.moved_back},
                     {"candidates", e.candidates},
                     {"refreshed", e.refreshed},
                     {"sgd_steps", p.sgd_steps},
                     {"sgd_steps_saved", p.sgd_steps_saved},
                     {"train_s", e.train_s},
                     {"hidden_pass_s", e.hidden_pass_s},
                     {"eval_s", e.eval_s},
                     {"checkpoint_s", opt(p.checkpoint_s)},
                     {"total_s", e.total_s},
                     {"samples_per_s", e.samples_per_s},
                     {"wall_s", p.wall_s}};
    if (e.bytes_read) { // data streamed from disk (npy, hdf5) only
        epoch.emplace_back("bytes_read", static_cast<long long>(*e.bytes_read));
    }
    return epoch;
}

/// The target and when it was reached; null without a target.
Json target_json(const std::optional<TargetResult>& t) {
    if (!t) {
        return Json::null();
    }
    return JsonObject{{"accuracy", t->accuracy},
                      {"source", t->source},
                      {"reached", t->reached},
                      {"epoch", t->reached ? Json(t->epoch) : Json::null()},
                      {"time_s", opt(t->time_s)}};
}

/// Where the time went, in seconds (null: not measured).
Json time_split_json(const TimeSplit& s) {
    return JsonObject{
        {"staging", opt(s.staging_s)},
        {"init", opt(s.init_s)},
        {"train", s.train_s},
        {"hidden_pass", s.hidden_pass_s},
        {"eval", s.eval_s},
        {"checkpoint", opt(s.checkpoint_s)},
        {"other", s.other_s},
        {"communication", opt(s.communication_s)},
        {"bytes_read", s.bytes_read ? Json(static_cast<long long>(*s.bytes_read)) : Json::null()},
        {"total", s.total_s}};
}

/// SGD steps run, without hiding, and saved.
Json sgd_steps_json(const RunReport& r) {
    return JsonObject{{"run", r.sgd_steps_run},
                      {"without_hiding", r.sgd_steps_full},
                      {"saved", r.sgd_steps_saved()},
                      {"saved_fraction", r.sgd_steps_full > 0
                                             ? Json(static_cast<double>(r.sgd_steps_saved()) /
                                                    static_cast<double>(r.sgd_steps_full))
                                             : Json(0.0)}};
}

/// The MLPerf log check: where the log is, whether it passed, its problems and notes.
Json mllog_json(const LogAnalysis& log) {
    JsonArray problems;
    for (const LogProblem& p : log.problems) {
        problems.push_back(JsonObject{{"line", p.line == 0 ? Json::null() : Json(p.line)},
                                      {"message", p.message}});
    }
    return JsonObject{{"path", log.path},
                      {"found", log.found},
                      {"records", static_cast<long long>(log.num_records)},
                      {"ok", log.found && log.problems.empty()},
                      {"run_stop_status", text_or_null(log.run_stop_status)},
                      {"problems", std::move(problems)},
                      {"notes", JsonArray(log.notes.begin(), log.notes.end())}};
}

Json run_json(const RunReport& r) {
    JsonArray epochs;
    for (const EpochPoint& p : r.epochs) {
        epochs.push_back(epoch_json(p));
    }
    return JsonObject{
        {"id", r.run.id},
        {"name", r.run.name},
        {"role", r.role},
        {"status", db::to_string(r.run.status)},
        {"outcome", r.outcome},
        {"reason", text_or_null(r.run.reason)},
        {"created_at", r.run.created_at},
        {"started_at", text_or_null(r.run.started_at)},
        {"ended_at", text_or_null(r.run.ended_at)},
        {"run_dir", r.run.run_dir},
        {"recipe", recipe_json(r)},
        {"attempts", attempts_json(r.attempts)},
        {"num_samples", r.run.num_samples},
        {"epochs_done", static_cast<long long>(r.epochs.size())},
        {"epochs_planned", r.run.num_epochs},
        {"metric", r.run.metric},
        {"final_accuracy", opt_measured(r.run.final_accuracy)},
        {"best_accuracy", opt_measured(r.run.best_accuracy)},
        {"best_epoch", r.best_epoch == 0 ? Json::null() : Json(r.best_epoch)},
        {"time_to_train_s", opt(r.time_to_train_s)},
        {"elapsed_s", opt(r.elapsed_s)},
        {"target", target_json(r.target)},
        {"time_split_s", time_split_json(r.split)},
        {"samples_per_s", r.samples_per_s},
        {"mean_requested_fraction", r.mean_requested_fraction},
        {"mean_realised_fraction", r.mean_realised_fraction},
        {"hidden_total", r.hidden_total},
        {"moved_back_total", r.moved_back_total},
        {"backward_passes", JsonObject{{"run", r.samples_trained},
                                       {"without_hiding", r.samples_full},
                                       {"saved", r.samples_full - r.samples_trained}}},
        {"sgd_steps", sgd_steps_json(r)},
        {"epochs", std::move(epochs)},
        {"mllog", mllog_json(r.log)}};
}

Json samples_json(const SampleReport& s) {
    JsonArray most;
    for (const auto& [id, times] : s.most_hidden) {
        most.push_back(JsonObject{{"sample", id}, {"times", times}});
    }
    JsonObject out{
        {"run_id", s.run_id},
        {"num_samples", s.num_samples},
        {"epochs_recorded", s.epochs_recorded},
        {"times_hidden_histogram", JsonArray(s.histogram.begin(), s.histogram.end())},
        {"most_hidden", std::move(most)},
        {"never_hidden", s.never_hidden},
        {"never_hidden_first", JsonArray(s.never_hidden_first.begin(), s.never_hidden_first.end())},
        {"note", s.note}};
    if (s.have_losses) {
        out.emplace_back(
            "losses",
            JsonObject{{"epoch", s.loss_epoch},
                       {"state_epoch", s.state_epoch},
                       {"hidden", loss_stats_json(s.hidden)},
                       {"visible", loss_stats_json(s.visible)},
                       {"bin_edges", JsonArray(s.loss_bin_edges.begin(), s.loss_bin_edges.end())},
                       {"hidden_histogram",
                        JsonArray(s.loss_hist_hidden.begin(), s.loss_hist_hidden.end())},
                       {"visible_histogram",
                        JsonArray(s.loss_hist_visible.begin(), s.loss_hist_visible.end())}});
    } else {
        out.emplace_back("losses", Json::null());
    }
    return out;
}

} // namespace

util::Json to_json(const Report& report) {
    JsonArray runs;
    for (const RunReport& r : report.runs) {
        runs.push_back(run_json(r));
    }
    JsonArray comparisons;
    for (const Comparison& c : report.comparisons) {
        comparisons.push_back(
            JsonObject{{"run", c.run_id},
                       {"baseline", c.baseline_id},
                       {"automatic", c.automatic},
                       {"same_seed", c.same_seed},
                       {"speedup_total", opt(c.speedup_total)},
                       {"time_saved_s", opt(c.time_saved_s)},
                       {"speedup_to_target", opt(c.speedup_to_target)},
                       {"accuracy_diff_final", opt(c.accuracy_diff_final)},
                       {"accuracy_diff_best", opt(c.accuracy_diff_best)},
                       {"timing_noise", c.noise ? noise_json(*c.noise) : Json::null()}});
    }
    JsonArray groups;
    for (const SeedGroup& g : report.groups) {
        groups.push_back(group_json(report, g));
    }
    JsonArray samples;
    for (const SampleReport& s : report.samples) {
        samples.push_back(samples_json(s));
    }
    return JsonObject{{"kakuren_report", k_json_version},
                      {"generated_at", report.generated_at},
                      {"workspace", report.workspace},
                      {"target_accuracy", opt(report.target_override)},
                      {"runs", std::move(runs)},
                      {"comparisons", std::move(comparisons)},
                      {"groups", std::move(groups)},
                      {"samples", std::move(samples)},
                      {"notes", JsonArray(report.notes.begin(), report.notes.end())},
                      {"tunes", tune_sections_json(report.tunes)}};
}

std::string render_json(const Report& report) {
    return to_json(report).dump_pretty() + "\n";
}

} // namespace kakuren::report

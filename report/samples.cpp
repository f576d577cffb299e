// build_samples: the per-sample view of one run (how often each sample was hidden, and the
// losses of hidden vs visible samples).
#include <algorithm>
#include <cmath>
#include <span>

#include "report/report.hpp"
#include "util/error.hpp"

namespace kakuren::report {

namespace {

double quantile_sorted(const std::vector<float>& sorted, double q) {
    if (sorted.empty()) {
        return 0;
    }
    const double pos = q * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
    const double frac = pos - static_cast<double>(lo);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

LossStats loss_stats(std::vector<float> values) {
    LossStats s;
    s.count = static_cast<std::int64_t>(values.size());
    if (values.empty()) {
        return s;
    }
    std::sort(values.begin(), values.end());
    double sum = 0;
    for (const float v : values) {
        sum += v;
    }
    s.mean = sum / static_cast<double>(values.size());
    s.median = quantile_sorted(values, 0.5);
    s.p10 = quantile_sorted(values, 0.1);
    s.p90 = quantile_sorted(values, 0.9);
    s.min = values.front();
    s.max = values.back();
    return s;
}

/// The epoch whose hidden set splits the losses: epoch, else the latest recorded (0 without
/// epochs). Throws UsageError for an epoch that is not recorded.
int split_epoch_of(const RunReport& run, int epoch) {
    if (epoch != 0 && std::none_of(run.epochs.begin(), run.epochs.end(),
                                   [&](const EpochPoint& p) { return p.row.epoch == epoch; })) {
        throw UsageError("run " + run.run.id + " has no epoch " + std::to_string(epoch) +
                         " recorded (epochs done: " + std::to_string(run.epochs.size()) + ")");
    }
    return epoch != 0 ? epoch : (run.epochs.empty() ? 0 : run.epochs.back().row.epoch);
}

/// Counts each sample's hidden epochs into s.times_hidden; returns split_epoch's hidden set.
std::vector<std::int64_t> count_hidden(const db::Store& store, const RunReport& run,
                                       int split_epoch, SampleReport& s) {
    const std::size_t n = s.times_hidden.size();
    std::vector<std::int64_t> split_ids;
    for (const EpochPoint& p : run.epochs) {
        const auto ids = store.hidden_set(run.run.id, p.row.epoch);
        if (!ids) {
            continue;
        }
        for (const std::int64_t id : *ids) {
            if (id >= 0 && static_cast<std::size_t>(id) < n) {
                ++s.times_hidden[static_cast<std::size_t>(id)];
            }
        }
        if (p.row.epoch == split_epoch) {
            split_ids = *ids;
        }
    }
    return split_ids;
}

/// From s.times_hidden: the histogram of times hidden and the never-hidden samples.
void fill_hidden_histogram(SampleReport& s) {
    const std::size_t n = s.times_hidden.size();
    s.histogram.assign(static_cast<std::size_t>(s.epochs_recorded) + 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t k = std::min<std::size_t>(s.times_hidden[i], s.histogram.size() - 1);
        ++s.histogram[k];
        if (s.times_hidden[i] == 0) {
            ++s.never_hidden;
            if (s.never_hidden_first.size() < 10) {
                s.never_hidden_first.push_back(static_cast<std::int64_t>(i));
            }
        }
    }
}

/// From s.times_hidden: the ten samples hidden most often (ties by id).
void fill_most_hidden(SampleReport& s) {
    const std::size_t n = s.times_hidden.size();
    std::vector<std::int64_t> order;
    for (std::size_t i = 0; i < n; ++i) {
        if (s.times_hidden[i] > 0) {
            order.push_back(static_cast<std::int64_t>(i));
        }
    }
    const std::size_t top = std::min<std::size_t>(10, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                      [&](std::int64_t a, std::int64_t b) {
                          const auto ca = s.times_hidden[static_cast<std::size_t>(a)];
                          const auto cb = s.times_hidden[static_cast<std::size_t>(b)];
                          return ca != cb ? ca > cb : a < b;
                      });
    for (std::size_t i = 0; i < top; ++i) {
        s.most_hidden.emplace_back(order[i], s.times_hidden[static_cast<std::size_t>(order[i])]);
    }
}

/// The latest losses split by the hidden set: per-sample flags and the two sides' statistics.
void split_losses(SampleReport& s, std::span<const float> loss,
                  const std::vector<std::int64_t>& split_ids) {
    const std::size_t n = loss.size();
    std::vector<char> hidden(n, 0);
    for (const std::int64_t id : split_ids) {
        if (id >= 0 && static_cast<std::size_t>(id) < n) {
            hidden[static_cast<std::size_t>(id)] = 1;
        }
    }
    std::vector<float> hidden_losses, visible_losses;
    hidden_losses.reserve(split_ids.size());
    visible_losses.reserve(n - std::min(n, split_ids.size()));
    for (std::size_t i = 0; i < n; ++i) {
        (hidden[i] != 0 ? hidden_losses : visible_losses).push_back(loss[i]);
    }
    s.latest_loss.assign(loss.begin(), loss.end());
    s.hidden_in_loss_epoch.assign(hidden.begin(), hidden.end());
    s.hidden = loss_stats(hidden_losses);
    s.visible = loss_stats(visible_losses);
}

/// 20 bins from 0 to the 99th percentile of all losses; the last bin holds the tail above.
void fill_loss_histograms(SampleReport& s) {
    const std::vector<float>& loss = s.latest_loss;
    const std::size_t n = loss.size();
    std::vector<float> all(loss.begin(), loss.end());
    const std::size_t p99 = all.empty() ? 0 : (all.size() - 1) * 99 / 100;
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(p99), all.end());
    double hi = all.empty() ? 1.0 : static_cast<double>(all[p99]);
    if (!std::isfinite(hi) || hi <= 0) {
        hi = 1.0;
    }
    constexpr int k_bins = 20;
    for (int b = 0; b <= k_bins; ++b) {
        s.loss_bin_edges.push_back(hi * b / k_bins);
    }
    s.loss_hist_hidden.assign(k_bins, 0);
    s.loss_hist_visible.assign(k_bins, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const double v = loss[i];
        int b = std::isfinite(v) ? static_cast<int>(v / hi * k_bins) : k_bins - 1;
        b = std::clamp(b, 0, k_bins - 1);
        ++(s.hidden_in_loss_epoch[i] != 0 ? s.loss_hist_hidden
                                          : s.loss_hist_visible)[static_cast<std::size_t>(b)];
    }
}

} // namespace

SampleReport build_samples(const db::Store& store, const RunReport& run, int epoch) {
    SampleReport s;
    s.run_id = run.run.id;
    s.num_samples = run.run.num_samples;
    s.epochs_recorded = static_cast<int>(run.epochs.size());
    const auto n = static_cast<std::size_t>(std::max<std::int64_t>(s.num_samples, 0));
    s.times_hidden.assign(n, 0);
    const int split_epoch = split_epoch_of(run, epoch);
    const std::vector<std::int64_t> split_ids = count_hidden(store, run, split_epoch, s);
    fill_hidden_histogram(s);
    fill_most_hidden(s);

    int state_epoch = 0;
    const std::optional<util::SampleStats> state = store.sample_state(run.run.id, &state_epoch);
    if (!state || state->size() != n || split_epoch == 0) {
        s.note = "no per-sample losses are recorded for this run yet";
        return s;
    }
    s.have_losses = true;
    s.loss_epoch = split_epoch;
    s.state_epoch = state_epoch;
    s.note = "the database keeps only the latest per-sample losses (recorded after epoch " +
             std::to_string(state_epoch) + "); they are split by the hidden set of epoch " +
             std::to_string(split_epoch);
    split_losses(s, state->loss(), split_ids);
    fill_loss_histograms(s);
    return s;
}

} // namespace kakuren::report

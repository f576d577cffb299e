#include "cli/progress.hpp"

#include <cmath>

#include "cli/text.hpp"

namespace kakuren::cli {

void ProgressMeter::add(const trainer::StepProgress& p) {
    if (!m_any || p.phase != m_last.phase || p.epoch != m_last.epoch) {
        m_points.clear();
    }
    m_points.push_back(Point{p.elapsed_s, p.step, p.samples});
    // Keep one report at or before the window's start as the anchor, so that the rate spans
    // the whole window rather than the newest few reports.
    while (m_points.size() > 2 && m_points[1].t <= p.elapsed_s - m_window_s) {
        m_points.pop_front();
    }
    m_last = p;
    m_any = true;
}

void ProgressMeter::epoch_done(const trainer::EpochResult& r) {
    m_last_train_s = r.train_s;
    m_last_refresh_s = r.hidden_pass_s;
    m_last_eval_s = r.eval_s;
    m_done_s += r.total_s;
    m_done += 1;
    m_epoch_start_t = m_any ? m_last.elapsed_s : m_epoch_start_t;
}

double ProgressMeter::samples_per_s() const {
    if (m_points.size() >= 2) {
        const Point& a = m_points.front();
        const Point& b = m_points.back();
        if (b.t > a.t) {
            return static_cast<double>(b.samples - a.samples) / (b.t - a.t);
        }
    }
    return m_any ? m_last.samples_per_s : 0.0;
}

double ProgressMeter::steps_per_s() const {
    if (m_points.size() >= 2) {
        const Point& a = m_points.front();
        const Point& b = m_points.back();
        if (b.t > a.t && b.step > a.step) {
            return static_cast<double>(b.step - a.step) / (b.t - a.t);
        }
    }
    // One report: the phase's average, its seconds so far being samples / average rate.
    if (m_any && m_last.samples > 0 && m_last.samples_per_s > 0) {
        const double phase_s = static_cast<double>(m_last.samples) / m_last.samples_per_s;
        return static_cast<double>(m_last.step) / phase_s;
    }
    return 0.0;
}

std::optional<double> ProgressMeter::epoch_eta_s() const {
    if (!m_any) {
        return std::nullopt;
    }
    double left = 0;
    if (m_last.step < m_last.num_steps) {
        const double rate = steps_per_s();
        if (rate <= 0) {
            return std::nullopt;
        }
        left = static_cast<double>(m_last.num_steps - m_last.step) / rate;
    }
    if (m_last.phase == "train") {
        left += m_last_refresh_s + m_last_eval_s;
    } else if (m_last.phase == "refresh") {
        left += m_last_eval_s;
    }
    return left;
}

std::optional<double> ProgressMeter::run_eta_s() const {
    const std::optional<double> epoch = epoch_eta_s();
    if (!epoch) {
        return std::nullopt;
    }
    const double per_epoch =
        m_done > 0 ? m_done_s / m_done : (m_last.elapsed_s - m_epoch_start_t) + *epoch;
    const int later = std::max(0, m_last.num_epochs - m_last.epoch);
    return *epoch + per_epoch * later;
}

std::string ProgressMeter::text() const {
    std::string out = thousands(std::llround(samples_per_s())) + " samples/s";
    if (m_any && m_last.has_loss) {
        out += "  loss " + fixed(m_last.loss_mean, 4);
    }
    const auto eta = [](const std::optional<double>& s) { return s ? duration(*s) : "?"; };
    return out + "  epoch eta " + eta(epoch_eta_s()) + ", run eta " + eta(run_eta_s());
}

} // namespace kakuren::cli

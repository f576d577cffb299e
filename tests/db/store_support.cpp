#include "store_support.hpp"

#include "support/db_rows.hpp"

namespace kakuren::db::store_support {

RunRow make_run(const std::string& id, const std::string& created_at) {
    return kakuren::testing::run_row(id, created_at);
}

EpochRow make_epoch(const std::string& run_id, int epoch, double test_accuracy,
                    std::int64_t hidden) {
    EpochRow row;
    row.run_id = run_id;
    row.epoch = epoch;
    row.train_loss = 0.5 / epoch;
    row.train_accuracy = 0.8;
    row.test_loss = 0.4;
    row.test_accuracy = test_accuracy;
    row.lr = 0.05;
    row.lr_scale = 1.25;
    row.max_fraction = 0.3;
    row.visible = 10 - hidden;
    row.hidden = hidden;
    row.moved_back = 1;
    row.candidates = hidden + 1;
    row.refreshed = hidden;
    row.train_s = 1.5;
    row.hidden_pass_s = 0.25;
    row.eval_s = 0.5;
    row.total_s = 2.25;
    row.samples_per_s = 1234.5;
    row.ended_at = "2026-11-26T15:08:00.000Z";
    return row;
}

util::SampleStats make_state(std::int64_t n) {
    std::vector<float> loss, confidence;
    std::vector<std::uint8_t> correct;
    for (std::int64_t i = 0; i < n; ++i) {
        loss.push_back(static_cast<float>(i) * 0.25f);
        correct.push_back(static_cast<std::uint8_t>(i % 2));
        confidence.push_back(1.0f / static_cast<float>(i + 1));
    }
    return {std::move(loss), std::move(correct), std::move(confidence)};
}

} // namespace kakuren::db::store_support
